"""OverdueFollowUp workflow: a collections run across three legacy systems.

1. ERP (SOAP): every overdue invoice, paged; the `max_invoices` largest by amount due are followed
   up (amounts are compared as numbers across currencies: a triage order, not a valuation).
2. ERP: the customer behind each invoice.
3. CRM (REST, OAuth2): the account whose `ledger_customer_id` is that customer.
4. Warehouse (SQL, Northwind): open (unshipped) orders for the customer, when the input maps the
   ERP customer to a warehouse customer id.
5. CRM: a note on the account summarising the above — a WRITE, so it waits for approval by
   default; a rejected note is reported, not fatal.

Updates / signals / queries: the approval handlers every Retrofit workflow has.
Timeouts: per action (the connectors) and per approval (the policy).
"""

from __future__ import annotations

from temporalio import workflow

from connectors.crm.models import AccountList, AddNote, Note, SearchAccounts
from connectors.erp.models import ErpCustomer, GetCustomer, Invoice, InvoicePage, ListInvoices
from connectors.northwind.models import ListOrders, OrderList
from retrofit.gate import ActionRejectedError, run_action
from workflows.overdue_follow_up.models import FollowUp, FollowUpInput, FollowUpResult

MAX_PAGES = 20


@workflow.defn(name="OverdueFollowUp")
class OverdueFollowUp:
    @workflow.run
    async def run(self, req: FollowUpInput) -> FollowUpResult:
        workflow.set_current_details("Reading overdue invoices from the ERP")
        overdue = await self._overdue_invoices(req.min_days_overdue)
        chosen = sorted(overdue, key=lambda i: (-i.amount_due, i.id))[: req.max_invoices]
        follow_ups = [await self._follow_up(invoice, req) for invoice in chosen]
        workflow.set_current_details(
            f"Done: {len(follow_ups)} follow-ups, "
            f"{sum(1 for f in follow_ups if f.note == 'added')} notes added"
        )
        return FollowUpResult(follow_ups=follow_ups, overdue_invoices_seen=len(overdue))

    async def _overdue_invoices(self, min_days: int) -> list[Invoice]:
        invoices: list[Invoice] = []
        page: int | None = 1
        while page is not None and page <= MAX_PAGES:
            result = await run_action(
                "erp.list_invoices",
                ListInvoices(overdue_only=True, page=page, page_size=100),
                returns=InvoicePage,
            )
            invoices += [i for i in result.invoices if i.days_overdue >= min_days]
            page = result.next_page
        return invoices

    async def _follow_up(self, invoice: Invoice, req: FollowUpInput) -> FollowUp:
        workflow.set_current_details(f"Following up invoice {invoice.id} of {invoice.customer_id}")
        customer = await run_action(
            "erp.get_customer", GetCustomer(customer_id=invoice.customer_id), returns=ErpCustomer
        )
        follow_up = FollowUp(
            invoice_id=invoice.id,
            customer_id=customer.id,
            customer_name=customer.name,
            amount_due=invoice.amount_due,
            currency=invoice.currency,
            days_overdue=invoice.days_overdue,
        )
        accounts = await run_action(
            "crm.search_accounts", SearchAccounts(query=customer.name[:100]), returns=AccountList
        )
        account = next((a for a in accounts.items if a.ledger_customer_id == customer.id), None)
        warehouse_id = req.warehouse_customers.get(customer.id)
        if warehouse_id is not None:
            orders = await run_action(
                "northwind.list_orders",
                ListOrders(customer_id=warehouse_id, shipped=False, limit=100),
                returns=OrderList,
            )
            follow_up.open_warehouse_orders = len(orders.orders)
        if account is None:
            return follow_up
        follow_up.crm_account_id = account.id
        warehouse = (
            f" {follow_up.open_warehouse_orders} open warehouse order(s) to hold until paid."
            if follow_up.open_warehouse_orders
            else ""
        )
        try:
            note = await run_action(
                "crm.add_note",
                AddNote(
                    account_id=account.id,
                    body=(
                        f"Collections: invoice {invoice.id} is {invoice.days_overdue} days overdue, "
                        f"{invoice.amount_due} {invoice.currency} due.{warehouse}"
                    ),
                ),
                returns=Note,
            )
        except ActionRejectedError:
            follow_up.note = "rejected"
            return follow_up
        follow_up.note_id = note.id
        follow_up.note = "added"
        return follow_up
