"""`hotloop serve` as a real subprocess on a loopback port, for tests of what only a process shows
(signals, slow sockets, its stderr). Nothing from the test's own environment leaks in: HOTLOOP_*
variables are set here, and the working directory is the test's (no stray .env)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.appserver import TEST_SECRET_KEY, free_port

CLI = [sys.executable, "-c", "from hotloop.cli import main; main()"]


def hotloop_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLOOP_")}
    env |= {"HOTLOOP_SECRET_KEY": TEST_SECRET_KEY, "HOTLOOP_LOG_JSON": "true",
            "HOTLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'hotloop.db'}"}
    env |= {f"HOTLOOP_{name.upper()}": value for name, value in settings.items()}
    return env


def run_cli(tmp_path: Path, *args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=tmp_path, env=dict(env), capture_output=True, text=True,
                          timeout=60, check=False)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    out: Path  # its stdout and stderr, in files (a pipe nobody reads could fill and stall it)
    err: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def terminate(self, timeout: float) -> int:
        """SIGTERM; its exit status. TimeoutExpired if it is still running after `timeout` seconds."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@contextmanager
def hotloop_serve(
    tmp_path: Path, env: Mapping[str, str], *args: str, port: int | None = None
) -> Iterator[Served]:
    """`port`: a port chosen beforehand (a server that must know its own public URL); a free one if None."""
    port = port or free_port()
    out, err = tmp_path / f"serve-{port}.out", tmp_path / f"serve-{port}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([*CLI, "serve", "--port", str(port), *args], cwd=tmp_path,
                                   env=dict(env), stdout=stdout, stderr=stderr)
    served = Served(process, port, out, err)
    try:
        _wait_until_up(served)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _wait_until_up(served: Served, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"hotloop serve exited with {served.process.returncode}:\n{served.output()}")
        try:
            if httpx.get(served.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("hotloop serve did not answer /healthz in time")
