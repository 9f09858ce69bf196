"""Witnesses: where signed checkpoints are kept, outside the audit database.

A witness only stores and hands back checkpoint documents; judging them is `anchored_verify`'s
job. Three kinds, chosen with `RETROFIT_AUDIT_WITNESS`:

- `dir:PATH` (the default, `<RETROFIT_DATA_DIR>/audit-witness`): one read-only file per checkpoint
  under `PATH/<store key>/`, created exclusively and fsynced, plus a `LATEST` pointer. Point it at
  WORM storage (an object-lock bucket mount, a `chattr +a` directory) in production.
- `git:PATH`: a git repository (bare or not; created if missing) where each checkpoint is one
  commit on `refs/heads/audit-checkpoints`. Verify reads every checkpoint ever committed, so one
  deleted in a later commit is still held against the chain, and the deletion is reported.
  Push it to a remote that refuses non-fast-forward updates.
- `db:URL`: a table `audit_witness_checkpoints` in a second database (any SQLAlchemy URL the
  store accepts); grant the workers INSERT and SELECT only.

A store's checkpoints are kept apart by its store id, so one witness can serve several stores.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    insert,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from retrofit.audit.url import ensure_sqlite_parent, sync_url

LATEST = "LATEST"
T = TypeVar("T")


class WitnessError(RuntimeError):
    """The witness cannot be read or written, or its latest pointer names a missing checkpoint."""


@dataclass(frozen=True)
class WitnessEntry:
    name: str  # the checkpoint's file name: `<seq:012d>-<time>-<digest>.json`
    where: str  # how a person finds it (a path, commit:path, a table row)
    text: str


@dataclass
class WitnessReading:
    entries: list[WitnessEntry]
    latest: str | None  # the name the latest pointer gives (None: no pointer)
    problems: list[str] = field(default_factory=list)  # what the witness itself shows was altered


class Witness(Protocol):
    @property
    def location(self) -> str: ...

    async def write(self, store: str, name: str, document: str) -> str:
        """Keep one checkpoint document; returns where it went."""
        ...

    async def latest(self, store: str) -> WitnessEntry | None:
        """The checkpoint the latest pointer names; WitnessError when it names a missing one."""
        ...

    async def read(self, store: str) -> WitnessReading:
        """Every checkpoint of `store` the witness has."""
        ...

    def close(self) -> None: ...


def checkpoint_name(seq: int, time: datetime, digest: str) -> str:
    return f"{seq:012d}-{time.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{digest[:12]}.json"


def seq_of(name: str) -> int:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else -1


def store_key(store: str) -> str:
    """A directory name for `store`: readable, and unique by its hash."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "_", store.rstrip("/").rsplit("/", 1)[-1])[-40:] or "store"
    return f"{tail}-{hashlib.sha256(store.encode()).hexdigest()[:12]}"


def open_witness(spec: str) -> Witness:
    """A witness from its `RETROFIT_AUDIT_WITNESS` spec."""
    kind, sep, target = spec.partition(":")
    if not sep or not target:
        raise WitnessError(f"RETROFIT_AUDIT_WITNESS={spec!r}: expected dir:PATH, git:PATH, db:URL or none")
    kind = kind.strip().lower()
    if kind == "dir":
        return DirectoryWitness(Path(target))
    if kind == "git":
        return GitWitness(Path(target))
    if kind == "db":
        return DatabaseWitness(target)
    raise WitnessError(f"RETROFIT_AUDIT_WITNESS={spec!r}: unknown witness kind {kind!r} (dir, git or db)")


def _newer(candidate: str, current: str | None) -> bool:
    return current is None or (seq_of(candidate), candidate) >= (seq_of(current), current)


class DirectoryWitness:
    """One file per checkpoint plus a `LATEST` pointer, under `root/<store key>/`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return f"dir:{self.root}"

    def _folder(self, store: str) -> Path:
        return self.root / store_key(store)

    async def write(self, store: str, name: str, document: str) -> str:
        return await asyncio.to_thread(self._write, self._folder(store), name, document)

    def _write(self, folder: Path, name: str, document: str) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        # Exclusive and read-only: a checkpoint is written once and never replaced.
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
            )
        except FileExistsError:
            # Two workers signing the same head in the same microsecond write the same bytes
            # (Ed25519 is deterministic); anything else under that name is not ours to replace.
            if path.read_text(encoding="utf-8") == document:
                return str(path)
            raise WitnessError(f"{path} exists with other content; checkpoint not written") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(document)
            out.flush()
            os.fsync(out.fileno())
        # The pointer moves forward only, under a lock: two workers checkpointing at once must
        # not leave it at the older of their two checkpoints.
        with (folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            pointer = folder / LATEST
            current = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None
            if _newer(name, current):
                with tempfile.NamedTemporaryFile(
                    "w", dir=folder, prefix=".latest-", delete=False, encoding="utf-8"
                ) as tmp:
                    tmp.write(name + "\n")
                    tmp.flush()
                    os.fsync(tmp.fileno())
                os.replace(tmp.name, pointer)
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return str(path)

    async def latest(self, store: str) -> WitnessEntry | None:
        return await asyncio.to_thread(self._latest, self._folder(store))

    def _latest(self, folder: Path) -> WitnessEntry | None:
        pointer = folder / LATEST
        if not pointer.exists():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        path = folder / name
        if not path.is_file():
            raise WitnessError(f"the latest pointer {pointer} names {name}, which is not in the witness")
        return WitnessEntry(name, str(path), path.read_text(encoding="utf-8"))

    async def read(self, store: str) -> WitnessReading:
        return await asyncio.to_thread(self._read, self._folder(store))

    def _read(self, folder: Path) -> WitnessReading:
        if not folder.is_dir():
            return WitnessReading([], None)
        entries = [
            WitnessEntry(path.name, str(path), path.read_text(encoding="utf-8", errors="replace"))
            for path in sorted(folder.glob("*.json"))
        ]
        pointer = folder / LATEST
        latest = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None
        return WitnessReading(entries, latest)

    def close(self) -> None:
        pass


class GitWitness:
    """Each checkpoint is a commit on `refs/heads/audit-checkpoints` of the repository at `path`."""

    REF = "refs/heads/audit-checkpoints"
    _ENV: ClassVar[dict[str, str]] = {
        "GIT_AUTHOR_NAME": "retrofit audit",
        "GIT_AUTHOR_EMAIL": "audit@retrofit.invalid",
        "GIT_COMMITTER_NAME": "retrofit audit",
        "GIT_COMMITTER_EMAIL": "audit@retrofit.invalid",
    }

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return f"git:{self.path}"

    def _git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(self.path), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env={**os.environ, **self._ENV, **(env or {})},
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WitnessError(f"git witness {self.path}: {exc}") from None
        if done.returncode != 0:
            raise WitnessError(f"git witness {self.path}: git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def _tip(self) -> str | None:
        try:
            return self._git("rev-parse", "--verify", "--quiet", self.REF).strip() or None
        except WitnessError:
            return None

    def _ensure(self) -> None:
        if not self.path.exists():
            self.path.mkdir(parents=True)
            subprocess.run(
                [
                    "git",
                    "init",
                    "--quiet",
                    *(["--bare"] if self.path.suffix == ".git" else []),
                    str(self.path),
                ],
                check=True,
                capture_output=True,
            )

    async def write(self, store: str, name: str, document: str) -> str:
        return await asyncio.to_thread(self._write, store_key(store), name, document)

    def _write(self, key: str, name: str, document: str) -> str:
        self._ensure()
        blob = self._git("hash-object", "-w", "--stdin", stdin=document).strip()
        pointer = self._git("hash-object", "-w", "--stdin", stdin=name + "\n").strip()
        for _attempt in range(10):
            tip = self._tip()
            with tempfile.TemporaryDirectory(prefix="retrofit-witness-") as tmp:
                # A private index: the repository's own index and work tree are never touched.
                env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
                self._git("read-tree", *([tip] if tip else ["--empty"]), env=env)
                current = self._pointer(tip, key)
                self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{key}/{name}", env=env)
                if _newer(name, current):
                    self._git(
                        "update-index", "--add", "--cacheinfo", f"100644,{pointer},{key}/{LATEST}", env=env
                    )
                tree = self._git("write-tree", env=env).strip()
            parents = ["-p", tip] if tip else []
            commit = self._git("commit-tree", tree, *parents, "-m", f"audit checkpoint {name}").strip()
            try:
                # Compare-and-swap on the ref: another writer's commit in between means retry.
                self._git("update-ref", self.REF, commit, tip or "0" * 40)
            except WitnessError:
                continue
            return f"{self.path}@{commit[:12]}:{key}/{name}"
        raise WitnessError(f"git witness {self.path}: the ref kept moving; checkpoint not written")

    def _pointer(self, tip: str | None, key: str) -> str | None:
        if tip is None:
            return None
        try:
            return self._git("show", f"{tip}:{key}/{LATEST}").strip() or None
        except WitnessError:
            return None

    async def latest(self, store: str) -> WitnessEntry | None:
        return await asyncio.to_thread(self._latest, store_key(store))

    def _latest(self, key: str) -> WitnessEntry | None:
        if not self.path.exists():
            return None
        tip = self._tip()
        name = self._pointer(tip, key)
        if tip is None or name is None:
            return None
        try:
            text = self._git("show", f"{tip}:{key}/{name}")
        except WitnessError:
            raise WitnessError(
                f"git witness {self.path}: the latest pointer names {name}, which is not in the tree"
            ) from None
        return WitnessEntry(name, f"{tip[:12]}:{key}/{name}", text)

    async def read(self, store: str) -> WitnessReading:
        return await asyncio.to_thread(self._read, store_key(store))

    def _read(self, key: str) -> WitnessReading:
        if not self.path.exists():
            return WitnessReading([], None)
        tip = self._tip()
        if tip is None:
            return WitnessReading([], None)
        log = self._git(
            "log", "--format=commit %H", "--name-status", "--no-renames", self.REF, "--", f"{key}/"
        )
        added: dict[str, str] = {}  # path -> the commit that added it (the oldest, as log is newest first)
        problems: list[str] = []
        commit = ""
        for line in log.splitlines():
            if line.startswith("commit "):
                commit = line.removeprefix("commit ")
                continue
            status, _, path = line.partition("\t")
            if not path or path.endswith(f"/{LATEST}"):
                continue
            if status == "A":
                added[path] = commit
            elif status == "D":
                problems.append(f"checkpoint {path} was deleted from the git witness in commit {commit[:12]}")
            elif status == "M":
                problems.append(f"checkpoint {path} was changed in the git witness in commit {commit[:12]}")
        # As first committed: a later edit is reported above, never taken as the checkpoint.
        wanted = sorted(added.items())
        texts = self._blobs([f"{added_in}:{path}" for path, added_in in wanted])
        entries = [
            WitnessEntry(path.rsplit("/", 1)[-1], f"{added_in[:12]}:{path}", text)
            for (path, added_in), text in zip(wanted, texts, strict=True)
        ]
        return WitnessReading(entries, self._pointer(tip, key), problems)

    def _blobs(self, names: list[str]) -> list[str]:
        """The contents of `commit:path` objects, read by one `git cat-file --batch`."""
        if not names:
            return []
        try:
            done = subprocess.run(
                ["git", "-C", str(self.path), "cat-file", "--batch"],
                input="".join(f"{name}\n" for name in names).encode(),
                capture_output=True,
                check=True,
                timeout=120,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise WitnessError(f"git witness {self.path}: cannot read checkpoints: {exc}") from None
        out, at, texts = done.stdout, 0, []
        for name in names:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            if len(header) != 3 or header[1] != b"blob":
                raise WitnessError(f"git witness {self.path}: {name} is not readable ({out[at:end]!r})")
            size = int(header[2])
            texts.append(out[end + 1 : end + 1 + size].decode("utf-8", errors="replace"))
            at = end + 1 + size + 1
        return texts

    def close(self) -> None:
        pass


class DatabaseWitness:
    """Rows of `audit_witness_checkpoints` in a second database; the newest row is the latest."""

    _metadata = MetaData()
    _table = Table(
        "audit_witness_checkpoints",
        _metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("store", String(512), nullable=False),
        Column("name", String(128), nullable=False),
        Column("document", Text, nullable=False),
        Column("written_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("store", "name", name="uq_audit_witness_checkpoints_store_name"),
    )

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @property
    def location(self) -> str:
        try:
            return f"db:{make_url(self.url).render_as_string(hide_password=True)}"
        except ArgumentError:
            return "db:(malformed URL)"

    def _connect(self) -> Engine:
        if self._engine is None:
            try:
                target = sync_url(self.url)
            except ValueError as exc:
                raise WitnessError(f"database witness: {exc}") from None
            ensure_sqlite_parent(self.url)
            engine = create_engine(target)
            self._metadata.create_all(engine)
            self._engine = engine
        return self._engine

    async def write(self, store: str, name: str, document: str) -> str:
        return await asyncio.to_thread(self._guarded, self._write, store, name, document)

    def _guarded(self, operation: Callable[..., T], *args: str) -> T:
        # One error type for callers: an unreachable or refusing witness database is a witness
        # problem, reported as such (and by name), not a traceback.
        try:
            return operation(*args)
        except SQLAlchemyError as exc:
            raise WitnessError(f"database witness {self.location}: {exc.__class__.__name__}: {exc}") from None

    def _write(self, store: str, name: str, document: str) -> str:
        with self._connect().begin() as conn:
            row = conn.execute(
                insert(self._table).values(
                    store=store, name=name, document=document, written_at=datetime.now(UTC)
                )
            )
            key = row.inserted_primary_key
        return f"{self.location} row {key[0] if key else '?'}"

    async def latest(self, store: str) -> WitnessEntry | None:
        return await asyncio.to_thread(self._guarded, self._latest, store)

    def _latest(self, store: str) -> WitnessEntry | None:
        table = self._table
        with self._connect().connect() as conn:
            row = conn.execute(
                select(table.c.id, table.c.name, table.c.document)
                .where(table.c.store == store)
                .order_by(table.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else WitnessEntry(row[1], f"row {row[0]}", row[2])

    async def read(self, store: str) -> WitnessReading:
        return await asyncio.to_thread(self._guarded, self._read, store)

    def _read(self, store: str) -> WitnessReading:
        table = self._table
        with self._connect().connect() as conn:
            rows = conn.execute(
                select(table.c.id, table.c.name, table.c.document)
                .where(table.c.store == store)
                .order_by(table.c.id)
            ).all()
        entries = [WitnessEntry(name, f"row {row_id}", document) for row_id, name, document in rows]
        return WitnessReading(entries, entries[-1].name if entries else None)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
