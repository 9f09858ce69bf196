"""Structured logs: one JSON object per line with the Temporal context of the record.

`RETROFIT_LOG_FORMAT=json`. Workflow and activity ids come from what Temporal's own loggers put
on the record (`workflow.logger`, `activity.logger`), else from the running activity's info; the
step and action from the action being executed, else from what the activity serves
(`log_context`). Plain `logging.getLogger(...)` calls inside an
activity or a connector therefore carry the same ids as the SDK's loggers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow

from retrofit.observability.log_context import activity_fields, activity_trace_id
from retrofit.observability.trace_ids import current_trace_id
from retrofit.observability.workflow_trace import workflow_trace_id
from retrofit.sdk.context import current_call
from retrofit.settings import RetrofitSettings

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(temporal_context(record))
        for key, value in vars(record).items():
            if (
                key not in _STANDARD
                and key not in ("temporal_workflow", "temporal_activity")
                and key not in entry
            ):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    wf = getattr(record, "temporal_workflow", None)
    if isinstance(wf, dict):
        found.update(
            workflow_id=wf.get("workflow_id"),
            run_id=wf.get("run_id"),
            workflow_type=wf.get("workflow_type"),
            task_queue=wf.get("task_queue"),
        )
    act = getattr(record, "temporal_activity", None)
    if not isinstance(act, dict) and activity.in_activity():
        info = activity.info()
        act = {
            "activity_id": info.activity_id,
            "activity_type": info.activity_type,
            "attempt": info.attempt,
            "task_queue": info.task_queue,
            "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id,
            "workflow_type": info.workflow_type,
        }
    if isinstance(act, dict):
        found.update(
            workflow_id=act.get("workflow_id"),
            run_id=act.get("workflow_run_id"),
            workflow_type=act.get("workflow_type"),
            activity=act.get("activity_type"),
            activity_id=act.get("activity_id"),
            attempt=act.get("attempt"),
            task_queue=act.get("task_queue"),
        )
    # The trace the line belongs to: ops go from a log line to its workflow's trace.
    if workflow.in_workflow():
        found["trace_id"] = workflow_trace_id()
    elif activity.in_activity():
        found["trace_id"] = current_trace_id() or activity_trace_id()
    fields = activity_fields()  # the step and action the activity serves, for its whole task
    if fields is not None:
        found.update(step=fields.step, action=fields.action)
    try:
        call = current_call()
    except RuntimeError:
        pass  # not inside an action
    else:
        found.update(step=call.step, action=call.action, workflow_id=call.workflow_id, run_id=call.run_id)
    return {k: v for k, v in found.items() if v is not None}


def configure_logging(settings: RetrofitSettings) -> None:
    """Root logging for a worker process: JSON lines or plain text on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
        # The SDK's loggers also append their context to the message text; a JSON line already
        # carries it as fields.
        workflow.logger.workflow_info_on_message = False
        activity.logger.activity_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
