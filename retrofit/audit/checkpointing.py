"""Writing checkpoints: on demand (`retrofit audit checkpoint`) and from workers (`CheckpointLoop`).

A checkpoint is signed only for a chain that extends the latest checkpoint already in the
witness: the record at that checkpoint's seq still has its hash, every record after it links
and hashes, and no seq below the new head is missing. Signing a head without that check would
launder an edit made since: a chain that fails it is refused, loudly, and nothing is signed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.exc import SQLAlchemyError
from temporalio.plugin import SimplePlugin

from retrofit.audit.checkpoint import Checkpoint, CheckpointError, public_key_id, read_checkpoint, sign
from retrofit.audit.checkpoint_settings import CheckpointConfig, checkpoint_config
from retrofit.audit.store import AuditStore
from retrofit.audit.witness import Witness, WitnessError, checkpoint_name, open_witness
from retrofit.settings import RetrofitSettings

log = logging.getLogger(__name__)


class CheckpointRefused(RuntimeError):
    """The chain does not extend the latest checkpoint (or the witness is altered): nothing signed."""


@dataclass(frozen=True)
class Written:
    checkpoint: Checkpoint
    where: str


class Checkpointer:
    """Signs the store's head and hands it to the witness."""

    def __init__(
        self,
        store: AuditStore,
        witness: Witness,
        key: Ed25519PrivateKey,
        store_id: str,
        trusted: dict[str, Ed25519PublicKey] | None = None,
    ) -> None:
        self.store, self.witness, self.store_id = store, witness, store_id
        self._key = key
        own = key.public_key()
        # The latest checkpoint may be signed by a key since rotated out: the trusted list counts.
        self._trusted = {**(trusted or {}), public_key_id(own): own}

    async def checkpoint(self, *, only_if_moved: bool = False, full: bool = False) -> Written | None:
        """Sign and keep the head; None when the store is empty (or, with `only_if_moved`, when
        the head is the latest checkpoint's). Raises CheckpointRefused or WitnessError.

        Before signing, the records after the latest checkpoint must link on from it (cheap
        enough for every tick); with `full` the whole chain is re-hashed first (on demand). An
        edit that was not re-hashed stays visible to verify either way: signing the head does
        not cover it. One that was re-hashed after the latest checkpoint cannot be told from an
        honest append by anything — which is why workers checkpoint every minute.
        """

        latest = await self._latest()
        start = (latest.seq, latest.hash) if latest is not None else None
        if latest is not None:
            stored = (await self.store.hashes_at([latest.seq])).get(latest.seq)
            if stored is None:
                raise CheckpointRefused(
                    f"the store has no record at seq {latest.seq}, which the latest checkpoint "
                    f"{latest.describe()} signed: records were deleted; nothing signed"
                )
            if stored != latest.hash:
                raise CheckpointRefused(
                    f"the record at seq {latest.seq} no longer has the hash the latest checkpoint "
                    f"{latest.describe()} signed: the chain was rewritten; nothing signed"
                )
        report = await (self.store.verify() if full else self.store.verify_links(start))
        if not report.ok:
            assert report.first_break is not None
            brk = report.first_break
            raise CheckpointRefused(f"the chain is broken at seq {brk.seq}: {brk.reason}; nothing signed")
        head_seq = report.head_seq or 0
        if head_seq == 0 or report.head_hash is None:
            return None
        if only_if_moved and latest is not None and latest.seq == head_seq:
            return None
        count = await self.store.count_through(head_seq)
        if count != head_seq:
            raise CheckpointRefused(
                f"{head_seq - count} records are missing below seq {head_seq} (deleted); nothing signed"
            )
        checkpoint = sign(
            self._key,
            store=self.store_id,
            seq=head_seq,
            hash=report.head_hash,
            count=count,
            time=datetime.now(UTC),
            previous=latest.digest if latest is not None else None,
        )
        name = checkpoint_name(checkpoint.seq, checkpoint.time, checkpoint.digest)
        where = await self.witness.write(self.store_id, name, checkpoint.document())
        return Written(checkpoint, where)

    async def _latest(self) -> Checkpoint | None:
        entry = await self.witness.latest(self.store_id)
        if entry is None:
            return None
        try:
            return read_checkpoint(entry.text, self._trusted, self.store_id)
        except CheckpointError as exc:
            raise CheckpointRefused(
                f"the latest checkpoint in the witness ({entry.where}) is {exc}"
            ) from None


class CheckpointLoop:
    """Checkpoints every `interval_seconds` while the head moves, and once more on stop.

    Opens its own store connection and witness, so a worker starts and stops it around its run
    (`checkpoint_plugin`). A refused checkpoint is logged as an error and retried next tick:
    a worker keeps serving, and the refusal stays visible until someone looks.
    """

    def __init__(self, config: CheckpointConfig) -> None:
        if config.witness is None:
            raise ValueError("no witness configured: nothing to checkpoint to")
        self.config = config
        self.last: Written | None = None
        self.refusals = 0
        self._store: AuditStore | None = None
        self._witness: Witness | None = None
        self._checkpointer: Checkpointer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self.config
        assert config.witness is not None
        self._witness = open_witness(config.witness)
        key = config.signing_key()
        self._store = await AuditStore.open(config.store_url)
        self._checkpointer = Checkpointer(
            self._store, self._witness, key, config.store_id, config.trusted_keys()
        )
        self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            if self._checkpointer is not None:
                await self.tick()  # at shutdown: what this worker appended last is anchored too
        finally:
            if self._store is not None:
                await self._store.close()
            if self._witness is not None:
                self._witness.close()
            self._store = self._witness = self._checkpointer = None

    async def tick(self) -> Written | None:
        assert self._checkpointer is not None
        try:
            written = await self._checkpointer.checkpoint(only_if_moved=True)
        except (CheckpointRefused, WitnessError, SQLAlchemyError, OSError) as exc:
            self.refusals += 1
            log.error("audit checkpoint not written (%s): %s", self.config.witness, exc)
            return None
        if written is not None:
            self.last = written
            log.info("audit checkpoint %s -> %s", written.checkpoint.describe(), written.where)
        return written

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval_seconds)
            try:
                await self.tick()
            except Exception:
                # Whatever went wrong this time, the next tick tries again: a loop that died
                # quietly would leave the head unanchored with nobody told.
                self.refusals += 1
                log.exception("audit checkpoint failed (%s)", self.config.witness)

    async def __aenter__(self) -> CheckpointLoop:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def checkpoint_plugin(settings: RetrofitSettings) -> SimplePlugin | None:
    """The worker hook: a plugin whose run context is a CheckpointLoop (None without a witness).

    Listed before Retrofit's own plugin, it wraps it: the final checkpoint comes after the
    worker's audit store has committed its last appends.
    """
    config = checkpoint_config(settings)
    if config.witness is None:
        return None
    open_witness(config.witness).close()  # a malformed witness setting stops the worker here, by name

    @asynccontextmanager
    async def checkpointing() -> AsyncIterator[None]:
        async with CheckpointLoop(config):
            yield

    return SimplePlugin("retrofit-audit-checkpoints", run_context=checkpointing)
