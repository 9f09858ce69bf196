"""Test kits for integrators: the connector conformance suite."""

from retrofit.testing.conformance import (
    CallCase,
    Cases,
    ConformanceRun,
    ConnectorConformance,
    ErrorCase,
    WriteCase,
    Written,
)

__all__ = ["CallCase", "Cases", "ConformanceRun", "ConnectorConformance", "ErrorCase", "WriteCase", "Written"]
