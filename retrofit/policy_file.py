"""Load a policy from a TOML file integrators edit without touching Python.

Read once when the worker starts (never inside a workflow); an invalid file stops the worker with
the file name and every problem found. Example: `examples/policy.toml`.

This is the operator's policy, the one in force: workers pin it into each workflow's history, and
what a workflow's own input asks for can only tighten it (`retrofit.gate.policy_merge`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from retrofit.gate.policy import Policy


class PolicyFileError(Exception):
    def __init__(self, path: Path, problems: list[str]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid policy file {path}:\n{lines}")
        self.path = path
        self.problems = problems


def load_policy_file(path: Path) -> Policy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyFileError(path, ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(path, [f"not valid TOML: {exc}"]) from None
    # The file uses friendlier section names than the model.
    renamed = {
        {"effects": "by_effect", "actions": "by_action"}.get(key, key): value for key, value in raw.items()
    }
    try:
        return Policy.model_validate(renamed)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            loc = loc.replace("by_effect", "effects", 1).replace("by_action", "actions", 1)
            problems.append(f"{loc or '(top level)'}: {err['msg']}")
        raise PolicyFileError(path, problems) from None
