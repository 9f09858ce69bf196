"""Effect inference for generated actions: a first guess from the description, always shown for review.

The guess is deliberately cautious (unknown → WRITE, never READ): an action wrongly marked READ
skips the approval step, one wrongly marked WRITE only asks a person once too often.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrofit.sdk.effect import Effect


@dataclass(frozen=True)
class InferredEffect:
    effect: Effect
    reason: str  # shown in the generated README and next to the action, e.g. "HTTP DELETE"


_HTTP = {
    "GET": Effect.READ,
    "HEAD": Effect.READ,
    "OPTIONS": Effect.READ,
    "POST": Effect.WRITE,
    "PUT": Effect.WRITE,
    "PATCH": Effect.WRITE,
    "DELETE": Effect.DESTRUCTIVE,
}

_SOAP_DESTRUCTIVE = re.compile(r"^(delete|remove|void|purge|cancel|destroy|erase)", re.IGNORECASE)
_SOAP_READ = re.compile(
    r"^(get|list|search|find|query|read|retrieve|describe|fetch|lookup|check|validate|count)",
    re.IGNORECASE,
)


def from_http_method(method: str) -> InferredEffect:
    verb = method.upper()
    return InferredEffect(_HTTP.get(verb, Effect.WRITE), f"HTTP {verb}")


def from_operation_name(name: str) -> InferredEffect:
    """SOAP and RPC operations: the verb at the start of the name."""
    if _SOAP_DESTRUCTIVE.match(name):
        return InferredEffect(Effect.DESTRUCTIVE, f"name {name!r} starts with a deleting verb")
    if _SOAP_READ.match(name):
        return InferredEffect(Effect.READ, f"name {name!r} starts with a reading verb")
    return InferredEffect(Effect.WRITE, f"name {name!r} has no reading verb (unknown → WRITE)")
