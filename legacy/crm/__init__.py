"""The demo CRM: a REST CRM with OAuth2 client credentials, three pagination styles and faults.

- `records`  — accounts, contacts and notes as the API renders them; `seed` — the seed data.
- `store`    — in-memory state: records, the idempotency table, counters, tokens, the fault plan.
- `tokens`   — issued OAuth2 access tokens (lifetime, lookup, revocation).
- `faults`   — the fault plan and the ASGI middleware that applies it.
- `app`      — the Starlette application (`create_app`), its API documented in its docstring.
- `server`   — `CrmServer` (a thin wrapper around `retrofit.http_serving`) for tests, and
  `python -m legacy.crm.server` for the foreground.

Nothing is re-exported here: `python -m legacy.crm.server` would otherwise import `server` twice.
"""
