"""The demo ERP: a SOAP 1.1 accounts-receivable system (customers, invoices, payments).

- `wsdl`       — the WSDL it publishes at `GET /erp?wsdl` (document/literal)
- `envelopes`  — reading SOAP requests, writing answers and faults
- `security`   — WS-Security UsernameToken checking
- `operations` — GetCustomer, ListInvoices, GetInvoice, RecordPayment, ReversePayment, VoidInvoice
- `store`      — in-memory state: seed data, idempotency table, effect counts, fault plan
- `app`        — the Starlette application, including the `/_admin/` control plane
- `server`     — `ErpServer` (a thin wrapper around `retrofit.http_serving`) and `python -m legacy.erp.server`

Modules are not re-exported here, so `python -m legacy.erp.server` does not import twice.
"""
