"""What a business user may start: the installed workflows (entry points) and the operator's agent
task templates. The raw AgentTask and SingleAction are hidden: a business user would have to type
the allowed actions, policy and budget (AgentTask) or an action name and raw args (SingleAction);
templates are the operator's safe way to offer agent tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from retrofit.registry import load_workflows
from retrofit.web.task_templates import TaskTemplate, configured_templates
from retrofit.workflow_catalog import describe_workflow

HIDDEN = frozenset({"AgentTask", "SingleAction"})


@dataclass(frozen=True)
class Entry:
    key: str  # "wf:<name>" or "tpl:<name>"
    title: str
    description: str
    workflow_type: str
    model: type[BaseModel]
    template: TaskTemplate | None = None

    def schema(self) -> dict[str, Any]:
        return self.template.form_schema() if self.template else self.model.model_json_schema()


def build_catalog(
    workflows: list[type] | None = None, templates_file: Path | None = None
) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for cls in workflows if workflows is not None else load_workflows():
        info = describe_workflow(cls)
        if info.name in HIDDEN or info.input_model is None:
            continue
        out[f"wf:{info.name}"] = Entry(
            f"wf:{info.name}", info.name, info.description, info.name, info.input_model
        )
    for tpl in configured_templates(templates_file):
        out[f"tpl:{tpl.name}"] = Entry(
            f"tpl:{tpl.name}", tpl.title, tpl.description, "AgentTask", tpl.form_model(), tpl
        )
    return out
