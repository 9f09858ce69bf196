"""The demo ledger: a small REST customer ledger with API-key auth and Idempotency-Key support.

- `store`  — in-memory state: seeded customers, notes, the idempotency table, applied-write counts
  and the fault plan.
- `app`    — the Starlette application (`create_app`), including the `/_admin/` control plane.
- `server` — `LedgerServer` (a thin wrapper around `retrofit.http_serving`) for tests, and
  `python -m legacy.ledger.server` for the foreground.

The modules are deliberately not re-exported here: `python -m legacy.ledger.server` would otherwise
import `server` twice and Python warns about that.
"""
