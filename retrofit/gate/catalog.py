"""The actions a worker serves, visible to workflow code.

The worker fills this when it starts (outside the sandbox); the sandbox passes the `retrofit`
package through, so workflows read the same objects. Workflows never import connector classes
(and with them httpx, zeep, SQLAlchemy): they look actions up here by name.
"""

from __future__ import annotations

from retrofit.sdk.spec import ActionSpec

_actions: dict[str, ActionSpec] = {}


def register(spec: ActionSpec) -> None:
    existing = _actions.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"action {spec.name!r} is already registered with a different definition")
    _actions[spec.name] = spec


def lookup(name: str) -> ActionSpec | None:
    return _actions.get(name)


def names() -> list[str]:
    return sorted(_actions)
