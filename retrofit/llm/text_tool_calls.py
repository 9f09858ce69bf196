"""Tool calls a model wrote as text: for local servers that do not return native `tool_calls`.

Opt-in per endpoint (`text_tool_calls` in RETROFIT_LLM_ENDPOINTS, RETROFIT_LLM_TEXT_TOOL_CALLS for
the primary): off, a model's prose that holds JSON is prose. On, the client turns an answer with
no native calls into calls when its text is, in this order (the first kind found wins):

    <tool_call>{"name": ..., "arguments": {...}}</tool_call>   one per element (Hermes, Qwen)
    ```json {"name": ..., "arguments": {...}} ```              fenced; an object or a list of them
    {"name": ..., "arguments": {...}}                          the whole answer, or a list of them

`parameters` is read as `arguments` (Llama 3), and OpenAI's own `{"type": "function", "function":
{...}}` shape is read too. A fenced block or a bare object is a call only if it has exactly that
shape (a name and arguments, nothing else but `id`/`type`) and a tool-like name; anything else
stays text. A `<tool_call>` element is a call whatever it holds: when its JSON is broken, the call goes on
with the raw text as arguments (or with no usable name, as `invalid_tool_call`), so the agent
refuses it and tells the model why, as it does a native call with broken arguments.

Parsed calls are plain `ToolCall`s: the agent validates them like native ones (unknown names are
refused, arguments checked against the schema, the gate decides). At most `MAX_CALLS` are read
from one answer; what the text says besides the calls is kept as the turn's content.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from retrofit.llm.contracts import ToolCall

MAX_CALLS = 32
#: The name a `<tool_call>` element gets when no name can be read from it: no tool has it.
INVALID_NAME = "invalid_tool_call"
_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_FENCE = "```"
_FENCE_LANGS = frozenset({"", "json", "tool_call", "tool_code"})
_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_NAME_IN_TEXT = re.compile(r'"name"\s*:\s*"([a-zA-Z0-9_.-]{1,64})"')
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "id", "type"})
# Broken arguments are kept to be shown to the model, cut to this length.
_MAX_RAW_ARGUMENTS = 2000


def parse_text_tool_calls(content: str) -> tuple[str | None, list[ToolCall]]:
    """(the text left once the calls are taken out, or None if nothing is; the calls). No calls
    found: `(content, [])`, unchanged."""
    for find in (_tagged, _fenced, _bare):
        found = find(content)
        if found is not None:
            rest, calls = found
            if calls:
                named = [_with_id(content, i, name, args) for i, (name, args) in enumerate(calls[:MAX_CALLS])]
                return rest.strip() or None, named
    return content, []


def _tagged(content: str) -> tuple[str, list[tuple[str, str]]] | None:
    if _OPEN not in content:
        return None
    rest: list[str] = []
    calls: list[tuple[str, str]] = []
    position = 0
    while len(calls) < MAX_CALLS:
        start = content.find(_OPEN, position)
        if start < 0:
            break
        rest.append(content[position:start])
        body_start = start + len(_OPEN)
        end = content.find(_CLOSE, body_start)
        # A model that stops before closing the element (some do) still meant the call.
        body = content[body_start:] if end < 0 else content[body_start:end]
        position = len(content) if end < 0 else end + len(_CLOSE)
        calls.extend(_tagged_calls(body.strip()))
    rest.append(content[position:])
    return "".join(rest), calls


def _tagged_calls(body: str) -> list[tuple[str, str]]:
    value = _loads(body)
    if value is not _BROKEN:
        shaped = _shaped(value, tagged=True)
        if shaped:
            return shaped
    # Meant as a call and not one: the agent refuses it and says why.
    match = _NAME_IN_TEXT.search(body)
    return [(match.group(1) if match else INVALID_NAME, _raw_arguments(body))]


def _fenced(content: str) -> tuple[str, list[tuple[str, str]]] | None:
    rest: list[str] = []
    calls: list[tuple[str, str]] = []
    position = 0
    while len(calls) < MAX_CALLS:
        start = content.find(_FENCE, position)
        if start < 0:
            break
        line_end = content.find("\n", start)
        end = content.find(_FENCE, line_end + 1) if line_end >= 0 else -1
        if end < 0:
            break
        lang = content[start + len(_FENCE) : line_end].strip().lower()
        shaped = _shaped(_loads(content[line_end + 1 : end])) if lang in _FENCE_LANGS else []
        if shaped:
            rest.append(content[position:start])
            calls.extend(shaped)
        else:  # a code block that is not a call: text
            rest.append(content[position : end + len(_FENCE)])
        position = end + len(_FENCE)
    rest.append(content[position:])
    return ("".join(rest), calls) if calls else None


def _bare(content: str) -> tuple[str, list[tuple[str, str]]] | None:
    text = content.strip()
    if not text.startswith(("{", "[")):
        return None
    shaped = _shaped(_loads(text))
    return ("", shaped) if shaped else None


_BROKEN = object()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # nested past the parser's depth is broken too
        return _BROKEN


def _shaped(value: Any, *, tagged: bool = False) -> list[tuple[str, str]]:
    """(name, arguments text) of a call-shaped object or a list of only such objects; else []."""
    items = value if isinstance(value, list) else [value]
    calls = [_call(item, tagged) for item in items[: MAX_CALLS + 1]]
    if not items or len(items) > MAX_CALLS or any(call is None for call in calls):
        return []
    return [call for call in calls if call is not None]


def _call(item: Any, tagged: bool) -> tuple[str, str] | None:
    if not isinstance(item, dict):
        return None
    if (
        item.get("type") == "function"
        and isinstance(item.get("function"), dict)
        and set(item) <= {"id", "type", "function"}
    ):
        item = item["function"]
    if not set(item) <= _CALL_KEYS or ("arguments" in item and "parameters" in item):
        return None
    # Outside a <tool_call> element the arguments must be there: an answer that is just
    # {"name": "Ada"} (an output schema's, say) is an answer.
    if not tagged and "arguments" not in item and "parameters" not in item:
        return None
    name = item.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):  # JSON text, as OpenAI sends it: the agent parses it
        return name, _raw_arguments(arguments, cut=False)
    try:
        return name, json.dumps(arguments, ensure_ascii=False)
    except RecursionError:
        return name, _TOO_DEEP


_TOO_DEEP = "<arguments nested too deeply to read>"


def _raw_arguments(text: str, *, cut: bool = True) -> str:
    """Broken or textual arguments as the agent may parse them: broken ones cut short, and none
    nested so deep that parsing them raises anything but a JSON error."""
    if cut:
        text = text[:_MAX_RAW_ARGUMENTS]
    try:
        json.loads(text)
    except RecursionError:
        return _TOO_DEEP
    except ValueError:
        pass
    return text


def _with_id(content: str, index: int, name: str, arguments: str) -> ToolCall:
    # Deterministic: the same answer gives the same ids (replays, caches, tests).
    digest = hashlib.sha256(f"{index}\x00{name}\x00{arguments}\x00{content}".encode()).hexdigest()[:24]
    return ToolCall(id=f"call_text_{digest}", name=name, arguments=arguments)
