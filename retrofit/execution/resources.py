"""What a worker opens once and closes on shutdown: the audit store and every connector."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from retrofit.audit.events import AuditEvent
from retrofit.audit.store import AuditStore
from retrofit.execution.circuit_breaker import BreakerBoard, BreakerConfig, BreakerOverride, CircuitBreaker
from retrofit.observability.trace_ids import with_trace_id
from retrofit.redaction.boundary import redact
from retrofit.sdk.connector import Connector, ConnectorSettings

log = logging.getLogger(__name__)


class WorkerResources:
    def __init__(
        self,
        connector_classes: Sequence[type[Connector]],
        audit_url: str,
        settings_overrides: Mapping[str, ConnectorSettings] | None = None,
        *,
        breaker_defaults: BreakerConfig | None = None,
        breaker_overrides: Mapping[str, BreakerOverride] | None = None,
    ) -> None:
        self._classes = list(connector_classes)
        self.breakers = BreakerBoard(breaker_defaults, breaker_overrides)
        self._audit_url = audit_url
        self._overrides = dict(settings_overrides or {})
        self._connectors: dict[str, Connector] = {}
        self._store: AuditStore | None = None

    @property
    def store(self) -> AuditStore:
        if self._store is None:
            raise RuntimeError("worker resources are not open")
        return self._store

    async def record(self, events: Sequence[AuditEvent]) -> int:
        """Append audit events, redacted here once more: whatever a writer put in `data`, secrets
        and PII never reach the store (redaction is idempotent, so pre-redacted data is unchanged).
        Each carries the workflow's trace id (`data["trace_id"]`), from ops' record to its trace."""
        return await self.store.append(
            [e.model_copy(update={"data": redact(e.data)}) for e in with_trace_id(events)]
        )

    def breaker(self, connector: str) -> CircuitBreaker:
        return self.breakers.breaker(connector)

    def connector(self, name: str) -> Connector:
        try:
            return self._connectors[name]
        except KeyError:
            raise RuntimeError(f"connector {name!r} is not open on this worker") from None

    async def open(self) -> None:
        self._store = await AuditStore.open(self._audit_url)
        try:
            for cls in self._classes:
                settings = self._overrides.get(cls.name) or cls.load_settings()
                instance = cls(settings)
                own = BreakerOverride(
                    threshold=settings.breaker_threshold, open_seconds=settings.breaker_open_seconds
                )
                self.breakers.configure(cls.name, own)
                await instance.open()
                self._connectors[cls.name] = instance
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for name, instance in reversed(list(self._connectors.items())):
            try:
                await instance.close()
            except Exception:
                # One connector failing to close must not keep the others (or the store) open.
                log.exception("connector %s failed to close", name)
        self._connectors.clear()
        if self._store is not None:
            await self._store.close()
            self._store = None
