"""A workflow's start input that does not decode fails the workflow at once, audited, instead of
failing its first workflow task again and again (the worker spins, the workflow stays RUNNING).

Temporal decodes the start input before any workflow code or interceptor runs; a decode error
there is a workflow *task* failure, which the server retries forever. So Retrofit's payload
converter (`retrofit.codec.payloads`) does not raise for a `WorkflowInput` type: it hands the
workflow an `UndecodedInput` saying why, and the gate's interceptor records `workflow.refused`
and fails the run with a non-retryable `InvalidWorkflowInput` before the workflow's code sees it.

Only `WorkflowInput` subclasses get this: the converter cannot tell a start input from an update
or activity argument by type alone, and those must keep failing the way Temporal expects (an
update is rejected, a signal dropped). Every shipped workflow's input is one; the guide teaches
integrators to derive theirs from it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError

#: The failure type a refused start carries (the CLI, the UI and clients read it).
INVALID_WORKFLOW_INPUT = "InvalidWorkflowInput"


class WorkflowInput(BaseModel):
    """Base for a workflow's start input: unknown fields are refused (a misspelt `treshold` is an
    error, not a default), and input that does not decode fails the run at once, audited."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class UndecodedInput:
    """What the workflow gets instead of its input when the start payload did not decode."""

    expected: str  # the input type's name
    problems: tuple[str, ...]  # `field: why`, never the value given (it may be a secret)


def is_workflow_input(type_hint: object) -> TypeGuard[type[WorkflowInput]]:
    return inspect.isclass(type_hint) and issubclass(type_hint, WorkflowInput)


def validation_problems(error: ValidationError, prefix: str = "") -> tuple[str, ...]:
    """pydantic's errors as `field: why` (`prefix.field` when given), never the value given."""
    return tuple(
        f"{'.'.join([prefix, *map(str, e['loc'])] if prefix else map(str, e['loc'])) or 'input'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)
    )


def decode_problems(error: BaseException) -> tuple[str, ...]:
    """Why a payload did not decode, as `field: why`, without the values."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ValidationError | json.JSONDecodeError):
        cause = cause.__cause__
    if isinstance(cause, ValidationError):
        return validation_problems(cause)
    if isinstance(cause, json.JSONDecodeError):
        return (f"input: not JSON ({cause.msg} at position {cause.pos})",)
    if isinstance(error, KeyError):  # the composite converter's "Unknown payload encoding ..."
        return (f"input: {error.args[0] if error.args else 'unknown payload encoding'}",)
    return (f"input: does not decode ({type(error).__name__})",)


def start_problems(run_fn: Any, args: Sequence[Any]) -> tuple[str, ...]:
    """Why these start arguments cannot run `run_fn`: an input that did not decode, or too few
    or too many arguments (Temporal then passes the raw values, untyped)."""
    undecoded = [a for a in args if isinstance(a, UndecodedInput)]
    if undecoded:
        return tuple(p for a in undecoded for p in a.problems)
    typed = _start_parameters(run_fn)
    if typed is None:
        return ()  # a signature we cannot read: leave it to Temporal
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p, _ in typed):
        return ()
    required = sum(1 for p, _ in typed if p.default is inspect.Parameter.empty)
    if not required <= len(args) <= len(typed):
        expected = f"{required}" if required == len(typed) else f"{required} to {len(typed)}"
        return (f"input: expected {expected} argument(s), got {len(args)}",)
    for (_, hint), arg in zip(typed, args, strict=False):
        if is_workflow_input(hint) and not isinstance(arg, hint):
            return (f"input: not a {hint.__name__}",)
    return ()


def _start_parameters(run_fn: Any) -> list[tuple[inspect.Parameter, object]] | None:
    """The run method's parameters after `self`, each with its type hint; None when unreadable."""
    try:
        parameters = list(inspect.signature(run_fn).parameters.values())[1:]
        hints = get_type_hints(run_fn)
    except (TypeError, ValueError, NameError):
        return None
    return [(p, hints.get(p.name)) for p in parameters]


def loose_inputs(workflows: Sequence[type]) -> list[str]:
    """The workflows (by name) with a start parameter that is not a `WorkflowInput`: a start
    whose input does not decode fails their first workflow task again and again."""
    loose: list[str] = []
    for cls in workflows:
        definition = getattr(cls, "__temporal_workflow_definition", None)
        run_fn = getattr(definition, "run_fn", None)
        typed = None if run_fn is None else _start_parameters(run_fn)
        if typed is not None and any(not is_workflow_input(hint) for _, hint in typed):
            loose.append(getattr(definition, "name", None) or cls.__name__)
    return loose
