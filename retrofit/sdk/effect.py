from __future__ import annotations

from enum import StrEnum


class Effect(StrEnum):
    """What an action does to the legacy system; drives the default policy."""

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"  # irreversible: delete, void, send money
