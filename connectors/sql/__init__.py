"""The SQL connector base: a legacy system reached through its database with SQLAlchemy asyncio.

    from sqlalchemy import select, update
    from connectors.sql import SqlConnector, SqlSettings, SqlTransaction

    class AcmeSettings(SqlSettings):                 # RETROFIT_ACME_URL, RETROFIT_ACME_ROW_LIMIT, ...
        url: SecretStr = SecretStr("sqlite:///acme.sqlite")

    class Acme(SqlConnector):
        \"\"\"Acme ERP, through its database.\"\"\"
        name = "acme"
        Settings = AcmeSettings
        tables = ("Customers",)

        @action(effect=Effect.READ)
        async def get_customer(self, req: GetCustomer) -> Customer:
            \"\"\"Fetch one customer by id.\"\"\"
            customers = await self.table("Customers")
            row = await self.fetch_one(select(customers).where(customers.c.CustomerID == req.id))
            ...

        @action(effect=Effect.WRITE)
        async def rename(self, req: Rename) -> Customer:
            \"\"\"Rename a customer.\"\"\"
            return await self.write(self._rename, req, returns=Customer)

        async def _rename(self, tx: SqlTransaction, req: Rename) -> Customer:
            customers = await self.table("Customers")
            await tx.execute(update(customers).where(...).values(...), expect_rows=1)
            ...

Modules: `settings` (SqlSettings), `url` (driver choice, masked display), `engine` (the one pooled
engine and its timeouts), `statements` (row limits, rows-affected checks), `idempotency` (the
write record), `reflection` and `legacy_types` (legacy schemas), `errors` (the one error mapping),
`capture` (what the audit trail records per statement), `connector` (SqlConnector).
"""

from connectors.sql.connector import SqlConnector
from connectors.sql.errors import (
    IdempotencyKeyReused,
    NoRowsMatched,
    RowCountError,
    TooManyRowsMatched,
    map_db_error,
)
from connectors.sql.settings import SqlSettings
from connectors.sql.statements import RowPage, SqlTransaction, StatementRunner
from connectors.sql.url import DatabaseUrlError, display_url, engine_url

__all__ = [
    "DatabaseUrlError",
    "IdempotencyKeyReused",
    "NoRowsMatched",
    "RowCountError",
    "RowPage",
    "SqlConnector",
    "SqlSettings",
    "SqlTransaction",
    "StatementRunner",
    "TooManyRowsMatched",
    "display_url",
    "engine_url",
    "map_db_error",
]
