"""The `retrofit` command line: dev stack, worker, start, connectors, audit."""
