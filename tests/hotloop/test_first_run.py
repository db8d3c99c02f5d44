"""What a newcomer meets first: a mistyped database URL, the SQLite file's permissions, the demo's
temporary folder, the webhook URL `source add` prints, and `/docs` without internet access."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.settings import Settings
from storage.migrate import upgrade
from tests.appserver import free_port, serve_app, test_settings
from tests.databases import PG_ENV
from tests.hotloop.cli_run import cli_environment, hotloop, hotloop_argv

PASSWORD = "hunter2-do-not-print"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout
    for part in expected:
        assert part in lines[0]


@pytest.mark.parametrize("command", [("serve", "--port", "FREE"), ("db", "upgrade"), ("source", "list"),
                                     ("alerts", "list")])
def test_an_unreachable_database_is_one_line_naming_the_variable(
    cli_env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    port = free_port()  # nobody listens on it
    cli_env["HOTLOOP_DATABASE_URL"] = f"postgresql://hotloop:{PASSWORD}@127.0.0.1:{port}/hotloop"
    command = tuple(str(free_port()) if word == "FREE" else word for word in command)
    result = hotloop(*command, env=cli_env, cwd=tmp_path, check=False)
    assert_one_line(result, "cannot connect to the database at HOTLOOP_DATABASE_URL",
                    f"(127.0.0.1:{port})", "connection refused")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgres//hotloop:{PASSWORD}@db/hotloop", "use sqlite:///PATH or postgresql://"),
        (f"postgresql://hotloop:{PASSWORD}@db:54x2/hotloop", "its port is not a number"),
        (f"mysql://hotloop:{PASSWORD}@db/hotloop", "'mysql' is not supported"),
        ("sqlite+aiosqlite:////no/such/folder/hotloop.db", "its folder does not exist"),
    ],
)
def test_a_malformed_database_url_is_one_line_naming_the_variable(
    cli_env: dict[str, str], tmp_path: Path, url: str, reason: str
) -> None:
    cli_env["HOTLOOP_DATABASE_URL"] = url
    result = hotloop("serve", "--port", str(free_port()), env=cli_env, cwd=tmp_path, check=False)
    assert_one_line(result, "HOTLOOP_DATABASE_URL", reason)


@pytest.mark.postgres
def test_a_missing_postgres_database_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    base = urlsplit(os.environ.get(PG_ENV) or pytest.skip(f"{PG_ENV} not set"))
    host, port = base.hostname or "127.0.0.1", base.port or 5432
    cli_env["HOTLOOP_DATABASE_URL"] = f"postgresql://{base.username}:{PASSWORD}@{host}:{port}/no_such_db_x"
    result = hotloop("db", "upgrade", env=cli_env, cwd=tmp_path, check=False)
    assert_one_line(result, f"HOTLOOP_DATABASE_URL ({host}:{port})", 'database "no_such_db_x" does not exist')


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_files_are_owner_only_with_any_umask(cli_env: dict[str, str], tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"
    cli_env["HOTLOOP_DATABASE_URL"] = f"sqlite+aiosqlite:///{migrated}"
    hotloop("db", "upgrade", env=cli_env, cwd=tmp_path, umask=0)
    assert mode(migrated) == 0o600

    cli_env.pop("HOTLOOP_DATABASE_URL")  # the default: hotloop.db in the working directory
    port = free_port()
    server = subprocess.Popen(hotloop_argv("serve", "--port", str(port), umask=0), env=cli_env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_ready(f"http://127.0.0.1:{port}/readyz", server), "hotloop serve did not become ready"
        files = [tmp_path / name for name in ("hotloop.db", "hotloop.db-wal", "hotloop.db-shm")]
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert mode(tmp_path / "hotloop.db") == 0o600


def wait_ready(url: str, server: subprocess.Popen[str]) -> bool:
    for _ in range(300):
        if server.poll() is not None:
            raise AssertionError(f"hotloop serve exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def demo_folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("hotloop-demo-"))


def test_the_demo_removes_its_temporary_database(cli_env: dict[str, str], tmp_path: Path) -> None:
    cli_env["TMPDIR"] = str(tmp := tmp_path / "tmp")
    tmp.mkdir()
    out = hotloop("demo", env=cli_env, cwd=tmp_path).stdout
    assert f"on {tmp}/hotloop-demo-" in out, "the demo's database lives in the temporary folder"
    assert demo_folders(tmp) == []

    with socket.socket() as taken:  # an error: the port is in use
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        failed = hotloop("demo", "--port", port, env=cli_env, cwd=tmp_path, check=False)
    assert failed.returncode != 0 and demo_folders(tmp) == []


def test_the_demo_removes_its_temporary_database_after_ctrl_c(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    cli_env["TMPDIR"] = str(tmp := tmp_path / "tmp")
    tmp.mkdir()
    demo = subprocess.Popen(hotloop_argv("demo"), env=cli_env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    first_line = demo.stdout.readline()  # printed once the server is up and the folder exists
    assert "hotloop demo: serving" in first_line
    demo.send_signal(signal.SIGINT)
    demo.communicate(timeout=60)
    assert demo.returncode in (0, 130)
    assert demo_folders(tmp) == []


def test_source_add_never_invents_a_host_and_port(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = hotloop("source", "add", "kiosk", env=cli_env, cwd=tmp_path).stdout
    webhook = next(line for line in out.splitlines() if "webhook:" in line)
    assert "8000" not in webhook and "127.0.0.1" not in webhook
    assert "/webhooks/kiosk" in webhook and "HOTLOOP_PUBLIC_URL" in webhook
    cli_env["HOTLOOP_PUBLIC_URL"] = "https://hooks.example.com/"
    out = hotloop("source", "add", "kiosk-2", env=cli_env, cwd=tmp_path).stdout
    assert "  webhook: https://hooks.example.com/webhooks/kiosk-2\n" in out
    listed = hotloop("source", "list", env=cli_env, cwd=tmp_path).stdout
    assert "https://hooks.example.com/webhooks/kiosk-2" in listed


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_need_no_internet(tmp_path: Path, page: str) -> None:
    async with serve_app(test_settings(f"sqlite+aiosqlite:///{tmp_path}/docs.db"),
                         prepare_schema=_migrate) as server:
        html = (await server.client.get(page)).text
        absolute = re.findall(r"""https?://[^\s"'<>)]+""", html)
        assert absolute == [], f"{page} loads from elsewhere: {absolute}"
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assets += re.findall(r"""(?:url|spec-url)[:=]\s*["']([^"']+)["']""", html)
        assert len(assets) >= 3 and "/openapi.json" in assets
        for asset in assets:
            reply = await server.client.get(asset)
            assert reply.status_code == 200 and len(reply.content) > 0, asset


async def _migrate(settings: Settings) -> None:
    await upgrade(settings.effective_database_url)
