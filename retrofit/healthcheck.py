"""Container health checks (the Dockerfile's HEALTHCHECK, docker-compose's `healthcheck:`).

    python -m retrofit.healthcheck worker [--queue Q]   # exit 0: a worker in this container polls Q
    python -m retrofit.healthcheck http URL             # exit 0: URL answers 2xx

A worker has no HTTP port, and "the process is alive" says nothing about whether it can reach
Temporal. So the worker check asks the Temporal server itself which pollers it has seen on the
task queue (activity tasks: every kind of Retrofit worker polls them) and looks for one whose
identity is this container's: the SDK's default identity is `<pid>@<hostname>`, and a container's
hostname is its own. Healthy means: Temporal reachable, and this worker is polling. Exit status
1 with a one-line reason otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from retrofit.settings import RetrofitSettings


async def pollers(client: Client, queue: str) -> list[str]:
    """Identities of the workers Temporal saw polling `queue` for activity tasks recently."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return [poller.identity for poller in response.pollers]


async def worker_problem(address: str, namespace: str, queue: str, host: str) -> str | None:
    """None when a worker on `host` polls `queue`; otherwise what is wrong, in one line."""
    try:
        client = await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:
        return f"cannot reach Temporal at {address}: {exc}"
    seen = await pollers(client, queue)
    if any(identity.endswith(f"@{host}") for identity in seen):
        return None
    return f"no worker on {host} polls task queue {queue!r} (pollers: {', '.join(seen) or 'none'})"


def http_problem(url: str, timeout: float = 5.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return None if 200 <= status < 300 else f"{url}: HTTP {status}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m retrofit.healthcheck", description=__doc__.split("\n")[0]
    )
    checks = parser.add_subparsers(dest="check", required=True)
    worker = checks.add_parser("worker", help="a worker in this container polls its task queue")
    worker.add_argument("--queue", help="task queue (default: RETROFIT_TASK_QUEUE)")
    http = checks.add_parser("http", help="a URL answers 2xx")
    http.add_argument("url")
    args = parser.parse_args(argv)

    if args.check == "http":
        problem = http_problem(args.url)
    else:
        settings = RetrofitSettings()
        problem = asyncio.run(
            worker_problem(
                settings.temporal_address,
                settings.temporal_namespace,
                args.queue or settings.task_queue,
                socket.gethostname(),
            )
        )
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        raise SystemExit(1)
    print("healthy")


if __name__ == "__main__":
    main()
