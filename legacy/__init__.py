"""The demo legacy systems: real servers the project runs on loopback.

They stand in for the ERP/CRM systems a customer would already own, so the demo and the connector
tests exercise real HTTP (and, for the other systems, real SOAP envelopes and real SQL) instead of
mocks. Each one carries an `/_admin/` control plane that tests use to inject faults and to count
applied effects; a production legacy system has nothing of the kind.

Shared by all three servers: `serving` (uvicorn on a background thread or in the foreground, on
loopback) and `faults` (latency and dropped connections, the fault plan's request body).
"""
