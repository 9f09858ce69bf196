"""The receiver run as a program (what docs/observability.md offers for a look without a viewer):
spans exported to it over OTLP/HTTP are printed as they come and as trees on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_receiver_prints_what_it_receives_as_trees() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.production.otlp_receiver", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert f"RETROFIT_OTLP_ENDPOINT=http://127.0.0.1:{port}" in ready
        # A provider of its own (not the process's global one), exporting at once.
        provider = TracerProvider(resource=Resource.create({"service.name": "receiver-test"}))
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("test")
        workflow = {"temporalWorkflowID": "review-1"}
        with (
            tracer.start_as_current_span("StartWorkflow:CreditLimitReview"),
            tracer.start_as_current_span("RunWorkflow:CreditLimitReview", attributes=workflow),
        ):
            pass
        provider.shutdown()
        assert "RunWorkflow:CreditLimitReview  [review-1]" in process.stdout.readline()
        assert "StartWorkflow:CreditLimitReview" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    lines = rest.splitlines()
    [header] = [line for line in lines if line.startswith("trace ")]
    assert header.endswith("(2 spans)")
    assert lines[lines.index(header) + 1 :] == [
        "  StartWorkflow:CreditLimitReview",
        "    RunWorkflow:CreditLimitReview  [review-1]",
    ]
