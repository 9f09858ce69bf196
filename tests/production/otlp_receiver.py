"""A real OTLP/HTTP trace receiver on loopback: decodes the protobuf the exporter sends.

The tests use it in-process. To look at traces without installing a viewer, run it:

    .venv/bin/python -m tests.production.otlp_receiver            # 127.0.0.1:4318
    RETROFIT_OTLP_ENDPOINT=http://127.0.0.1:4318 retrofit dev --demo

It prints one line per span as spans arrive and, on Ctrl-C, every trace as a tree.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root
    name: str
    attributes: dict[str, str]
    links: tuple[str, ...]  # linked span ids
    service: str


@dataclass
class OtlpReceiver:
    port: int = 0  # 0: any free one
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    #: Called with each request's spans, on the server's thread.
    on_spans: Callable[[list[ReceivedSpan]], object] = lambda spans: None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    #: Set by whoever exports to the receiver: push out what is batched.
    flush: Callable[[], object] = lambda: None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        found: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                "",
            )
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    found.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            attributes={a.key: str(a.value.string_value) for a in span.attributes},
                            links=tuple(link.span_id.hex() for link in span.links),
                            service=service,
                        )
                    )
        with self._lock:
            self.requests += 1
            self.spans.extend(found)
        self.on_spans(found)

    def of_workflow(self, workflow_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.attributes.get("temporalWorkflowID") == workflow_id]

    def in_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def trees(self) -> str:
        """Every trace received, each span under its parent (a span whose parent never arrived,
        such as a workflow's derived root, starts a tree of its own)."""
        with self._lock:
            spans = list(self.spans)
        lines: list[str] = []
        for trace_id in dict.fromkeys(s.trace_id for s in spans):
            members = [s for s in spans if s.trace_id == trace_id]
            ids = {s.span_id for s in members}
            lines.append(f"trace {trace_id} ({len(members)} spans)")

            def walk(parent: str, depth: int, members: list[ReceivedSpan] = members) -> None:
                for span in (s for s in members if s.parent_span_id == parent):
                    lines.append(f"{'  ' * depth}{span.name}{_where(span)}")
                    walk(span.span_id, depth + 1)

            for root in {s.parent_span_id for s in members if s.parent_span_id not in ids}:
                walk(root, 1)
        return "\n".join(lines)

    def __enter__(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 200
                if self.path != "/v1/traces":
                    status = 404
                else:
                    receiver.receive(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def exporting_here(received: OtlpReceiver) -> Iterator[OtlpReceiver]:
    """This process's spans go to `received` over OTLP/HTTP, as `configure_tracing` sends them."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)  # once per process: OpenTelemetry keeps the first
    # Batched, as configure_tracing does: a synchronous export would run inside the workflow
    # sandbox's activation (completed workflow spans end there) and import mid-workflow.
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{received.endpoint}/v1/traces"))
    provider.add_span_processor(processor)
    received.flush = processor.force_flush
    try:
        yield received
    finally:
        processor.shutdown()  # type: ignore[no-untyped-call]


def _where(span: ReceivedSpan) -> str:
    workflow = span.attributes.get("temporalWorkflowID")
    return f"  [{workflow}]" if workflow else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print the spans an OTLP/HTTP exporter sends.")
    parser.add_argument("--port", type=int, default=4318)
    port = parser.parse_args(argv).port

    def show(spans: list[ReceivedSpan]) -> None:
        for span in spans:
            print(f"{span.trace_id} {span.name}{_where(span)}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with OtlpReceiver(port=port, on_spans=show) as receiver:
        print(f"receiving OTLP/HTTP traces: RETROFIT_OTLP_ENDPOINT={receiver.endpoint}", flush=True)
        stop.wait()
        print(receiver.trees(), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
