"""Activity side: every I/O the gate needs (connector calls, audit writes) runs here."""
