"""Custom search attributes, so the Temporal UI's workflow list can filter and show what waits.

    RetrofitWaiting         Keyword      approval | failure | none
    RetrofitActions         KeywordList  the action names waiting
    RetrofitEffect          Keyword      the strongest effect waiting: READ | WRITE | DESTRUCTIVE | none
    RetrofitApproverGroups  KeywordList  the groups that may answer what waits
    RetrofitStartedBy       Keyword      the verified starter's subject, or `unverified`

A workflow upserts only the attributes the worker found registered on the namespace (with these
types), as pinned into the run's policy snapshot (`PolicySnapshot.search_attributes`): upserting
an unregistered attribute would fail the workflow task, so on an unprepared namespace nothing is
upserted and nothing fails. Runs pinned before this existed pin none and replay unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

WAITING = SearchAttributeKey.for_keyword("RetrofitWaiting")
ACTIONS = SearchAttributeKey.for_keyword_list("RetrofitActions")
EFFECT = SearchAttributeKey.for_keyword("RetrofitEffect")
APPROVER_GROUPS = SearchAttributeKey.for_keyword_list("RetrofitApproverGroups")
STARTED_BY = SearchAttributeKey.for_keyword("RetrofitStartedBy")

#: Name -> type as `temporal operator search-attribute create --type` and start-dev's
#: `--search-attribute Name=Type` spell it.
REGISTRATION: dict[str, str] = {
    WAITING.name: "Keyword",
    ACTIONS.name: "KeywordList",
    EFFECT.name: "Keyword",
    APPROVER_GROUPS.name: "KeywordList",
    STARTED_BY.name: "Keyword",
}

_EFFECT_ORDER = ("read", "write", "destructive")


def strongest_effect(effects: Sequence[str]) -> str:
    known = [e.lower() for e in effects if e.lower() in _EFFECT_ORDER]
    return max(known, key=_EFFECT_ORDER.index).upper() if known else "none"


def publish(registered: Sequence[str], views: Sequence[Any], started_by: str | None) -> None:
    """Upsert what changed of the attributes `registered` (the pinned list), from `views` (the
    pending ApprovalViews: approvals and failures) and the verified starter's subject."""
    if not registered:
        return
    approvals = [v for v in views if v.kind == "approval"]
    waiting = "approval" if approvals else "failure" if views else "none"
    groups = sorted({w[len("group:") :] for v in views for w in v.may_approve if w.startswith("group:")})
    wanted: list[tuple[Any, Any]] = [
        (WAITING, waiting),
        (ACTIONS, sorted({v.action for v in views})),
        (EFFECT, strongest_effect([v.effect for v in views])),
        (APPROVER_GROUPS, groups),
    ]
    if started_by is not None:
        wanted.append((STARTED_BY, started_by or "unverified"))
    current = workflow.info().typed_search_attributes
    updates: list[SearchAttributeUpdate[Any]] = []
    for key, value in wanted:
        have = current.get(key)
        if key.name in registered and have != value and not (have is None and value == []):
            updates.append(key.value_set(value))
    if updates:
        workflow.upsert_search_attributes(updates)
