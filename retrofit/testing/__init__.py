"""Test kits for integrators: the connector conformance suite."""

from retrofit.testing.conformance import CallCase, Cases, ConnectorConformance, ErrorCase, WriteCase

__all__ = ["CallCase", "Cases", "ConnectorConformance", "ErrorCase", "WriteCase"]
