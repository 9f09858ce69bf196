"""Describe the workflows a worker serves, for the CLI (start, list) — outside the sandbox."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from pydantic import BaseModel
from temporalio import workflow


@dataclass(frozen=True)
class WorkflowInfo:
    name: str
    cls: type
    input_model: type[BaseModel] | None
    description: str


def describe_workflow(cls: type) -> WorkflowInfo:
    # The SDK keeps the definition on a private attribute; this is the one place we read it.
    defn = workflow._Definition.must_from_class(cls)
    arg_types = defn.arg_types or []
    first = arg_types[0] if arg_types else None
    input_model = first if inspect.isclass(first) and issubclass(first, BaseModel) else None
    doc = inspect.getdoc(cls) or ""
    return WorkflowInfo(
        name=defn.name or cls.__name__,
        cls=cls,
        input_model=input_model,
        description=doc.split("\n\n")[0].replace("\n", " "),
    )


def find_workflow(workflows: list[type], name: str) -> WorkflowInfo:
    infos = [describe_workflow(c) for c in workflows]
    for info in infos:
        if info.name == name:
            return info
    known = ", ".join(sorted(i.name for i in infos)) or "none"
    raise LookupError(f"unknown workflow {name!r}; known workflows: {known}")
