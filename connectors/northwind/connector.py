"""The Northwind connector: the demo SQL legacy database (`legacy/sqldb`) as typed actions.

Column and table names are Northwind's own (`CustomerID`, "Order Details"); every statement is
SQLAlchemy Core over reflected tables, so identifiers are quoted by SQLAlchemy and every value is a
bound parameter.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, ClassVar

from pydantic import SecretStr
from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    Table,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    update,
)

from connectors.northwind.models import (
    Customer,
    CustomerList,
    DeletedOrder,
    DeleteOrder,
    FindCustomers,
    GetCustomer,
    GetOrder,
    ListOrders,
    Order,
    OrderLine,
    OrderList,
    OrderSummary,
    ShipOrder,
    UpdateCustomerContact,
)
from connectors.sql import SqlConnector, SqlSettings, SqlTransaction
from retrofit.sdk import ActionInputError, ConnectorSettings, Effect, action

# Model field -> Customers column.
_CUSTOMER_COLUMNS = {
    "customer_id": "CustomerID",
    "company_name": "CompanyName",
    "contact_name": "ContactName",
    "contact_title": "ContactTitle",
    "address": "Address",
    "city": "City",
    "region": "Region",
    "postal_code": "PostalCode",
    "country": "Country",
    "phone": "Phone",
    "fax": "Fax",
}


class NorthwindSettings(SqlSettings):
    """`RETROFIT_NORTHWIND_URL` and the other `SqlSettings`; the default is the demo working copy."""

    url: SecretStr = SecretStr("sqlite:///.retrofit/demo/northwind.sqlite")


class NorthwindConnector(SqlConnector):
    """Northwind Traders (SQL): customers, their orders with order lines and totals, and shipping."""

    name = "northwind"
    Settings: ClassVar[type[ConnectorSettings]] = NorthwindSettings
    tables: ClassVar[tuple[str, ...]] = ("Customers", "Orders", "Order Details", "Products", "Shippers")

    _customer_statement: Select[Any] | None = None

    # -- reads ----------------------------------------------------------------------------------

    @action(effect=Effect.READ)
    async def get_customer(self, req: GetCustomer) -> Customer:
        """Look up one Northwind customer by its id (e.g. "ALFKI"): company, contact person, address and phone."""
        return await self._customer(req.customer_id)

    @action(effect=Effect.READ)
    async def find_customers(self, req: FindCustomers) -> CustomerList:
        """Search customers whose company or contact name contains the given text, optionally in one country."""
        customers = await self.table("Customers")
        conditions: list[ColumnElement[bool]] = [
            or_(
                # icontains, not contains: SQLite's LIKE ignores case, PostgreSQL's does not, and
                # the search must answer the same on both (lower() LIKE on SQLite, ILIKE on PostgreSQL).
                customers.c.CompanyName.icontains(req.name_contains, autoescape=True),
                customers.c.ContactName.icontains(req.name_contains, autoescape=True),
            )
        ]
        if req.country is not None:
            conditions.append(customers.c.Country == req.country)
        statement = (
            select(*_customer_columns(customers))
            .where(*conditions)
            .order_by(customers.c.CompanyName, customers.c.CustomerID)
        )
        page = await self.fetch_rows(statement, limit=req.limit)
        return CustomerList(
            customers=[Customer.model_validate(dict(row)) for row in page], truncated=page.truncated
        )

    @action(effect=Effect.READ)
    async def list_orders(self, req: ListOrders) -> OrderList:
        """List a customer's orders, newest first, each with its dates, freight, number of lines and total value."""
        orders = await self.table("Orders")
        statement = (await self._summaries()).where(orders.c.CustomerID == req.customer_id)
        if req.shipped is True:
            statement = statement.where(orders.c.ShippedDate.is_not(None))
        elif req.shipped is False:
            statement = statement.where(orders.c.ShippedDate.is_(None))
        # NULLS LAST spelled out: SQLite sorts NULL lowest and PostgreSQL highest, so a bare DESC
        # would put undated orders last on one and first on the other.
        statement = statement.order_by(orders.c.OrderDate.desc().nulls_last(), orders.c.OrderID.desc())
        page = await self.fetch_rows(statement, limit=req.limit)
        if not page.rows:
            await self._customer(req.customer_id)  # an unknown customer is an error, not "no orders"
        return OrderList(
            customer_id=req.customer_id,
            orders=[OrderSummary.model_validate(dict(row)) for row in page],
            truncated=page.truncated,
        )

    @action(effect=Effect.READ)
    async def get_order(self, req: GetOrder) -> Order:
        """Fetch one order by its number (e.g. 10248): dates, shipping address, totals and every order line with its product."""
        orders = await self.table("Orders")
        statement = (
            (await self._summaries())
            .add_columns(
                orders.c.ShipName.label("ship_name"),
                orders.c.ShipCity.label("ship_city"),
                orders.c.ShipCountry.label("ship_country"),
            )
            .where(orders.c.OrderID == req.order_id)
        )
        row = await self.fetch_one(statement, what=f"order {req.order_id}")
        if row is None:
            raise ActionInputError(f"northwind has no order {req.order_id}")
        details = await self.table("Order Details")
        products = await self.table("Products")
        line_rows = await self.fetch_rows(
            select(
                details.c.ProductID.label("product_id"),
                products.c.ProductName.label("product_name"),
                details.c.UnitPrice.label("unit_price"),
                details.c.Quantity.label("quantity"),
                details.c.Discount.label("discount"),
                func.round(_line_total(details), 2).label("line_total"),
            )
            .select_from(details.outerjoin(products, products.c.ProductID == details.c.ProductID))
            .where(details.c.OrderID == req.order_id)
            .order_by(details.c.ProductID)
        )
        return Order(
            summary=OrderSummary.model_validate(dict(row)),
            ship_name=row["ship_name"],
            ship_city=row["ship_city"],
            ship_country=row["ship_country"],
            lines=[OrderLine.model_validate(dict(line)) for line in line_rows],
        )

    # -- writes ---------------------------------------------------------------------------------

    @action(effect=Effect.WRITE, compensate="update_customer_contact")
    async def update_customer_contact(self, req: UpdateCustomerContact) -> Customer:
        """Change a customer's contact person (name, and optionally title and phone); returns the updated customer."""
        return await self.write(self._update_contact, req, returns=Customer)

    @action(effect=Effect.WRITE)
    async def ship_order(self, req: ShipOrder) -> OrderSummary:
        """Mark an open order as shipped on the given date, optionally with the shipper used (Shippers id)."""
        return await self.write(self._ship, req, returns=OrderSummary)

    @action(effect=Effect.DESTRUCTIVE)
    async def delete_order(self, req: DeleteOrder) -> DeletedOrder:
        """Permanently delete an order together with all its order lines; this cannot be undone."""
        return await self.write(self._delete_order, req, returns=DeletedOrder)

    # -- what the writes do, inside their transaction -----------------------------------------

    async def _update_contact(self, tx: SqlTransaction, req: UpdateCustomerContact) -> Customer:
        customers = await self.table("Customers")
        values: dict[str, Any] = {"ContactName": req.contact_name}
        if req.contact_title is not None:
            values["ContactTitle"] = req.contact_title
        if req.phone is not None:
            values["Phone"] = req.phone
        await tx.execute(
            update(customers).where(customers.c.CustomerID == req.customer_id).values(values),
            expect_rows=1,
            what=f"customer {req.customer_id!r}",
        )
        return await self._customer(req.customer_id, within=tx)

    async def _ship(self, tx: SqlTransaction, req: ShipOrder) -> OrderSummary:
        orders = await self.table("Orders")
        current = await tx.fetch_one(select(orders.c.ShippedDate).where(orders.c.OrderID == req.order_id))
        if current is None:
            raise ActionInputError(f"northwind has no order {req.order_id}")
        if current["ShippedDate"] is not None:
            raise ActionInputError(f"order {req.order_id} was already shipped on {current['ShippedDate']}")
        values: dict[str, Any] = {"ShippedDate": datetime.combine(req.shipped_date, time())}
        if req.ship_via is not None:
            shippers = await self.table("Shippers")
            known = await tx.fetch_one(
                select(shippers.c.ShipperID).where(shippers.c.ShipperID == req.ship_via)
            )
            if known is None:
                raise ActionInputError(f"northwind has no shipper {req.ship_via}")
            values["ShipVia"] = req.ship_via
        await tx.execute(
            # `ShippedDate IS NULL` again: the check above and the write must agree even if the
            # row changed in between (on databases without SQLite's up-front write lock).
            update(orders)
            .where(orders.c.OrderID == req.order_id, orders.c.ShippedDate.is_(None))
            .values(values),
            expect_rows=1,
            what=f"open order {req.order_id}",
        )
        summary = await tx.fetch_one((await self._summaries()).where(orders.c.OrderID == req.order_id))
        return OrderSummary.model_validate(dict(summary or {}))

    async def _delete_order(self, tx: SqlTransaction, req: DeleteOrder) -> DeletedOrder:
        orders = await self.table("Orders")
        details = await self.table("Order Details")
        lines = await tx.execute(
            delete(details).where(details.c.OrderID == req.order_id),
            # A safety net for a destructive statement: never more lines than one read may return.
            expect_rows=range(0, self.settings.row_limit + 1),
            what=f"lines of order {req.order_id}",
        )
        await tx.execute(
            delete(orders).where(orders.c.OrderID == req.order_id),
            expect_rows=1,
            what=f"order {req.order_id}",
        )
        return DeletedOrder(order_id=req.order_id, deleted_lines=lines.rowcount, deleted=True)

    # -- statements shared by several actions -----------------------------------------------------

    async def _customer(self, customer_id: str, *, within: SqlTransaction | None = None) -> Customer:
        """One customer, read on its own or inside a write's transaction."""
        runner: SqlConnector | SqlTransaction = within or self
        row = await runner.fetch_one(
            await self._customer_by_id(), {"customer_id": customer_id}, what=f"customer {customer_id!r}"
        )
        if row is None:
            raise ActionInputError(f"northwind has no customer {customer_id!r}")
        return Customer.model_validate(dict(row))

    async def _customer_by_id(self) -> Select[Any]:
        """Customers by `customer_id` (a bound parameter), built once and reused."""
        # The busiest statement: a reused statement object skips SQLAlchemy's per-call
        # construction and cache-key work.
        if self._customer_statement is None:
            customers = await self.table("Customers")
            self._customer_statement = select(*_customer_columns(customers)).where(
                customers.c.CustomerID == bindparam("customer_id")
            )
        return self._customer_statement

    async def _summaries(self) -> Select[Any]:
        """Orders with their line count and total, one row per order (filter and order it further)."""
        orders = await self.table("Orders")
        details = await self.table("Order Details")
        return (
            select(
                orders.c.OrderID.label("order_id"),
                orders.c.CustomerID.label("customer_id"),
                orders.c.OrderDate.label("order_date"),
                orders.c.RequiredDate.label("required_date"),
                orders.c.ShippedDate.label("shipped_date"),
                orders.c.ShipVia.label("ship_via"),
                orders.c.Freight.label("freight"),
                func.count(details.c.ProductID).label("lines"),
                func.coalesce(func.round(func.sum(_line_total(details)), 2), 0).label("total"),
            )
            .select_from(orders.outerjoin(details, details.c.OrderID == orders.c.OrderID))
            .group_by(orders.c.OrderID)
        )


def _customer_columns(customers: Table) -> list[ColumnElement[Any]]:
    return [customers.c[column].label(field) for field, column in _CUSTOMER_COLUMNS.items()]


def _line_total(details: Table) -> ColumnElement[Any]:
    # Discount is a REAL/DOUBLE column; cast to NUMERIC the product stays NUMERIC, which
    # PostgreSQL's round(numeric, int) needs (there is no round(double precision, int)) and which
    # keeps money exact there. SQLite's CAST(... AS NUMERIC) leaves these values as they are.
    return details.c.UnitPrice * details.c.Quantity * (1 - cast(details.c.Discount, Numeric))
