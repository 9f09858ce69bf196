"""The signed, checkpointed audit head, attacked by someone with write access to the audit
database (and, in some tests, to the witness): every rewrite of the trail is caught by
`audit verify` — in process and through the real CLI — with exit 1 and a message naming it.

The store is real SQLite (and PostgreSQL when RETROFIT_TEST_POSTGRES_URL names a server); the
attacker works with plain SQL and re-hashes with the project's own `hash_row`, as the strongest
attacker with database access would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, delete, insert, select, text
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from retrofit.audit import Actor, ActorKind, AuditEvent, AuditKind, AuditStore
from retrofit.audit.anchored_verify import AnchoredReport, verify_anchored
from retrofit.audit.chain import RECORD_FIELDS, canonical_json, hash_row
from retrofit.audit.checkpoint import Checkpoint, public_key_text, read_checkpoint, sign
from retrofit.audit.checkpoint_settings import CheckpointConfig, checkpoint_config, store_id_of
from retrofit.audit.checkpointing import Checkpointer, CheckpointLoop, CheckpointRefused
from retrofit.audit.schema import audit_events
from retrofit.audit.url import sync_url
from retrofit.audit.witness import (
    LATEST,
    DatabaseWitness,
    DirectoryWitness,
    GitWitness,
    Witness,
    WitnessError,
    open_witness,
    store_key,
)
from retrofit.settings import RetrofitSettings
from retrofit.worker import WorkerConfig, build_worker

RETROFIT = str(Path(sys.executable).parent / "retrofit")
_HASH = RECORD_FIELDS.index("hash")
_SEQ = RECORD_FIELDS.index("seq")
_PREV = RECORD_FIELDS.index("prev_hash")


def event(n: int, kind: AuditKind = AuditKind.SUCCEEDED) -> AuditEvent:
    return AuditEvent(
        event_id=f"wf-{n // 4}/run-1/{n}/{kind.value}",
        kind=kind,
        actor=Actor(kind=ActorKind.HUMAN, name="alice", identity="alice@corp")
        if kind is AuditKind.APPROVAL_GRANTED
        else Actor(kind=ActorKind.WORKFLOW, name="CreditLimitReview"),
        workflow_id=f"wf-{n // 4}",
        run_id="run-1",
        workflow_type="CreditLimitReview",
        step=n,
        action="ledger.set_credit_limit",
        effect="write",
        data={"arguments": {"customer_id": "C-1006", "credit_limit": "90000.00"}, "n": n, "note": "Zoë ✓"},
        occurred_at=datetime(2026, 1, 1, 12, 0, n % 60, tzinfo=UTC),
    )


def events(first: int, last: int) -> list[AuditEvent]:
    return [
        event(n, AuditKind.APPROVAL_GRANTED if n % 5 == 0 else AuditKind.SUCCEEDED)
        for n in range(first, last + 1)
    ]


@dataclass
class Target:
    """One audit database, as its admin reaches it: plain SQL, no Retrofit code but `hash_row`."""

    url: str
    engine: Engine

    def sql(self, statement: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(statement), params)

    def rows(self) -> list[list[Any]]:
        with self.engine.connect() as conn:
            return [list(r) for r in conn.execute(select(*audit_events.c).order_by(audit_events.c.seq))]

    def rewrite_from(self, seq: int, rows: list[list[Any]]) -> None:
        """Replace the records from `seq` on with `rows`, each re-linked and re-hashed."""
        prev = next((r[_HASH] for r in self.rows() if r[_SEQ] == seq - 1), "0" * 64)
        for row in rows:
            row[_PREV] = prev
            row[_HASH] = prev = hash_row(row)
        with self.engine.begin() as conn:
            conn.execute(delete(audit_events).where(audit_events.c.seq >= seq))
            if rows:
                conn.execute(insert(audit_events), [dict(zip(RECORD_FIELDS, r, strict=True)) for r in rows])


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        engine = create_engine(sync_url(url), json_serializer=canonical_json)
        yield Target(url, engine)
        engine.dispose()
        return
    server = os.environ.get("RETROFIT_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("set RETROFIT_TEST_POSTGRES_URL to run the PostgreSQL tests")
    psycopg = pytest.importorskip("psycopg")
    admin_url = make_url(server).set(drivername="postgresql")
    name = f"retrofit_checkpoint_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin_url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(sync_url(url), json_serializer=canonical_json)
    try:
        yield Target(url, engine)
    finally:
        engine.dispose()
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def config_for(url: str, data_dir: Path) -> CheckpointConfig:
    return checkpoint_config(RetrofitSettings(data_dir=data_dir, audit_db_url=url))


async def build_trail(config: CheckpointConfig, witness: Witness) -> list[Checkpoint]:
    """35 records: checkpoints at seq 20 and 30, five records after the last one."""
    written = []
    async with await AuditStore.open(config.store_url) as store:
        checkpointer = Checkpointer(store, witness, config.signing_key(), config.store_id)
        for first, last in ((1, 20), (21, 30)):
            assert await store.append(events(first, last)) == last - first + 1
            done = await checkpointer.checkpoint()
            assert done is not None
            written.append(done.checkpoint)
        await store.append(events(31, 35))
    return written


async def verify(config: CheckpointConfig, witness: Witness | None = None) -> AnchoredReport:
    if witness is None:
        assert config.witness is not None
        witness = DirectoryWitness(Path(config.witness.removeprefix("dir:")))
    async with await AuditStore.open(config.store_url, migrate=False) as store:
        return await verify_anchored(store, witness, config.store_id, config.trusted_keys())


def cli(data_dir: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RETROFIT_AUDIT_")}
    environment.update(RETROFIT_DATA_DIR=str(data_dir), RETROFIT_AUDIT_DB_URL=url, COLUMNS="300", **env)
    return subprocess.run(
        [RETROFIT, "audit", *args], env=environment, capture_output=True, text=True, timeout=60
    )


def git(*args: str) -> str:
    someone = {
        "GIT_AUTHOR_NAME": "m",
        "GIT_AUTHOR_EMAIL": "m@x",
        "GIT_COMMITTER_NAME": "m",
        "GIT_COMMITTER_EMAIL": "m@x",
    }
    done = subprocess.run(
        ["git", *args], env={**os.environ, **someone}, capture_output=True, text=True, check=True
    )
    return done.stdout


def witness_folder(config: CheckpointConfig) -> Path:
    assert config.witness is not None
    return Path(config.witness.removeprefix("dir:")) / store_key(config.store_id)


# --- the untouched trail -------------------------------------------------------------------------


async def test_an_untouched_trail_is_anchored_and_names_what_came_after(
    target: Target, tmp_path: Path
) -> None:
    config = config_for(target.url, tmp_path)
    assert config.witness == f"dir:{tmp_path / 'audit-witness'}"
    written = await build_trail(config, DirectoryWitness(tmp_path / "audit-witness"))
    report = await verify(config)
    assert report.status == "anchored", report.findings
    assert report.checkpoints == 2 and report.latest == written[-1]
    assert report.after_latest == (31, 35)
    assert written[1].previous == written[0].digest and written[0].previous is None
    key_file = tmp_path / "audit" / "checkpoint-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    files = sorted(p.name for p in witness_folder(config).iterdir() if not p.name.startswith("."))
    assert files == sorted([LATEST, *(p.name for p in witness_folder(config).glob("*.json"))])
    assert len(files) == 3 and all(
        (witness_folder(config) / f).stat().st_mode & 0o222 == 0 for f in files if f != LATEST
    )


# --- the attacker with write access to the audit database ---------------------------------------


def edit_record(t: Target) -> None:
    t.sql("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 10")


def delete_middle(t: Target) -> None:
    t.sql("DELETE FROM audit_events WHERE seq = 12")


def delete_newest(t: Target) -> None:
    t.sql("DELETE FROM audit_events WHERE seq > 27")  # the newest 8: past the checkpoint at 30


def edit_and_rehash(t: Target) -> None:
    rows = [r for r in t.rows() if r[_SEQ] >= 10]
    rows[0][RECORD_FIELDS.index("actor_name")] = "mallory"  # seq 10 is an approval by alice
    t.rewrite_from(10, rows)


def delete_and_renumber(t: Target) -> None:
    rows = [r for r in t.rows() if r[_SEQ] > 12]
    for row in rows:
        row[_SEQ] -= 1
    t.rewrite_from(12, rows)


def renumber_only(t: Target) -> None:
    t.sql("UPDATE audit_events SET seq = seq + 100 WHERE seq > 25")


def swap_records(t: Target) -> None:
    t.sql("UPDATE audit_events SET seq = -1 WHERE seq = 5")
    t.sql("UPDATE audit_events SET seq = 5 WHERE seq = 6")
    t.sql("UPDATE audit_events SET seq = 6 WHERE seq = -1")


def swap_and_rehash(t: Target) -> None:
    rows = [r for r in t.rows() if r[_SEQ] >= 5]
    rows[0][_SEQ], rows[1][_SEQ] = 6, 5
    rows[0], rows[1] = rows[1], rows[0]
    t.rewrite_from(5, rows)


DATABASE_ATTACKS: dict[str, tuple[Callable[[Target], None], str]] = {
    "edit a record": (edit_record, "audit chain broken at seq 10"),
    "delete one in the middle": (delete_middle, "audit chain broken at seq 13"),
    "delete the newest 8": (delete_newest, "truncated: the checkpoint of seq 30"),
    "edit and re-hash the rest": (edit_and_rehash, "rewritten: the record at seq 20"),
    "delete, renumber and re-hash": (delete_and_renumber, "rewritten: the record at seq 20"),
    "renumber": (renumber_only, "audit chain broken at seq 126"),
    "swap two records": (swap_records, "audit chain broken at seq 5"),
    "swap and re-hash": (swap_and_rehash, "rewritten: the record at seq 20"),
}


@pytest.mark.parametrize("attack", list(DATABASE_ATTACKS))
async def test_rewriting_the_database_is_caught(target: Target, tmp_path: Path, attack: str) -> None:
    config = config_for(target.url, tmp_path)
    await build_trail(config, DirectoryWitness(tmp_path / "audit-witness"))
    tamper, message = DATABASE_ATTACKS[attack]
    tamper(target)

    report = await verify(config)
    assert report.status == "tampered"
    said = " ".join(report.findings)
    if report.chain.first_break is not None:
        brk = report.chain.first_break
        said += f" audit chain broken at seq {brk.seq}: {brk.reason}"
    assert message in said, said
    # Nor will `audit checkpoint` sign the rewritten head (it re-hashes the whole chain first).
    async with await AuditStore.open(target.url, migrate=False) as store:
        witness = DirectoryWitness(tmp_path / "audit-witness")
        with pytest.raises(CheckpointRefused, match="nothing signed"):
            await Checkpointer(store, witness, config.signing_key(), config.store_id).checkpoint(full=True)
    if target.url.startswith("sqlite"):
        done = cli(tmp_path, target.url, "verify")
        assert done.returncode == 1, done.stdout + done.stderr
        assert message in " ".join(done.stderr.split()), done.stderr
        assert "intact" not in done.stdout  # the old verdict, for a truncated or re-hashed trail
        assert report.chain.ok == (
            "audit trail tampered: the chain links up" in " ".join(done.stderr.split())
        )


async def test_a_rehashed_chain_alone_looks_intact_so_only_the_checkpoint_tells(
    target: Target, tmp_path: Path
) -> None:
    # The strong attacker's result is a valid chain: without the witness nothing would notice.
    config = config_for(target.url, tmp_path)
    await build_trail(config, DirectoryWitness(tmp_path / "audit-witness"))
    edit_and_rehash(target)
    async with await AuditStore.open(target.url, migrate=False) as store:
        assert (await store.verify()).ok
    report = await verify(config)
    assert report.status == "tampered" and report.chain.ok
    assert any(
        f.startswith("rewritten: the record at seq 20") and "(1 later checkpoints disagree too)" in f
        for f in report.findings
    )
    if target.url.startswith("sqlite"):
        done = cli(tmp_path, target.url, "checkpoint")  # ops asked to sign the rewritten head
        assert done.returncode == 1 and "no checkpoint written" in done.stderr, done.stdout + done.stderr
        assert "no longer has the hash the latest checkpoint" in " ".join(done.stderr.split())


# --- the attacker who also reaches the witness ---------------------------------------------------


def _latest_file(folder: Path) -> Path:
    return folder / (folder / LATEST).read_text().strip()


def _replace(path: Path, content: str) -> None:
    path.chmod(0o600)
    path.write_text(content)


def forge_with_another_key(folder: Path) -> None:
    path = _latest_file(folder)
    original = Checkpoint.model_validate_json(path.read_text())
    forged = sign(
        Ed25519PrivateKey.generate(),
        store=original.store,
        seq=original.seq,
        hash="ab" * 32,
        count=original.count,
        time=original.time,
        previous=original.previous,
    )
    _replace(path, forged.document())


def forge_keeping_the_key_id(folder: Path) -> None:
    path = _latest_file(folder)
    document = json.loads(path.read_text())
    document["seq"], document["count"] = 27, 27
    _replace(path, json.dumps(document))


def strip_the_signature(folder: Path) -> None:
    path = _latest_file(folder)
    document = json.loads(path.read_text())
    del document["signature"]
    _replace(path, json.dumps(document))


def delete_the_latest_file(folder: Path) -> None:
    _latest_file(folder).unlink()


def delete_an_older_file(folder: Path) -> None:
    oldest = sorted(folder.glob("*.json"))[0]
    oldest.unlink()


def delete_the_pointer(folder: Path) -> None:
    (folder / LATEST).unlink()


WITNESS_ATTACKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "replaced by one signed with another key": (forge_with_another_key, "signed by an unknown key"),
    "edited, keeping the key id": (forge_keeping_the_key_id, "its signature does not verify"),
    "unsigned": (strip_the_signature, "unsigned: it has no signature"),
    "latest file deleted": (delete_the_latest_file, "which is not in the witness: it was deleted"),
    "older file deleted": (delete_an_older_file, "a checkpoint was deleted"),
    "pointer deleted": (delete_the_pointer, "no latest pointer: the pointer was deleted"),
}


@pytest.mark.parametrize("attack", list(WITNESS_ATTACKS))
async def test_tampering_with_the_witness_is_reported(tmp_path: Path, attack: str) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    config = config_for(url, tmp_path)
    await build_trail(config, DirectoryWitness(tmp_path / "audit-witness"))
    # The attacker also truncates the trail behind the checkpoint they attack.
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 22"))
    engine.dispose()
    tamper, message = WITNESS_ATTACKS[attack]
    tamper(witness_folder(config))

    report = await verify(config)
    assert report.status == "tampered" and any(message in f for f in report.findings), report.findings
    done = cli(tmp_path, url, "verify")
    assert done.returncode == 1 and message in " ".join(done.stderr.split()), done.stdout + done.stderr
    assert "intact" not in done.stdout


async def test_an_auditor_holding_only_the_public_key_checks_the_signatures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    config = config_for(url, tmp_path)
    await build_trail(config, DirectoryWitness(tmp_path / "audit-witness"))
    public = cli(tmp_path, url, "public-key").stdout.strip()
    assert public == public_key_text(config.signing_key().public_key())
    auditor = {
        "RETROFIT_AUDIT_PUBLIC_KEY": public,
        "RETROFIT_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "no-such-key.pem"),
        "RETROFIT_AUDIT_WITNESS": f"dir:{tmp_path / 'audit-witness'}",
    }
    done = cli(tmp_path / "elsewhere", url, "verify", **auditor)
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "audit chain intact: 35 records" in out and "anchored: agrees with the 2 checkpoints" in out
    assert "5 records after the last checkpoint (seq 31..35)" in out
    assert not (tmp_path / "no-such-key.pem").exists()  # verify never makes a key
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    done = cli(tmp_path / "elsewhere", url, "verify", **{**auditor, "RETROFIT_AUDIT_PUBLIC_KEY": other})
    assert done.returncode == 1 and "signed by an unknown key" in done.stderr


async def test_without_a_witness_verify_says_the_head_is_unanchored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    async with await AuditStore.open(url) as store:
        await store.append(events(1, 3))
    done = cli(tmp_path, url, "verify", RETROFIT_AUDIT_WITNESS="none")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "audit chain intact: 3 records" in done.stdout
    assert "head unanchored" in done.stderr and "no witness is configured" in done.stderr
    # A witness with nothing of this store in it: unanchored too, until the first checkpoint.
    done = cli(tmp_path, url, "verify")
    assert done.returncode == 3 and "holds no checkpoint of this store" in " ".join(done.stderr.split())
    done = cli(tmp_path, url, "checkpoint")
    assert done.returncode == 0 and "checkpoint written: seq 3" in done.stdout, done.stdout + done.stderr
    done = cli(tmp_path, url, "verify")
    assert done.returncode == 0 and "anchored: agrees with the 1 checkpoint in" in " ".join(
        done.stdout.split()
    )


# --- the other witnesses -------------------------------------------------------------------------


async def test_git_witness_commits_each_checkpoint_and_remembers_deleted_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    repo = tmp_path / "witness.git"
    config = config_for(url, tmp_path)
    witness = GitWitness(repo)
    written = await build_trail(config, witness)
    assert (await verify(config, witness)).status == "anchored"
    log = git("-C", str(repo), "log", "--format=%s", GitWitness.REF).splitlines()
    assert len(log) == 2 and all(line.startswith("audit checkpoint 0000000000") for line in log)

    # The attacker truncates the trail and commits the newest checkpoint's deletion.
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 22"))
    engine.dispose()
    key = store_key(config.store_id)
    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "audit-checkpoints", str(repo), str(clone))
    newest = next(p for p in (clone / key).glob("*.json") if p.name.startswith(f"{written[-1].seq:012d}"))
    git("-C", str(clone), "rm", "-q", str(newest))
    git("-C", str(clone), "commit", "-qm", "tidy")
    git("-C", str(clone), "push", "-q", "origin", "audit-checkpoints")

    report = await verify(config, witness)
    assert report.status == "tampered"
    said = " ".join(report.findings)
    assert "was deleted from the git witness" in said and "truncated: the checkpoint of seq 30" in said
    done = cli(tmp_path, url, "verify", RETROFIT_AUDIT_WITNESS=f"git:{repo}")
    assert done.returncode == 1 and "truncated" in done.stderr


async def test_database_witness_keeps_checkpoints_in_a_second_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    witness_url = f"sqlite:///{tmp_path / 'witness' / 'checkpoints.db'}"
    config = config_for(url, tmp_path)
    witness = DatabaseWitness(witness_url)
    try:
        await build_trail(config, witness)
        assert (await verify(config, witness)).status == "anchored"
        edit_and_rehash(Target(url, create_engine(sync_url(url), json_serializer=canonical_json)))
        report = await verify(config, witness)
        assert report.status == "tampered" and any(f.startswith("rewritten") for f in report.findings)
    finally:
        witness.close()
    done = cli(tmp_path, url, "verify", RETROFIT_AUDIT_WITNESS=f"db:{witness_url}")
    assert done.returncode == 1 and "rewritten: the record at seq 20" in " ".join(done.stderr.split())
    # The forger replaces the witness row with one signed by their own key.
    engine = create_engine(sync_url(witness_url))
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT id, document FROM audit_witness_checkpoints ORDER BY id DESC LIMIT 1")
        ).one()
        original = Checkpoint.model_validate_json(row[1])
        forged = sign(
            Ed25519PrivateKey.generate(),
            store=original.store,
            seq=original.seq,
            hash="cd" * 32,
            count=original.count,
            time=original.time,
            previous=original.previous,
        )
        conn.execute(
            text("UPDATE audit_witness_checkpoints SET document = :d WHERE id = :i"),
            {"d": forged.document(), "i": row[0]},
        )
    engine.dispose()
    done = cli(tmp_path, url, "verify", RETROFIT_AUDIT_WITNESS=f"db:{witness_url}")
    assert done.returncode == 1 and "signed by an unknown key" in done.stderr


# --- writing checkpoints -------------------------------------------------------------------------


async def test_a_checkpoint_is_refused_for_a_chain_that_does_not_extend_the_latest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    config = config_for(url, tmp_path)
    witness = DirectoryWitness(tmp_path / "audit-witness")
    await build_trail(config, witness)
    target = Target(url, create_engine(sync_url(url), json_serializer=canonical_json))
    async with await AuditStore.open(url) as store:
        checkpointer = Checkpointer(store, witness, config.signing_key(), config.store_id)
        target.sql("UPDATE audit_events SET prev_hash = :h WHERE seq = 33", h="ee" * 32)
        with pytest.raises(CheckpointRefused, match="broken at seq 33: prev_hash does not match"):
            await checkpointer.checkpoint()  # after the latest checkpoint: the links give it away
        target.sql("DELETE FROM audit_events WHERE seq > 32")
        delete_middle(target)  # below the latest checkpoint: the count gives it away
        with pytest.raises(CheckpointRefused, match="1 records are missing below seq 32"):
            await checkpointer.checkpoint()
    target.rewrite_from(1, [])  # everything gone
    async with await AuditStore.open(url) as store:
        checkpointer = Checkpointer(store, witness, config.signing_key(), config.store_id)
        with pytest.raises(CheckpointRefused, match="no record at seq 30"):
            await checkpointer.checkpoint()
    assert len(list(witness_folder(config).glob("*.json"))) == 2  # nothing more was signed


async def test_the_checkpoint_loop_anchors_while_appending_and_at_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    config = replace(config_for(url, tmp_path), interval_seconds=0.05)
    async with await AuditStore.open(url) as store:
        loop = CheckpointLoop(config)
        await loop.start()
        try:
            await store.append(events(1, 10))
            for _ in range(200):
                if loop.last is not None and loop.last.checkpoint.seq == 10:
                    break
                await asyncio.sleep(0.02)
            assert loop.last is not None and loop.last.checkpoint.seq == 10
            quiet = len(list(witness_folder(config).glob("*.json")))
            await asyncio.sleep(0.3)  # the head did not move: no new checkpoints
            assert len(list(witness_folder(config).glob("*.json"))) == quiet
            await store.append(events(11, 12))
        finally:
            await loop.stop()
    assert loop.last is not None and loop.last.checkpoint.seq == 12  # the one written at stop
    report = await verify(config)
    assert report.status == "anchored" and report.after_latest is None and loop.refusals == 0


def test_checkpoint_documents_round_trip_and_bind_every_field(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    from retrofit.audit.checkpoint import CheckpointError, public_key_id

    keys = {public_key_id(key.public_key()): key.public_key()}
    checkpoint = sign(key, store="s", seq=3, hash="a" * 64, count=3, time=datetime.now(UTC), previous=None)
    assert read_checkpoint(checkpoint.document(), keys, "s") == checkpoint
    document = json.loads(checkpoint.document())
    for field, value in (
        ("seq", 4),
        ("hash", "b" * 64),
        ("count", 2),
        ("time", "2020-01-01T00:00:00+00:00"),
        ("previous", "x"),
        ("store", "t"),
    ):
        altered = json.dumps({**document, field: value})
        with pytest.raises(CheckpointError):
            read_checkpoint(altered, keys, "t" if field == "store" else "s")
    with pytest.raises(CheckpointError, match="another store"):
        read_checkpoint(checkpoint.document(), keys, "other")


async def test_a_worker_checkpoints_while_it_runs_and_at_shutdown(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETROFIT_AUDIT_CHECKPOINT_SECONDS", "0.1")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    settings = RetrofitSettings(data_dir=tmp_path, audit_db_url=url)
    config = config_for(url, tmp_path)
    folder = witness_folder(config)

    def signed_seqs() -> list[int]:
        return sorted(Checkpoint.model_validate_json(p.read_text()).seq for p in folder.glob("*.json"))

    worker = build_worker(
        time_skipping_env.client,
        settings,
        config=WorkerConfig(connectors=(), workflows=(), policy=None),
        task_queue=f"checkpoints-{uuid.uuid4()}",
    )
    async with worker, await AuditStore.open(url) as store:
        await store.append(events(1, 5))  # as the worker's audit activity would
        for _ in range(200):
            if folder.is_dir() and signed_seqs()[-1:] == [5]:
                break
            await asyncio.sleep(0.05)
        assert signed_seqs()[-1:] == [5]
    # A worker on the default minute: nothing is due before it stops, so what it appended last
    # is anchored by the checkpoint written at shutdown.
    monkeypatch.setenv("RETROFIT_AUDIT_CHECKPOINT_SECONDS", "60")
    worker = build_worker(
        time_skipping_env.client,
        settings,
        config=WorkerConfig(connectors=(), workflows=(), policy=None),
        task_queue=f"checkpoints-{uuid.uuid4()}",
    )
    async with worker, await AuditStore.open(url) as store:
        await store.append(events(6, 7))
        assert signed_seqs()[-1] == 5
    assert signed_seqs()[-1] == 7
    assert (await verify(config)).status == "anchored"


def test_a_malformed_witness_setting_is_refused_by_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with pytest.raises(WitnessError, match="unknown witness kind 's3'"):
        open_witness("s3:bucket/audit")
    with pytest.raises(WitnessError, match="expected dir:PATH, git:PATH, db:URL or none"):
        open_witness("/srv/witness")
    for setting in ("s3:bucket", "no-kind"):
        done = cli(tmp_path, url, "verify", RETROFIT_AUDIT_WITNESS=setting)
        assert done.returncode == 1 and f"RETROFIT_AUDIT_WITNESS={setting!r}" in done.stderr, done.stderr


def test_a_store_is_named_without_its_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The store id is written into every checkpoint: no password may reach the witness.
    assert store_id_of("postgresql://audit:s3cret@db.internal:5432/retrofit_audit") == (
        "postgresql://db.internal:5432/retrofit_audit"
    )
    assert store_id_of("postgresql+psycopg://audit:s3cret@db.internal/retrofit_audit") == (
        "postgresql://db.internal/retrofit_audit"
    )
    monkeypatch.chdir(tmp_path)
    assert store_id_of("sqlite:///rel/audit.db") == f"sqlite:{tmp_path.resolve() / 'rel' / 'audit.db'}"
    monkeypatch.setenv("RETROFIT_AUDIT_STORE_ID", "prod-audit")
    assert config_for("postgresql://a:b@h/db", tmp_path).store_id == "prod-audit"


async def test_a_worker_loop_refuses_to_sign_a_rewritten_chain_and_keeps_saying_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    config = replace(config_for(url, tmp_path), interval_seconds=0.05)
    await build_trail(config, DirectoryWitness(tmp_path / "audit-witness"))  # checkpoints at 20, 30
    edit_and_rehash(Target(url, create_engine(sync_url(url), json_serializer=canonical_json)))
    async with await AuditStore.open(url) as store:
        await store.append(events(36, 40))  # the worker goes on appending after the rewrite
        with caplog.at_level(logging.ERROR, logger="retrofit.audit.checkpointing"):
            async with CheckpointLoop(config) as loop:
                for _ in range(200):
                    if loop.refusals >= 3:
                        break
                    await asyncio.sleep(0.02)
    assert loop.refusals >= 3 and loop.last is None
    assert "the record at seq 30 no longer has the hash the latest checkpoint" in caplog.text
    assert sorted(p.name[:12] for p in witness_folder(config).glob("*.json")) == [f"{20:012d}", f"{30:012d}"]
