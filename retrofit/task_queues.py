"""Task queues per connector group: which queue each connector's action activities run on.

A slow or fragile legacy system gets its own workers (`retrofit worker --connectors erp`) so a
backlog there never starves the others. The table is read by the workflow worker, pinned into
each workflow's history with the policy snapshot (`retrofit.gate.routing`), and read by
connector workers to know which queue to poll.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

from retrofit.settings import RetrofitSettings


class TaskQueueConfigError(ValueError):
    """RETROFIT_TASK_QUEUE_GROUPS or a worker's --connectors/--queue cannot be used."""


def parse_groups(raw: str | None) -> dict[str, str]:
    """connector name -> task queue, from JSON `{"erp": "q"}` or `erp=q,crm=q2`."""
    if raw is None or not raw.strip():
        return {}
    text = raw.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskQueueConfigError(f"RETROFIT_TASK_QUEUE_GROUPS is not valid JSON: {exc.msg}") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in loaded.items()
        ):
            raise TaskQueueConfigError(
                'RETROFIT_TASK_QUEUE_GROUPS must map connector names to queues: {"erp": "q"}'
            )
        return dict(loaded)
    groups: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        connector, sep, queue = (s.strip() for s in item.partition("="))
        if not sep or not connector or not queue:
            raise TaskQueueConfigError(f"RETROFIT_TASK_QUEUE_GROUPS item {item!r} is not connector=queue")
        groups[connector] = queue
    return groups


def queue_for(connector: str, groups: Mapping[str, str], default: str) -> str:
    return groups.get(connector, default)


def check_groups(groups: Mapping[str, str], known: Collection[str]) -> None:
    """A group naming a connector nobody ships is a typo that would silently route nothing."""
    unknown = sorted(set(groups) - set(known))
    if unknown:
        raise TaskQueueConfigError(
            f"RETROFIT_TASK_QUEUE_GROUPS names unknown connectors: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )


def settings_groups(settings: RetrofitSettings) -> dict[str, str]:
    return parse_groups(settings.task_queue_groups)


def plan_connector_workers(
    groups: Mapping[str, str],
    known: Collection[str],
    default_queue: str,
    *,
    connectors: Collection[str] | None = None,
    queue: str | None = None,
) -> dict[str, list[str]]:
    """task queue -> connectors, for `retrofit worker --connectors ... / --queue ...`.

    `connectors` picks connectors (default: all known), `queue` keeps those routed to it; each
    chosen connector is served on the queue the workflows route its actions to.
    """
    chosen = list(known) if connectors is None else list(connectors)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise TaskQueueConfigError(
            f"unknown connectors: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    plan: dict[str, list[str]] = {}
    for name in chosen:
        target = queue_for(name, groups, default_queue)
        if queue is None or target == queue:
            plan.setdefault(target, []).append(name)
    if not plan:
        raise TaskQueueConfigError(
            f"no connector is routed to task queue {queue!r} (RETROFIT_TASK_QUEUE_GROUPS: "
            f"{dict(groups) or 'empty'}; default queue {default_queue!r})"
        )
    return plan
