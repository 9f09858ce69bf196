"""Operations → groups (one actions module and one models module each), so no file grows huge.

By tag first; a tag with more than `MAX_PER_GROUP` operations (Xero tags all 235 `Accounting`)
is split by the first segment of the path (`/Invoices/...` → `invoices`).
"""

from __future__ import annotations

from collections import defaultdict

from connectors.scaffold.naming import Namespace, snake
from connectors.scaffold.openapi.operations import Operation

MAX_PER_GROUP = 30
# Module names the package already uses under models/ and actions/.
RESERVED_MODULES = {"common", "schemas", "connector", "models", "actions", "tests"}


def _segment(path: str) -> str:
    for part in path.strip("/").split("/"):
        if part and not part.startswith("{"):
            return part
    return "root"


def group_operations(operations: list[Operation]) -> dict[str, list[Operation]]:
    by_tag: dict[str, list[Operation]] = defaultdict(list)
    for operation in operations:
        by_tag[operation.tags[0] if operation.tags else _segment(operation.path)].append(operation)
    single_tag = len(by_tag) == 1
    keyed: dict[str, list[Operation]] = defaultdict(list)
    for tag, members in by_tag.items():
        if len(members) <= MAX_PER_GROUP:
            keyed[snake(tag, fallback="operations")] += members
            continue
        for operation in members:
            segment = _segment(operation.path)
            key = segment if single_tag else f"{tag}_{segment}"
            keyed[snake(key, fallback="operations")].append(operation)
    names = Namespace(set(RESERVED_MODULES))
    groups: dict[str, list[Operation]] = {}
    for key, members in keyed.items():
        wanted = key
        if wanted.startswith("schemas"):
            wanted = f"{wanted}_ops"
        groups[names.claim(wanted)] = members
    return groups
