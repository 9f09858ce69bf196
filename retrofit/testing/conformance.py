"""The standard suite every connector plugin runs against itself (like Singer's standard tap tests).

Subclass `ConnectorConformance` in your plugin's tests, point it at a real (test) instance of the
legacy system, and pytest collects the checks:

    class TestAcmeConformance(ConnectorConformance):
        entry_point = "acme"                             # name in `retrofit.connectors`

        @pytest.fixture
        def settings(self, acme_server):                 # settings pointing at a test system
            return Acme.load_settings(base_url=acme_server.url, api_key=acme_server.key)

        @pytest.fixture
        def cases(self, acme_server):
            return Cases(
                reads=[CallCase("acme.get_customer", {"customer_id": "C-1"})],
                write=WriteCase("acme.add_note", {...}, effects=lambda: acme_server.effects()),
                errors=[ErrorCase("acme.get_customer", {"customer_id": "nope"}, ActionInputError)],
                secrets=[acme_server.key],               # must never show in captured traffic
                lose_next_answer=acme_server.apply_then_drop,  # optional: for the lookup check
            )

What it checks: the plugin loads through its entry point; every action has typed input/output
models, a description and a JSON schema; settings validate and keep secrets secret; reads return
their declared model; captured traffic never contains a secret; errors map to the right retry
class; a write repeated with the same idempotency key has one effect.

Optional (skipped when the connector does not override `Connector.lookup`): `lookup` reports a
write made under a key as landed, with the output the write answered; a key never used is never
"landed"; and, with `lose_next_answer` (arrange for the system to apply the next write and drop its
answer), the lost write fails with an error that says it may have landed (`Delivery.UNKNOWN`) and
`lookup` then finds it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel, SecretBytes, SecretStr

from retrofit.execution.error_mapping import classify
from retrofit.registry import LoadedConnector, load_connectors
from retrofit.sdk.connector import Connector, ConnectorSettings
from retrofit.sdk.context import running_call
from retrofit.sdk.errors import Delivery, RetrofitError
from retrofit.sdk.lookup import LookupStatus
from retrofit.sdk.spec import ActionSpec


@dataclass(frozen=True)
class CallCase:
    action: str  # full name, `connector.action`
    arguments: dict[str, Any]


@dataclass(frozen=True)
class WriteCase(CallCase):
    #: Reads the legacy system's count of applied effects for this write (any comparable value).
    effects: Callable[[], Any] = field(default=lambda: None)


@dataclass(frozen=True)
class ErrorCase(CallCase):
    expected: type[RetrofitError] = RetrofitError
    #: Called before the call to put the system in the failing state (e.g. inject a fault).
    arrange: Callable[[], None] = field(default=lambda: None)


@dataclass
class Cases:
    reads: Sequence[CallCase] = ()
    write: WriteCase | None = None
    errors: Sequence[ErrorCase] = ()
    secrets: Sequence[str] = ()
    #: Optional: make the system apply the next write and lose its answer (drop the connection).
    lose_next_answer: Callable[[], None] | None = None


class ConnectorConformance:
    """Base class of the conformance suite; see the module docstring."""

    entry_point: str = ""

    # --- fixtures a plugin provides -------------------------------------------------------

    @pytest.fixture
    def settings(self) -> ConnectorSettings:
        raise NotImplementedError("override the `settings` fixture: settings pointing at a test system")

    @pytest.fixture
    def cases(self) -> Cases:
        return Cases()

    # --- fixtures the suite provides ------------------------------------------------------

    @pytest.fixture
    def loaded(self) -> LoadedConnector:
        assert self.entry_point, "set `entry_point` to the plugin's name in `retrofit.connectors`"
        found = {c.spec.plugin.split(" = ")[0]: c for c in load_connectors()}
        assert self.entry_point in found, (
            f"no entry point {self.entry_point!r} in group retrofit.connectors (found: {sorted(found)}); "
            "is the plugin installed (`pip install -e .`)?"
        )
        return found[self.entry_point]

    @pytest.fixture
    async def connector(
        self, loaded: LoadedConnector, settings: ConnectorSettings
    ) -> AsyncIterator[Connector]:
        instance = loaded.cls(settings)
        await instance.open()
        try:
            yield instance
        finally:
            await instance.close()

    # --- the checks -----------------------------------------------------------------------

    def test_loads_through_its_entry_point(self, loaded: LoadedConnector) -> None:
        assert loaded.spec.actions, "a connector declares at least one action"
        assert loaded.spec.description, "the connector class needs a docstring"

    def test_every_action_is_typed_described_and_has_a_schema(self, loaded: LoadedConnector) -> None:
        for spec in loaded.spec.actions:
            assert issubclass(spec.input_model, BaseModel) and issubclass(spec.output_model, BaseModel)
            assert len(spec.description.strip()) >= 10, f"{spec.name}: describe it for users and models"
            schema = spec.input_schema()
            assert schema.get("type") == "object", f"{spec.name}: input schema must be an object"
            json.dumps(schema)  # tool schemas must be plain JSON

    def test_settings_validate_and_keep_secrets_secret(
        self, loaded: LoadedConnector, settings: ConnectorSettings, cases: Cases
    ) -> None:
        assert isinstance(settings, loaded.cls.Settings)
        rendered = repr(settings) + str(settings) + settings.model_dump_json()
        for secret in cases.secrets:
            assert secret not in rendered, "a secret shows in the settings' repr/str/JSON: use SecretStr"
        secret_fields = [
            name
            for name, info in type(settings).model_fields.items()
            if info.annotation in (SecretStr, SecretBytes, SecretStr | None, SecretBytes | None)
        ]
        if cases.secrets:
            assert secret_fields, "the connector has secrets but no SecretStr settings field"

    async def test_reads_return_their_declared_model(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases
    ) -> None:
        reads = [c for c in cases.reads if _spec(loaded, c.action).effect.value == "read"]
        if not reads:
            pytest.skip("no read cases given")
        for case in reads:
            spec = _spec(loaded, case.action)
            output, _ = await _call(connector, spec, case.arguments, key=f"conformance-read-{spec.method}")
            assert isinstance(output, spec.output_model)

    async def test_captured_traffic_never_contains_a_secret(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases
    ) -> None:
        if not cases.secrets:
            pytest.skip("no secrets given")
        calls: list[CallCase] = [*cases.reads, *([cases.write] if cases.write else [])]
        captured: list[dict[str, Any]] = []
        for case in calls:
            _, exchanges = await _call(
                connector, _spec(loaded, case.action), case.arguments, key="conformance-secrets"
            )
            captured += exchanges
        text = json.dumps(captured, default=str)
        for secret in cases.secrets:
            assert secret not in text, "a secret leaked into captured traffic (the audit trail)"

    async def test_errors_map_to_the_right_retry_class(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases
    ) -> None:
        if not cases.errors:
            pytest.skip("no error cases given")
        for index, case in enumerate(cases.errors):
            case.arrange()
            with pytest.raises(RetrofitError) as info:
                await _call(
                    connector, _spec(loaded, case.action), case.arguments, key=f"conformance-error-{index}"
                )
            assert isinstance(info.value, case.expected), (
                f"{case.action} raised {type(info.value).__name__}, expected {case.expected.__name__}"
            )
            assert classify(info.value).retryable == case.expected.retryable

    async def test_a_repeated_write_with_the_same_key_has_one_effect(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases
    ) -> None:
        if cases.write is None:
            pytest.skip("no write case given (the system supports no idempotency keys)")
        spec = _spec(loaded, cases.write.action)
        assert spec.effect.value != "read", f"{spec.name} is not a write"
        before = cases.write.effects()
        first, _ = await _call(connector, spec, cases.write.arguments, key="conformance-write-1")
        after_one = cases.write.effects()
        second, _ = await _call(connector, spec, cases.write.arguments, key="conformance-write-1")
        assert cases.write.effects() == after_one != before, "the repeat applied a second effect"
        assert first == second

    async def test_lookup_reports_a_write_by_its_idempotency_key(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases
    ) -> None:
        if not loaded.cls.supports_lookup():
            pytest.skip("optional: the connector has no lookup (lost answers stay 'outcome unknown')")
        if cases.write is None:
            pytest.skip("no write case given")
        spec = _spec(loaded, cases.write.action)
        written, _ = await _call(connector, spec, cases.write.arguments, key="conformance-lookup-1")
        found = await connector.lookup("conformance-lookup-1")
        assert found.status is LookupStatus.LANDED, f"lookup of a write that landed said {found.status}"
        assert spec.output_model.model_validate(found.output or {}) == written, (
            "lookup must report the output the write answered"
        )
        never = await connector.lookup("conformance-lookup-never-used")
        assert never.status is not LookupStatus.LANDED, "lookup said a key never used had landed"

    async def test_a_lost_answer_may_have_landed_and_lookup_finds_it(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases
    ) -> None:
        if not loaded.cls.supports_lookup():
            pytest.skip("optional: the connector has no lookup")
        if cases.write is None or cases.lose_next_answer is None:
            pytest.skip("no write case or no way to lose an answer given")
        spec = _spec(loaded, cases.write.action)
        cases.lose_next_answer()
        with pytest.raises(RetrofitError) as info:
            await _call(connector, spec, cases.write.arguments, key="conformance-lost-1")
        assert info.value.delivery is Delivery.UNKNOWN, (
            f"a dropped answer raised {type(info.value).__name__} saying {info.value.delivery}: "
            "it must say the write may have landed"
        )
        found = await connector.lookup("conformance-lost-1")
        assert found.status is LookupStatus.LANDED, f"the write landed, but lookup said {found.status}"


def _spec(loaded: LoadedConnector, action: str) -> ActionSpec:
    for spec in loaded.spec.actions:
        if spec.name == action:
            return spec
    raise AssertionError(f"{action!r} is not an action of {loaded.spec.name!r}")


async def _call(
    connector: Connector, spec: ActionSpec, arguments: dict[str, Any], *, key: str
) -> tuple[BaseModel, list[dict[str, Any]]]:
    """Call an action as the framework does: validated input, a bound call context, typed output."""
    with running_call(spec.name, key, workflow_id="conformance", run_id="conformance") as context:
        result = await getattr(connector, spec.method)(spec.input_model.model_validate(arguments))
    return spec.output_model.model_validate(result.model_dump()), context.exchanges
