"""Redaction at the boundaries a workflow cannot reach: activities (tool results, the model
request and answer), the audit store's append, and the CLI before it starts a workflow.

The same rules as `retrofit.redaction`, then the `detect-secrets` plugins over what is left:
they know many more vendor key formats (Twilio, Square, Azure, IBM, Discord, Telegram, ...), the
keyword rules of config files and quoted high-entropy strings. They import an HTTP client (for
verifying keys, which is never done here), so this module must stay out of workflow code; the
determinism-boundary test checks that `retrofit` and the gate do not import it.

Same signatures as the workflow-safe functions, so a caller switches by its import line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.keyword import CONFIG_DENYLIST_REGEX_TO_GROUP, KeywordDetector

from retrofit.llm import contracts as llm_contracts
from retrofit.llm.contracts import ToolCall
from retrofit.redaction import structured
from retrofit.redaction import text as workflow_safe
from retrofit.redaction.placeholders import SECRET, is_placeholder

# A public IP address is not a secret (and version strings look like one).
_SKIPPED: tuple[type[BasePlugin], ...] = (IPPublicDetector,)
_PLUGIN_CLASSES: list[type[BasePlugin]] = list(get_mapping_from_secret_type_to_class().values())
_PLUGINS: tuple[BasePlugin, ...] = tuple(cls() for cls in _PLUGIN_CLASSES if not issubclass(cls, _SKIPPED))

# Every plugin needs a long token or a keyword on the line: other lines are not scanned.
_WORDS = ("pass", "pwd", "secret", "key", "token", "contrase", "://")
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9_\-+/=.])[A-Za-z0-9_\-+/=.]{20}")


def _worth_scanning(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _WORDS) or (len(text) >= 20 and bool(_LONG_RUN.search(text)))


# Hex digests and UUIDs name records (the trail's own hashes among them): never secrets here.
_RECORD_ID = re.compile(
    r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)
_SHORTEST_SECRET = 8


def _found(line: str) -> set[str]:
    values: set[str] = set()
    for plugin in _PLUGINS:
        if isinstance(plugin, KeywordDetector):
            # The config-file rules: `password: x` and `secret = x` need no quotes there.
            found = plugin.analyze_string(line, denylist_regex_to_group=CONFIG_DENYLIST_REGEX_TO_GROUP)
        else:
            found = plugin.analyze_string(line)
        for value in found:
            # The entropy plugins leave their limit to the caller (it is what makes a finding).
            if isinstance(plugin, HighEntropyStringsPlugin) and not (
                plugin.calculate_shannon_entropy(value) > plugin.entropy_limit
            ):
                continue
            values.add(value)
    return {v for v in values if _worth_replacing(v)}


def _worth_replacing(value: str) -> bool:
    stripped = value.strip("\"'")
    return (
        len(stripped) >= _SHORTEST_SECRET
        and not is_placeholder(stripped)
        and not _RECORD_ID.fullmatch(stripped)
        and not stripped.isdigit()
    )


def secrets_in(text: str) -> set[str]:
    """The secret values `detect-secrets` finds in `text`, line by line."""
    if not _worth_scanning(text):
        return set()
    found: set[str] = set()
    for line in text.splitlines():
        for piece in _pieces(line):
            if _worth_scanning(piece):
                found |= _found(piece)
    return found


# Some plugin patterns are slow on one very long line (a minified body, a hostile note): scan
# long lines in overlapping pieces. A secret is far shorter than the overlap, so none is cut.
_PIECE = 2048
_OVERLAP = 256


def _pieces(line: str) -> list[str]:
    if len(line) <= _PIECE:
        return [line]
    return [line[start : start + _PIECE] for start in range(0, len(line) - _OVERLAP, _PIECE - _OVERLAP)]


def redact_text(text: str) -> str:
    """`retrofit.redaction.redact_text`, then whatever `detect-secrets` still finds."""
    return scrub_detected(workflow_safe.redact_text(text))


def scrub_detected(text: str) -> str:
    """Only the `detect-secrets` step, for text the workflow-safe rules have already cleaned."""
    if len(text) < _SHORTEST_SECRET or workflow_safe.harmless(text) or _RECORD_ID.fullmatch(text):
        return text
    for value in sorted(secrets_in(text), key=len, reverse=True):
        # Whole tokens only: a value must not take a piece out of a longer word.
        text = re.sub(rf"(?<![\w]){re.escape(value)}(?![\w])", SECRET, text)
    return text


def redact(value: Any) -> Any:
    return structured.redact_using(value, redact_text)


def redact_with(value: Any, patterns: Mapping[str, str]) -> Any:
    return structured.redact_with(value, patterns, text=redact_text)


def redacted_turn(
    content: str | None, calls: Sequence[ToolCall], redactions: Mapping[str, str]
) -> dict[str, Any]:
    """`retrofit.llm.contracts.redacted_turn` (the one way a model turn is cleaned), then what
    `detect-secrets` still finds: the model request as it leaves, the answer as it comes back."""
    turn = llm_contracts.redacted_turn(content, calls, redactions)
    return {
        "content": None if turn["content"] is None else scrub_detected(turn["content"]),
        "tool_calls": [
            call.model_copy(update={"arguments": scrub_detected(call.arguments)})
            for call in turn["tool_calls"]
        ],
    }


# Workflow inputs that are free text meant for a model: redacted before the workflow starts, so
# neither history nor the workflow's own details and summaries ever hold them in plain.
_FREE_TEXT_INPUTS: Mapping[str, tuple[str, ...]] = {"AgentTask": ("goal",)}


def redact_start_input(workflow_type: str, raw: Any) -> Any:
    """A workflow's JSON input with its free-text fields redacted (`retrofit start`, like `agent run`)."""
    fields = _FREE_TEXT_INPUTS.get(workflow_type, ())
    if not fields or not isinstance(raw, dict):
        return raw
    return {k: redact_text(v) if k in fields and isinstance(v, str) else v for k, v in raw.items()}
