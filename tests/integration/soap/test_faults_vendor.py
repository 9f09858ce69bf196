"""Vendor faults and errors reported in normal answers, from real XML over real HTTP on loopback.

Bing Ads answers every fault as `s:Server`, the one SOAP says means "try again": its
`AdApiFaultDetail` / `ApiFaultDetail` say what really happened (`InvalidCredentials` 105,
`InvalidUserId` 1029, `CallRateExceeded` 117). FedEx answers HTTP 200 with
`HighestSeverity=ERROR` and `Notifications`. Both must become the right typed errors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs
from pydantic import SecretStr
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from zeep import exceptions as zeep_errors

from connectors.soap import soap_error
from retrofit.execution.error_mapping import classify
from retrofit.gate.policy import allow_all
from retrofit.plugin import RetrofitPlugin
from retrofit.registry import connectors_from_classes
from retrofit.sdk import (
    ActionInputError,
    AuthError,
    Delivery,
    NonRetryableError,
    RetrofitError,
    RetryableError,
)
from tests.identity_support import PIN
from tests.integration.soap import vendor_systems as vendor
from tests.integration.soap.erp_support import running_call
from tests.integration.soap.vendor_systems import (
    AccountRequest,
    Bing,
    BingWithCodes,
    Fedex,
    TrackShipment,
    VendorSoap,
)
from tests.support import SHIPPED_WORKFLOWS, audit_of, kinds
from workflows.single_action.workflow import SingleActionInput

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def vendor_server() -> Iterator[VendorSoap]:
    with VendorSoap() as server:
        yield server


@pytest.fixture
def server(vendor_server: VendorSoap) -> VendorSoap:
    vendor_server.reset()
    return vendor_server


@pytest.fixture
async def bing(server: VendorSoap) -> AsyncIterator[Bing]:
    connector = Bing(Bing.load_settings(wsdl=server.bing_wsdl_url))
    await connector.open()
    yield connector
    await connector.close()


@pytest.fixture
async def fedex(server: VendorSoap) -> AsyncIterator[Fedex]:
    connector = Fedex(Fedex.load_settings(wsdl=server.fedex_wsdl_url))
    await connector.open()
    yield connector
    await connector.close()


async def bing_error(connector: Bing, account_id: int) -> RetrofitError:
    with pytest.raises(RetrofitError) as caught:
        await connector.get_campaigns(AccountRequest(account_id=account_id))
    return caught.value


# -- Bing: the fault detail decides, not the s:Server faultcode ------------------------------------


async def test_bing_answers_campaigns(bing: Bing) -> None:
    campaigns = await bing.get_campaigns(AccountRequest(account_id=151))
    assert [(c.id, c.name, c.status) for c in campaigns.campaigns.campaign] == [
        (7001, "Brand", "Active"),
        (7002, "Generic", "Paused"),
    ]


async def test_invalid_credentials_105_is_an_auth_error(server: VendorSoap) -> None:
    connector = Bing(
        Bing.load_settings(wsdl=server.bing_wsdl_url, authentication_token=SecretStr("expired-token-1"))
    )
    await connector.open()
    try:
        error = await bing_error(connector, 151)
    finally:
        await connector.close()
    assert type(error) is AuthError and not error.retryable
    assert "105 InvalidCredentials: Authentication failed" in error.message
    assert "SOAP fault s:Server" in error.message
    assert "expired-token-1" not in error.message and vendor.DEVELOPER_TOKEN not in error.message


@pytest.mark.parametrize(
    ("account", "expected", "quoted"),
    [
        (
            vendor.ACCOUNT_INVALID_USER,
            ActionInputError,
            "1029 InvalidUserId: The user identifier is not valid.",
        ),
        (vendor.ACCOUNT_RATE_LIMITED, RetryableError, "117 CallRateExceeded"),
        (vendor.ACCOUNT_INTERNAL_ERROR, RetryableError, "0 InternalError"),
        # A code nobody listed, in BatchErrors/BatchError: the service named an error, so it
        # refused this input; a plain s:Server would have been retried for nothing.
        (
            vendor.ACCOUNT_UNKNOWN_VENDOR_CODE,
            ActionInputError,
            "1108 CampaignBudgetAmountIsBelowConfiguredLimit",
        ),
        (vendor.ACCOUNT_MAINTENANCE, ActionInputError, "9901 SystemInMaintenance"),
    ],
    ids=["invalid_user_1029", "call_rate_117", "internal_error_0", "unknown_code", "maintenance_default"],
)
async def test_bing_fault_details_decide_the_error(
    bing: Bing, account: int, expected: type[RetrofitError], quoted: str
) -> None:
    error = await bing_error(bing, account)
    assert type(error) is expected
    assert quoted in error.message
    assert error.message.startswith("bing_vendor_test GetCampaignsByAccountId: SOAP fault s:Server")
    assert error.delivery is Delivery.ANSWERED  # a fault is the service's own answer
    assert error.details is not None and quoted.split(":")[0] in error.details


async def test_a_connector_classifies_its_vendors_codes(server: VendorSoap) -> None:
    connector = BingWithCodes(BingWithCodes.load_settings(wsdl=server.bing_wsdl_url))
    await connector.open()
    try:
        maintenance = await bing_error(connector, vendor.ACCOUNT_MAINTENANCE)
        budget = await bing_error(connector, vendor.ACCOUNT_UNKNOWN_VENDOR_CODE)
        invalid_user = await bing_error(connector, vendor.ACCOUNT_INVALID_USER)
    finally:
        await connector.close()
    # The hook: a ready error, with the TrackingId from the answer's SOAP header in its message.
    assert type(maintenance) is RetryableError
    assert maintenance.retry_after == timedelta(minutes=5)
    assert maintenance.message.endswith(f"(TrackingId {server.tracking_ids[0]})")
    # The table: an error class; the base writes the message.
    assert type(budget) is NonRetryableError
    assert "1108 CampaignBudgetAmountIsBelowConfiguredLimit" in budget.message
    # Neither: the defaults still apply.
    assert type(invalid_user) is ActionInputError


async def test_faults_are_captured_without_the_tokens(bing: Bing, server: VendorSoap) -> None:
    with (
        running_call("wf-bing#fault", action="bing_vendor_test.get_campaigns") as context,
        pytest.raises(ActionInputError),
    ):
        await bing.get_campaigns(AccountRequest(account_id=vendor.ACCOUNT_INVALID_USER))
    (exchange,) = context.exchanges
    assert (exchange["operation"], exchange["http_status"], exchange["fault"]) == (
        "GetCampaignsByAccountId",
        500,
        "s:Server",
    )
    assert "<Code>1029</Code>" in exchange["response"]
    dumped = json.dumps(context.exchanges)
    assert vendor.AUTHENTICATION_TOKEN not in dumped and vendor.DEVELOPER_TOKEN not in dumped


async def test_an_auth_fault_is_not_retried_by_the_activity(server: VendorSoap) -> None:
    """What Temporal sees: an AuthError maps to a non-retryable failure, so one call, one fault."""
    connector = Bing(Bing.load_settings(wsdl=server.bing_wsdl_url, developer_token=SecretStr("nope")))
    await connector.open()
    try:
        error = await bing_error(connector, 151)
    finally:
        await connector.close()
    failure = classify(error).to_application_error()
    assert failure.non_retryable and failure.type == "AuthError"
    assert server.requests["GetCampaignsByAccountId"] == 1


# -- FedEx: errors inside an HTTP 200 answer --------------------------------------------------------


async def fedex_error(connector: Fedex, number: str) -> RetrofitError:
    with pytest.raises(RetrofitError) as caught:
        await connector.track(TrackShipment(tracking_number=number))
    return caught.value


async def test_fedex_success_and_warning_answer_normally(fedex: Fedex) -> None:
    delivered = await fedex.track(TrackShipment(tracking_number="794887075005"))
    assert (delivered.highest_severity, delivered.track_details.status_description) == (
        "SUCCESS",
        "Delivered",
    )
    warned = await fedex.track(TrackShipment(tracking_number=vendor.TRACKING_WARNING))
    assert warned.highest_severity == "WARNING"


async def test_highest_severity_error_is_an_input_error_quoting_only_the_errors(fedex: Fedex) -> None:
    error = await fedex_error(fedex, vendor.TRACKING_BAD_NUMBER)
    assert type(error) is ActionInputError
    assert error.message == (
        "fedex_vendor_test track reported highest_severity ERROR: 6035: Invalid tracking numbers. "
        "Please check the following numbers."
    )
    assert "9045" not in error.message  # the WARNING beside it is not the reason
    assert error.delivery is Delivery.ANSWERED


async def test_highest_severity_failure_is_retryable(fedex: Fedex) -> None:
    error = await fedex_error(fedex, vendor.TRACKING_SYSTEM_FAILURE)
    assert type(error) is RetryableError
    assert "9999: General Failure" in error.message
    assert error.delivery is Delivery.ANSWERED


async def test_a_vendor_code_in_the_table_overrides_the_severity(server: VendorSoap) -> None:
    connector = Fedex(Fedex.load_settings(wsdl=server.fedex_wsdl_url, key=SecretStr("wrong-key-5")))
    await connector.open()
    try:
        with running_call("wf-fedex#auth", action="fedex_vendor_test.track") as context:
            error = await fedex_error(connector, "794887075005")
    finally:
        await connector.close()
    assert type(error) is AuthError
    assert "1000: Authentication Failed" in error.message and "wrong-key-5" not in error.message
    # The answer is in the audit record, with the credential blanked.
    (exchange,) = context.exchanges
    assert exchange["http_status"] == 200 and exchange["fault"] is None
    assert "<HighestSeverity>ERROR</HighestSeverity>" in exchange["response"]
    assert "wrong-key-5" not in json.dumps(exchange)


async def test_without_the_hook_an_error_answer_is_a_validation_problem_not_a_success(
    server: VendorSoap,
) -> None:
    """The base finds nothing by default: the answer without TrackDetails fails the model."""

    class PlainFedex(Fedex):
        name = "fedex_vendor_test_plain"

        def answer_error(self, operation: str, answer: Any) -> RetrofitError | None:
            return None

    connector = PlainFedex(PlainFedex.load_settings(wsdl=server.fedex_wsdl_url))
    await connector.open()
    try:
        error = await fedex_error(connector, vendor.TRACKING_BAD_NUMBER)
    finally:
        await connector.close()
    assert type(error) is NonRetryableError and "does not fit TrackReply" in error.message


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"highest_severity": "SUCCESS", "notifications": [{"severity": "SUCCESS", "code": "0"}]}, None),
        ({"highest_severity": "NOTE"}, None),
        ({"ack": "Failure"}, None),  # not the field it looks at
        (None, None),
        ([], None),
        ({"highest_severity": "error", "notifications": {"severity": "ERROR", "code": 7}}, ActionInputError),
        ({"highest_severity": "ERROR", "notifications": "garbage"}, ActionInputError),
        (
            {"highest_severity": "FAILURE", "notifications": [None, 5, {"message": "x" * 5000}]},
            RetryableError,
        ),
    ],
)
def test_severity_error_on_hostile_answers(answer: Any, expected: type[RetrofitError] | None) -> None:
    connector = Fedex(Fedex.load_settings(wsdl="unused.wsdl"))
    error = connector.severity_error("track", answer)
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected
        assert len(error.message) < 400


def test_a_hostile_detail_gives_a_short_message() -> None:
    errors = "".join(
        f"<AdApiError><Code>{'9' * 50_000}</Code><ErrorCode>E{i}</ErrorCode><Message>{'m' * 50_000}</Message>"
        "</AdApiError>"
        for i in range(500)
    )
    detail = etree.fromstring(
        f"<detail><AdApiFaultDetail><Errors>{errors}</Errors></AdApiFaultDetail></detail>"
    )
    fault = zeep_errors.Fault("x" * 10_000, code="s:Server", detail=detail)  # type: ignore[no-untyped-call]
    error = soap_error("Op", fault, service="bing")
    assert type(error) is ActionInputError  # named vendor errors: a refusal
    assert len(error.message) < 1200 and "(and 497 more)" in error.message
    assert error.details is not None and len(error.details) <= 200


# -- through the gate -------------------------------------------------------------------------------


async def test_through_the_gate_vendor_errors_fail_once_with_their_codes(
    time_skipping_env: WorkflowEnvironment, server: VendorSoap, audit_url: str
) -> None:
    env = time_skipping_env
    plugin = RetrofitPlugin(
        connectors=connectors_from_classes([Bing, Fedex]),
        workflows=SHIPPED_WORKFLOWS,
        audit_url=audit_url,
        policy=allow_all(),
        settings_overrides={
            Bing.name: Bing.load_settings(
                wsdl=server.bing_wsdl_url, developer_token=SecretStr("revoked-dev")
            ),
            Fedex.name: Fedex.load_settings(wsdl=server.fedex_wsdl_url),
        },
        identity=PIN,
    )
    calls = {
        f"{Fedex.name}.track": ({"tracking_number": vendor.TRACKING_BAD_NUMBER}, "ActionInputError", "6035"),
        f"{Bing.name}.get_campaigns": ({"account_id": 151}, "AuthError", "105 InvalidCredentials"),
    }
    ids = {}
    async with Worker(env.client, task_queue=f"test-{uuid.uuid4()}", plugins=[plugin]) as worker:
        for name, (arguments, _, _) in calls.items():
            ids[name] = f"vendor-{uuid.uuid4().hex[:8]}"
            with pytest.raises(WorkflowFailureError):
                await env.client.execute_workflow(
                    "SingleAction",
                    SingleActionInput(action=name, arguments=arguments),
                    id=ids[name],
                    task_queue=worker.task_queue,
                )
    for name, (_, error_type, quoted) in calls.items():
        records = await audit_of(audit_url, ids[name])
        attempts = [r for r in records if r.kind.value == "action.attempt_failed"]
        assert len(attempts) == 1, kinds(records)  # typed, non-retryable: no second attempt
        assert attempts[0].data["error_type"] == error_type and quoted in attempts[0].data["error"]
        dumped = json.dumps([r.data for r in records])
        assert vendor.FEDEX_KEY not in dumped and vendor.AUTHENTICATION_TOKEN not in dumped
    assert server.requests["track"] == 1 and server.requests["GetCampaignsByAccountId"] == 1


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        # Salesforce: the code in exceptionCode, under soapenv:Server.
        (
            '<detail><sf:UnexpectedErrorFault xmlns:sf="urn:fault.partner.soap.sforce.com">'
            "<sf:exceptionCode>UNKNOWN_EXCEPTION</sf:exceptionCode><sf:exceptionMessage>An unexpected "
            "error occurred. Please include this ErrorId if you contact support: 1234-5678"
            "</sf:exceptionMessage></sf:UnexpectedErrorFault></detail>",
            RetryableError,
        ),
        (
            '<detail><sf:InvalidFieldFault xmlns:sf="urn:fault.partner.soap.sforce.com">'
            "<sf:exceptionCode>INVALID_FIELD</sf:exceptionCode><sf:exceptionMessage>No such column"
            "</sf:exceptionMessage></sf:InvalidFieldFault></detail>",
            ActionInputError,
        ),
        # An errorcode attribute, lower case.
        ('<detail><err errorcode="InvalidCredentials">no</err></detail>', AuthError),
        # No code anywhere: a plain s:Server is still an outage.
        ("<detail><hostname>erp-7</hostname></detail>", RetryableError),
    ],
)
def test_other_vendors_detail_shapes(detail: str, expected: type[RetrofitError]) -> None:
    fault = zeep_errors.Fault("refused", code="soapenv:Server", detail=etree.fromstring(detail))  # type: ignore[no-untyped-call]
    assert type(soap_error("Op", fault, service="crm")) is expected


def test_severity_error_reads_ebay_and_paypal_answers() -> None:
    connector = Fedex(Fedex.load_settings(wsdl="unused.wsdl"))
    answer = {
        "ack": "Failure",
        "errors": [
            {"short_message": "Deprecated", "error_code": "21917", "severity_code": "Warning"},
            {
                "short_message": "Item not found.",
                "long_message": "The item was not found.",
                "error_code": "17",
                "severity_code": "Error",
            },
        ],
    }
    failing = {"Failure": ActionInputError, "FailureWithWarning": ActionInputError}
    error = connector.severity_error("GetItem", answer, severity="ack", errors="errors", failing=failing)
    assert type(error) is ActionInputError
    assert error.message == "fedex_vendor_test GetItem reported ack FAILURE: 17: The item was not found."
    assert (
        connector.severity_error("GetItem", {"ack": "SuccessWithWarning"}, severity="ack", failing=failing)
        is None
    )
