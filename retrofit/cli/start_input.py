"""What `retrofit start` refuses before anything starts: input Temporal, JSON or pydantic cannot
carry, each as one sentence (`StartInputError`), never a traceback half-way through a start.

A workflow refused here never exists, so nothing is left running and nothing needs auditing;
a workflow that gets past these checks still validates its input itself (a raw client or the
UI's Start Workflow form do not come through here).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

#: Temporal's default limit for one payload (`limit.blobSize.error`, the same on Temporal
#: Cloud); a start request as a whole may not exceed 4 MB (gRPC). The input is one payload.
MAX_INPUT_BYTES = 2 * 1024 * 1024
#: pydantic serialises at most ~255 levels and Python's json parser overflows near 1000; the
#: gate nests the input further (audit records, approval views), so real inputs stay far below.
MAX_DEPTH = 64
#: Temporal's default limit for a workflow id (`limit.maxIDLength`).
MAX_ID_LENGTH = 1000


class StartInputError(ValueError):
    """The start was refused before anything was sent; the message says why in one sentence."""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_big() -> StartInputError:
    return StartInputError(
        f"--input is over {_megabytes(MAX_INPUT_BYTES)}; Temporal refuses a payload over {_megabytes(MAX_INPUT_BYTES)} "
        "(its default blob size limit): pass a reference the workflow can look up instead"
    )


def _refuse_constant(name: str) -> Any:
    raise StartInputError(f"--input is not valid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StartInputError(f"--input is not valid JSON for Temporal: {text} is out of range for a number")
    return value


def read_input_argument(argument: str) -> str:
    """`--input` as given: JSON text, `@path` for a file, or `-` for standard input (an
    argument over 128 KB does not fit on a Linux command line)."""
    if argument == "-":
        return _decoded(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), "standard input")
    if argument.startswith("@"):
        path = Path(argument[1:])
        try:
            with path.open("rb") as handle:
                return _decoded(handle.read(MAX_INPUT_BYTES + 1), str(path))
        except OSError as exc:
            raise StartInputError(f"--input {argument}: cannot read {path}: {exc.strerror}") from None
    return argument


def _decoded(data: bytes, where: str) -> str:
    # One byte past the limit is enough to say "too big" without reading a huge file whole; said
    # before decoding, since the cut may fall inside a character.
    if len(data) > MAX_INPUT_BYTES:
        raise _too_big()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StartInputError(f"--input from {where} is not UTF-8 (byte {exc.start})") from None


def parse_input(text: str) -> Any:
    """The `--input` JSON, or StartInputError: too big for a Temporal payload, not JSON (NaN and
    Infinity are not JSON), nested too deep, or text that is not valid Unicode."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_INPUT_BYTES:
        raise _too_big()
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise StartInputError(
            f"--input is nested too deep: at most {MAX_DEPTH} levels are accepted"
        ) from None
    except json.JSONDecodeError as exc:
        raise StartInputError(f"--input is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer over Python's 4300-digit limit
        if isinstance(exc, StartInputError):
            raise
        raise StartInputError(f"--input is not valid JSON for Temporal: {exc}") from None
    check_value(value)
    return value


def check_value(value: Any) -> None:
    """Depth and Unicode of a decoded value, walked without recursion (it may be very deep)."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise StartInputError(
                f"--input is nested deeper than {MAX_DEPTH} levels (at {path[:80]}): "
                f"at most {MAX_DEPTH} levels are accepted"
            )
        if isinstance(item, str):
            check_text(item, f"--input at {path[:80]}")
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, f"--input at {path[:80]} (a key)")
                stack.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def check_text(text: str, what: str) -> None:
    """Refuse text with lone surrogates (`"\\ud800"` in JSON, or undecodable bytes in argv): it
    has no UTF-8 form, so Temporal's JSON payload cannot carry it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StartInputError(
            f"{what} is not valid Unicode: it contains a lone surrogate (U+{ord(text[exc.start]):04X}), "
            "which has no UTF-8 form"
        ) from None


def check_workflow_id(workflow_id: str) -> None:
    check_text(workflow_id, "--id")
    if not workflow_id.strip():
        raise StartInputError("--id is empty")
    if len(workflow_id) > MAX_ID_LENGTH:
        raise StartInputError(
            f"--id is {len(workflow_id)} characters; Temporal accepts at most {MAX_ID_LENGTH}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in workflow_id):
        raise StartInputError("--id contains control characters")
