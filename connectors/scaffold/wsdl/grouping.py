"""Operations grouped by service and port, big services split so no generated file is huge."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.scaffold.naming import snake
from connectors.soap.operations import OperationInfo

#: At most this many operations per `actions/<group>.py` and its models module.
GROUP_SIZE = 20
_RESERVED_MODULES = {"base", "soap_credentials"}


def group_operations(operations: Sequence[OperationInfo]) -> dict[str, list[OperationInfo]]:
    """Group name -> operations, in the WSDL's order of services and ports, sorted by name inside."""
    ports_per_service: dict[str, set[str]] = {}
    for op in operations:
        ports_per_service.setdefault(op.service, set()).add(op.port)
    by_port: dict[str, list[OperationInfo]] = {}
    for op in operations:
        base = snake(op.service).removesuffix("_service") or snake(op.service)
        if len(ports_per_service[op.service]) > 1:
            base = f"{base}_{snake(op.port)}"
        by_port.setdefault(base, []).append(op)
    groups: dict[str, list[OperationInfo]] = {}
    for base, ops in by_port.items():
        ops = sorted(ops, key=lambda o: o.name.lower())
        name = base if base not in _RESERVED_MODULES and not base.startswith("types") else f"{base}_ops"
        if len(ops) <= GROUP_SIZE:
            groups[name] = ops
            continue
        for n, start in enumerate(range(0, len(ops), GROUP_SIZE), start=1):
            groups[f"{name}_{n}"] = ops[start : start + GROUP_SIZE]
    return groups


def distinct_operations(operations: Sequence[OperationInfo]) -> tuple[list[OperationInfo], int]:
    """One port per operation name and service (SOAP 1.1 and 1.2 ports repeat the same ones)."""
    seen: set[tuple[str, str]] = set()
    kept: list[OperationInfo] = []
    for op in operations:
        if (op.service, op.name) in seen:
            continue
        seen.add((op.service, op.name))
        kept.append(op)
    return kept, len(operations) - len(kept)
