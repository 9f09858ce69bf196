"""An integrator's workflow (any class the registry loads) appears with a generated form, no page code."""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import workflow

from retrofit.web.catalog import build_catalog
from retrofit.web.forms import FormErrors, form_fields, render_fields, validate_form


class RefundInput(BaseModel):
    order_id: str = Field(pattern=r"^O-\d+$", description="the order")
    amount: int = Field(gt=0, le=500)


@workflow.defn(name="IntegratorRefund")
class IntegratorRefund:
    """Refund an order, up to 500."""

    @workflow.run
    async def run(self, arg: RefundInput) -> str:
        return arg.order_id


def test_an_added_workflow_gets_a_working_form_and_raw_ones_are_hidden() -> None:
    from workflows.agent_task.workflow import AgentTask

    catalog = build_catalog([IntegratorRefund, AgentTask], templates_file=None)
    assert list(catalog) == ["wf:IntegratorRefund"]
    entry = catalog["wf:IntegratorRefund"]
    assert entry.description == "Refund an order, up to 500."
    fields = form_fields(entry.schema())
    html = str(render_fields(fields))
    assert 'name="order_id"' in html and 'name="amount"' in html
    bad = validate_form(entry.model, fields, {"order_id": "O-1", "amount": "900"})
    assert isinstance(bad, FormErrors) and set(bad.errors) == {"amount"}
    good = validate_form(entry.model, fields, {"order_id": "O-1", "amount": "90"})
    assert good == RefundInput(order_id="O-1", amount=90)
