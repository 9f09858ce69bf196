"""Retrofit's payload converter: pydantic JSON, and a start input that does not decode handed to
the workflow as `UndecodedInput` rather than raised (see `retrofit.gate.workflow_input`)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter

from retrofit.gate.workflow_input import UndecodedInput, decode_problems, is_workflow_input


class RetrofitPayloadConverter(PydanticPayloadConverter):
    def from_payloads(self, payloads: Sequence[Payload], type_hints: list[type] | None = None) -> list[Any]:
        if not type_hints or not any(is_workflow_input(t) for t in type_hints):
            return super().from_payloads(payloads, type_hints)
        values: list[Any] = []
        for payload, hint in zip_longest(payloads, type_hints):
            if payload is None:
                break
            try:
                values.extend(super().from_payloads([payload], None if hint is None else [hint]))
            except Exception as exc:
                if not is_workflow_input(hint):
                    raise
                values.append(UndecodedInput(hint.__name__, decode_problems(exc)))
        return values
