"""Connector plugins load through the `retrofit.connectors` entry-point group; bad ones are named."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from retrofit.registry import CONNECTOR_GROUP, load_connectors
from retrofit.sdk import Effect, PluginError


def ep(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"tests.unit.bad_plugins:{target}", group=CONNECTOR_GROUP)


def test_builtin_connectors_are_discovered_like_any_plugin() -> None:
    loaded = {c.spec.name: c for c in load_connectors()}
    assert "ledger" in loaded
    ledger = loaded["ledger"].spec
    assert ledger.plugin == "ledger = connectors.ledger.connector:LedgerConnector"
    effects = {a.name: a.effect for a in ledger.actions}
    assert effects["ledger.get_customer"] is Effect.READ
    assert effects["ledger.set_credit_limit"] is Effect.WRITE
    assert effects["ledger.delete_customer"] is Effect.DESTRUCTIVE


def test_a_good_plugin_describes_its_actions() -> None:
    [loaded] = load_connectors([ep("good", "Good")])
    actions = {a.name: a for a in loaded.spec.actions}
    assert set(actions) == {"good.read", "good.write"}
    assert actions["good.read"].description == "Read y."
    assert actions["good.write"].compensate == "good.read"
    assert actions["good.read"].input_schema()["properties"] == {"x": {"title": "X", "type": "integer"}}


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("TwoArgs", "must take exactly (self, req: InputModel); got (self, req, extra)"),
        ("NoModels", "the argument must be annotated with a pydantic model"),
        ("NotAsync", "must be `async def`"),
        ("NoDoc", "needs a docstring"),
        ("BadCompensate", "compensate='bad_compensate.undo', which is not an action"),
        ("NoActions", "declares no @action methods"),
        ("BadName", "must be a lowercase identifier"),
        ("NotAConnector", "is not a subclass of retrofit.Connector"),
        ("Missing", "cannot be imported"),
    ],
)
def test_a_bad_plugin_is_refused_at_load_time_with_its_name(target: str, problem: str) -> None:
    with pytest.raises(PluginError) as info:
        load_connectors([ep("acme", target)])
    assert f"connector plugin 'acme = tests.unit.bad_plugins:{target}'" in str(info.value)
    assert problem in str(info.value)


def test_duplicate_connector_names_name_both_plugins() -> None:
    with pytest.raises(PluginError) as info:
        load_connectors([ep("first", "Good"), ep("second", "GoodTwin")])
    message = str(info.value)
    assert "second = tests.unit.bad_plugins:GoodTwin" in message
    assert "already taken by plugin 'first = tests.unit.bad_plugins:Good'" in message
