"""Operations as typed fields: naming, argument mapping, answer shaping and model checks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from connectors.soap import find_operation, load_wsdl, model_mismatches, operation_models
from connectors.soap.signatures import (
    ArgumentMismatch,
    input_fields,
    python_name,
    shape_for,
    to_soap_arguments,
)
from legacy.erp.wsdl import render_wsdl


@pytest.fixture(scope="module")
def erp_wsdl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path: Path = tmp_path_factory.mktemp("erp") / "erp.wsdl"
    path.write_bytes(render_wsdl("http://127.0.0.1:8702/erp"))
    return load_wsdl(str(path))


@pytest.mark.parametrize(
    ("xml", "python"),
    [
        ("customerId", "customer_id"),
        ("paymentTermsDays", "payment_terms_days"),
        ("XMLData", "xml_data"),
        ("ID", "id"),
        ("sObjects", "s_objects"),
        ("_value_1", "value_1"),
        ("class", "class_"),
        ("schema", "schema_"),  # would shadow BaseModel.schema
        ("modelName", "model_name_"),  # pydantic reserves the model_ prefix
        ("x-ref", "x_ref"),
    ],
)
def test_python_names(xml: str, python: str) -> None:
    assert python_name(xml) == python


def test_arguments_map_to_xml_names_and_leave_out_none(erp_wsdl: Any) -> None:
    fields = input_fields(find_operation(erp_wsdl, "RecordPayment"))
    arguments = to_soap_arguments(
        {"invoice_id": "INV-1", "amount": Decimal("12.50"), "reference": None, "idempotency_key": "k"}, fields
    )
    assert arguments == {"invoiceId": "INV-1", "amount": Decimal("12.50"), "idempotencyKey": "k"}


def test_unknown_arguments_are_named(erp_wsdl: Any) -> None:
    fields = input_fields(find_operation(erp_wsdl, "GetCustomer"))
    with pytest.raises(
        ArgumentMismatch, match=r"'customer' is not part of the message \(expected: customer_id\)"
    ):
        to_soap_arguments({"customer": "C-1"}, fields)


class Customer(BaseModel):
    id: str
    name: str


class Page(BaseModel):
    items: list[int]


def test_answers_are_unwrapped_by_the_model() -> None:
    assert shape_for(Customer, {"customer": {"id": "C-1", "name": "N"}}) == {"id": "C-1", "name": "N"}
    assert shape_for(Page, [1, 2]) == {"items": [1, 2]}
    assert shape_for(Page, {"items": [1]}) == {"items": [1]}


def test_runtime_models_for_the_demo_erp(erp_wsdl: Any) -> None:
    record_in, record_out = operation_models(find_operation(erp_wsdl, "RecordPayment"))
    assert list(record_in.model_fields) == [
        "invoice_id",
        "amount",
        "payment_date",
        "reference",
        "idempotency_key",
    ]
    assert record_in.model_fields["amount"].annotation is Decimal
    assert record_in.model_fields["invoice_id"].is_required()
    assert not record_in.model_fields["reference"].is_required()
    payment = record_out.model_fields["payment"].annotation
    assert isinstance(payment, type) and "invoice_amount_due" in payment.model_fields

    _, list_out = operation_models(find_operation(erp_wsdl, "ListInvoices"))
    assert list(list_out.model_fields) == ["invoices", "page", "page_size", "total", "next_page"]
    assert list_out.model_validate({"page": 1, "page_size": 20, "total": 0}).model_dump()["invoices"] == []


def test_model_mismatches_name_what_does_not_fit(erp_wsdl: Any) -> None:
    class BadInput(BaseModel):
        invoice: str  # the element is invoiceId
        amount: Decimal

    class BadOutput(BaseModel):
        id: str
        receipt_number: str  # never sent by the ERP

    problems = model_mismatches(find_operation(erp_wsdl, "RecordPayment"), BadInput, BadOutput)
    assert any("'invoice'" in p and "not an element" in p for p in problems)
    assert any("'invoiceId' has no field" in p for p in problems)
    assert any("'receipt_number'" in p and "never comes back" in p for p in problems)
    assert len(problems) == 3
