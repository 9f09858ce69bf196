"""Decide a tool's effect: the server's annotations are a default, the operator's word is final.

A server (or anyone who controls it) must never be able to make a tool look harmless, so a
tool without annotations is WRITE and only the operator's configuration can lower it to READ.
"""

from __future__ import annotations

from typing import Any

from retrofit.sdk.effect import Effect


def effect_from_annotations(annotations: dict[str, Any] | None) -> Effect:
    """Map MCP tool annotations to an effect; anything unannotated or unclear is WRITE."""
    if not annotations:
        return Effect.WRITE
    if annotations.get("readOnlyHint") is True:
        return Effect.READ
    # MCP's own default for destructiveHint is true when a tool is not read-only.
    if annotations.get("destructiveHint", True) is True and "destructiveHint" in annotations:
        return Effect.DESTRUCTIVE
    return Effect.WRITE


def resolve_effect(annotations: dict[str, Any] | None, operator: Effect | None) -> Effect:
    """The operator's configured effect wins; otherwise the annotation-derived default."""
    if operator is not None:
        return operator
    return effect_from_annotations(annotations)
