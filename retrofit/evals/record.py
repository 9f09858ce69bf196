"""Record mode (`retrofit eval --live --record DIR`): a live model's conversation, written as a
Script the scripted server replays plus a scenario file that plays it, so a live failure becomes a
deterministic regression test (`retrofit eval DIR`).

The turns come from the run's `llm.decision` audit records: what the model answered, as the agent
saw it (redacted: secrets and PII in the answers are replaced there, so they never reach the
recording), tool-call arguments as the raw text the model sent (broken JSON stays broken). The
final answer is the agent's full answer (the audit record keeps the first 600 characters). A turn
with both text and tool calls keeps the calls (the scripted server plays one or the other); a tool
name the scripted server cannot play (outside `[a-zA-Z0-9_-]{1,64}`) is replaced by a safe one and
said so in the file's header. Failed attempts (timeouts, HTTP errors) are not turns and are not
replayed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrofit.agent.contracts import AgentTaskResult
from retrofit.audit.events import AuditKind, AuditRecord
from retrofit.evals.runner import ScenarioScore
from retrofit.evals.scenario import Scenario
from retrofit.llm.scripted_server import Script, ScriptedToolCall, ScriptedTurn

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def recorded_script(
    records: Sequence[AuditRecord], result: AgentTaskResult | None, model: str
) -> tuple[Script, list[str]]:
    """The model's turns of one run, and notes on what could not be kept exactly."""
    notes: list[str] = []
    decisions = [r for r in sorted(records, key=lambda r: r.seq) if r.kind is AuditKind.LLM_DECISION]
    turns: list[ScriptedTurn] = []
    for index, record in enumerate(decisions):
        calls = record.data.get("tool_calls") or []
        if calls:
            played: list[ScriptedToolCall] = []
            for call in calls:
                name = str(call.get("name", "")) if isinstance(call, dict) else ""
                if _TOOL_NAME.fullmatch(name) is None:
                    safe = (re.sub(r"[^a-zA-Z0-9_-]", "_", name) or "unnamed")[:64]
                    notes.append(f"turn {index + 1}: tool name {name[:80]!r} played as {safe!r}")
                    name = safe
                arguments = call.get("arguments") if isinstance(call, dict) else None
                played.append(ScriptedToolCall(name=name, raw_arguments=str(arguments or "")))
            turns.append(ScriptedTurn(tool_calls=played))
            continue
        content = str(record.data.get("content") or "")
        last = index == len(decisions) - 1
        if last and result is not None and result.answer is not None:
            content = result.answer
        turns.append(ScriptedTurn(content=content))
    return Script(model=model, turns=turns), notes


def write_recording(
    folder: Path,
    scenario: Scenario,
    score: ScenarioScore,
    records: Sequence[AuditRecord],
    result: AgentTaskResult | None,
    *,
    suffix: str = "",
    taken: set[str] | None = None,
) -> Path:
    """DIR/<name>.json (the Script) and DIR/<name>.toml (the scenario playing it); returns the
    scenario file's path. `taken`: names written earlier in this run, so two scenarios whose names
    slug alike ("Chase!" and "chase") do not overwrite each other."""
    folder.mkdir(parents=True, exist_ok=True)
    base = stem = _slug(scenario.name) + suffix
    number = 1
    while taken is not None and stem in taken:
        number += 1
        stem = f"{base}-{number}"
    if taken is not None:
        taken.add(stem)
    script, notes = recorded_script(records, result, f"recorded-{stem}-scripted")
    (folder / f"{stem}.json").write_text(script.model_dump_json(indent=2), encoding="utf-8")
    data = scenario.model_dump(mode="json", exclude_none=True, exclude={"source", "model"})
    data["model"] = {"script": f"{stem}.json"}
    header = [
        f"Recorded by `retrofit eval --live --record` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"from {score.model or 'the live model'} ({len(script.turns)} turns); scenario {scenario.source}.",
        f"Live run: {'passed' if score.passed else 'FAILED'}, status {score.status}.",
        *(f"problem: {p}" for p in score.problems),
        *(f"note: {n}" for n in notes),
        "Replay: retrofit eval <this file> (the scripted server plays the turns above).",
    ]
    text = "".join(f"# {_comment(line)}\n" for line in header) + "\n" + toml_document(data)
    path = folder / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def toml_document(data: dict[str, Any]) -> str:
    """`key = value` lines, nested values as inline tables and arrays: enough TOML for a scenario
    (no writer ships with Python; tomllib reads only)."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in data.items() if v is not None)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _string(key)


def _string(text: str) -> str:
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate: not a character TOML (or UTF-8) can hold
            out.append("\ufffd")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _comment(line: str) -> str:
    return "".join(c if c.isprintable() else " " for c in line)


def _slug(name: str) -> str:
    return (
        "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in name.lower()).split())[:40]
        or "scenario"
    )
