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

**The read, write, error, secret and lookup checks need a live TEST instance** of the system (the
static checks above the reads run anywhere). Never point them at production: the write checks
change data. Each run uses idempotency keys of its own (`conformance-<run id>-<check>`), so a
second run against a system that kept the first run's data, and remembers its keys, is not taken
for a replay; use `conformance_run.id` in your `cases` fixture for data that must differ per run
too (a note's text, a new record's natural key). What a check wrote is journalled: with
`Cases(cleanup=...)` the suite hands it the writes to undo; without, it says what it left (on the
terminal, in the test's report section, and appended as JSON lines to the file named by
`RETROFIT_CONFORMANCE_JOURNAL`).

Optional (skipped when the connector does not override `Connector.lookup`): `lookup` reports a
write made under a key as landed, with the output the write answered; a key never used is never
"landed"; and, with `lose_next_answer` (arrange for the system to apply the next write and drop its
answer), the lost write fails with an error that says it may have landed (`Delivery.UNKNOWN`) and
`lookup` then finds it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
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


@dataclass(frozen=True)
class Written:
    """One write a check made: what to undo, or what it left in the test system."""

    action: str
    idempotency_key: str
    arguments: dict[str, Any]
    #: What the write answered; None when it raised (it may still have landed).
    output: dict[str, Any] | None


@dataclass
class Cases:
    reads: Sequence[CallCase] = ()
    write: WriteCase | None = None
    errors: Sequence[ErrorCase] = ()
    secrets: Sequence[str] = ()
    #: Optional: make the system apply the next write and lose its answer (drop the connection).
    lose_next_answer: Callable[[], None] | None = None
    #: Optional: undo the writes a check made (called once after the check, with every write it
    #: tried); without it the suite reports what it left in the system.
    cleanup: Callable[[Sequence[Written]], None] | None = None


class ConformanceRun:
    """One check's run: a fresh id for its idempotency keys (and for any data the plugin's cases
    want unique per run), and the journal of the writes it made."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.written: list[Written] = []

    def key(self, label: str) -> str:
        """An idempotency key no earlier run used: `conformance-<run id>-<label>`."""
        return f"conformance-{self.id}-{label}"

    def report(self, connector: str) -> list[str]:
        """One line per write left in the system (a repeat under the same key is the same write)."""
        once = {(w.action, w.idempotency_key): w for w in self.written}.values()
        return [
            f"conformance run {self.id} left in {connector}: {w.action} (idempotency key {w.idempotency_key}) "
            f"{json.dumps(w.arguments, default=str)[:300]}"
            for w in once
        ]


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
    def conformance_run(self) -> ConformanceRun:
        """This check's run id and write journal; request it in `cases` for per-run data."""
        return ConformanceRun()

    @pytest.fixture
    def journal(
        self, conformance_run: ConformanceRun, cases: Cases, request: pytest.FixtureRequest
    ) -> Iterator[ConformanceRun]:
        """The run, for checks that write; afterwards the writes are cleaned up or reported."""
        yield conformance_run
        if not conformance_run.written:
            return
        if cases.cleanup is not None:
            cases.cleanup(list(conformance_run.written))
            return
        _report_left(request, conformance_run.report(self.entry_point))

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
        self, loaded: LoadedConnector, connector: Connector, cases: Cases, conformance_run: ConformanceRun
    ) -> None:
        reads = [c for c in cases.reads if _spec(loaded, c.action).effect.value == "read"]
        if not reads:
            pytest.skip(f"no read cases given ({_LIVE})")
        for case in reads:
            spec = _spec(loaded, case.action)
            output, _ = await _call(
                connector, spec, case.arguments, key=conformance_run.key(f"read-{spec.method}")
            )
            assert isinstance(output, spec.output_model)

    async def test_captured_traffic_never_contains_a_secret(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases, journal: ConformanceRun
    ) -> None:
        if not cases.secrets:
            pytest.skip("no secrets given")
        calls: list[CallCase] = [*cases.reads, *([cases.write] if cases.write else [])]
        if not calls:
            pytest.skip(f"no read or write cases given ({_LIVE})")
        captured: list[dict[str, Any]] = []
        for index, case in enumerate(calls):
            _, exchanges = await _call(
                connector,
                _spec(loaded, case.action),
                case.arguments,
                key=journal.key(f"secrets-{index}"),
                journal=journal,
            )
            captured += exchanges
        text = json.dumps(captured, default=str)
        for secret in cases.secrets:
            assert secret not in text, "a secret leaked into captured traffic (the audit trail)"

    async def test_errors_map_to_the_right_retry_class(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases, journal: ConformanceRun
    ) -> None:
        if not cases.errors:
            pytest.skip(f"no error cases given ({_LIVE})")
        for index, case in enumerate(cases.errors):
            case.arrange()
            with pytest.raises(RetrofitError) as info:
                await _call(
                    connector,
                    _spec(loaded, case.action),
                    case.arguments,
                    key=journal.key(f"error-{index}"),
                    journal=journal,
                )
            assert isinstance(info.value, case.expected), (
                f"{case.action} raised {type(info.value).__name__}, expected {case.expected.__name__}"
            )
            assert classify(info.value).retryable == case.expected.retryable

    async def test_a_repeated_write_with_the_same_key_has_one_effect(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases, journal: ConformanceRun
    ) -> None:
        if cases.write is None:
            pytest.skip(f"no write case given ({_LIVE}; or the system supports no idempotency keys)")
        spec = _spec(loaded, cases.write.action)
        assert spec.effect.value != "read", f"{spec.name} is not a write"
        # A key of this run only: a system that remembers the keys of an earlier run would
        # otherwise replay its answer, and the first call here would have no effect at all.
        key = journal.key("write")
        before = cases.write.effects()
        first, _ = await _call(connector, spec, cases.write.arguments, key=key, journal=journal)
        after_one = cases.write.effects()
        assert after_one != before, (
            "the first write under a fresh key had no effect (does `effects` count this write?)"
        )
        second, _ = await _call(connector, spec, cases.write.arguments, key=key, journal=journal)
        assert cases.write.effects() == after_one, "the repeat applied a second effect"
        assert first == second

    async def test_lookup_reports_a_write_by_its_idempotency_key(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases, journal: ConformanceRun
    ) -> None:
        if not loaded.cls.supports_lookup():
            pytest.skip("optional: the connector has no lookup (lost answers stay 'outcome unknown')")
        if cases.write is None:
            pytest.skip(f"no write case given ({_LIVE})")
        spec = _spec(loaded, cases.write.action)
        key = journal.key("lookup")
        written, _ = await _call(connector, spec, cases.write.arguments, key=key, journal=journal)
        found = await connector.lookup(key)
        assert found.status is LookupStatus.LANDED, f"lookup of a write that landed said {found.status}"
        assert spec.output_model.model_validate(found.output or {}) == written, (
            "lookup must report the output the write answered"
        )
        never = await connector.lookup(journal.key("lookup-never-used"))
        assert never.status is not LookupStatus.LANDED, "lookup said a key never used had landed"

    async def test_a_lost_answer_may_have_landed_and_lookup_finds_it(
        self, loaded: LoadedConnector, connector: Connector, cases: Cases, journal: ConformanceRun
    ) -> None:
        if not loaded.cls.supports_lookup():
            pytest.skip("optional: the connector has no lookup")
        if cases.write is None or cases.lose_next_answer is None:
            pytest.skip(f"no write case or no way to lose an answer given ({_LIVE})")
        spec = _spec(loaded, cases.write.action)
        key = journal.key("lost")
        cases.lose_next_answer()
        with pytest.raises(RetrofitError) as info:
            await _call(connector, spec, cases.write.arguments, key=key, journal=journal)
        assert info.value.delivery is Delivery.UNKNOWN, (
            f"a dropped answer raised {type(info.value).__name__} saying {info.value.delivery}: "
            "it must say the write may have landed"
        )
        found = await connector.lookup(key)
        assert found.status is LookupStatus.LANDED, f"the write landed, but lookup said {found.status}"


def _spec(loaded: LoadedConnector, action: str) -> ActionSpec:
    for spec in loaded.spec.actions:
        if spec.name == action:
            return spec
    raise AssertionError(f"{action!r} is not an action of {loaded.spec.name!r}")


_LIVE = "read/write checks need a live test instance: point `settings` at one and give `cases`"
_JOURNAL_ENV = "RETROFIT_CONFORMANCE_JOURNAL"


async def _call(
    connector: Connector,
    spec: ActionSpec,
    arguments: dict[str, Any],
    *,
    key: str,
    journal: ConformanceRun | None = None,
) -> tuple[BaseModel, list[dict[str, Any]]]:
    """Call an action as the framework does: validated input, a bound call context, typed output.
    A write is journalled whether it answered or raised (a raised write may still have landed)."""
    output: dict[str, Any] | None = None
    try:
        with running_call(spec.name, key, workflow_id="conformance", run_id="conformance") as context:
            result = await getattr(connector, spec.method)(spec.input_model.model_validate(arguments))
        output = result.model_dump(mode="json")
    finally:
        if journal is not None and spec.effect.value != "read":
            journal.written.append(Written(spec.name, key, dict(arguments), output))
    return spec.output_model.model_validate(result.model_dump()), context.exchanges


def _report_left(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Say what a check left in the test system, where a person or a CI log will see it."""
    text = "\n".join(lines)
    request.node.add_report_section("teardown", "conformance writes left in the system", text)
    request.node.user_properties.append(("conformance_writes", text))
    journal = os.environ.get(_JOURNAL_ENV)
    if journal:
        with open(journal, "a", encoding="utf-8") as out:
            out.writelines(json.dumps({"test": request.node.nodeid, "left": line}) + "\n" for line in lines)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + text, flush=True)
