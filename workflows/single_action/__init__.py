"""SingleAction: run one named action through the gate (an ops and business-user tool)."""
