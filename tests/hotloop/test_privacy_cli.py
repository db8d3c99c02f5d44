"""`hotloop privacy export|erase --email X` as a real subprocess on a SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.hotloop.cli_run import cli_environment, hotloop


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


def _raise_dana_alert(database_url: str) -> str:
    async def work() -> str:
        from storage.db import create_engine_for, session_factory
        from storage.migrate import upgrade
        from tests.helpers import prepared_config, raise_alert

        await upgrade(database_url)
        engine = create_engine_for(database_url)
        try:
            sessions = session_factory(engine)
            config = await prepared_config(sessions)
            dana = {"name": "Dana Scully", "email": "dana@example.com"}
            return await raise_alert(sessions, config, customer=dana)
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_export_then_erase(cli_env: dict[str, str], tmp_path: Path) -> None:
    key = _raise_dana_alert(cli_env["HOTLOOP_DATABASE_URL"])
    exported = hotloop("privacy", "export", "--email", "DANA@example.com", env=cli_env, cwd=tmp_path)
    held = json.loads(exported.stdout)
    assert held["responses"][0]["name"] == "Dana Scully" and held["alerts"][0]["key"] == key
    erased = hotloop("privacy", "erase", "--email", "dana@example.com", "--as", "dpo", env=cli_env,
                     cwd=tmp_path)
    assert f"Erased 1 response(s); alerts {key}" in erased.stdout and "dana" not in erased.stdout.casefold()
    again = hotloop("privacy", "export", "--email", "dana@example.com", env=cli_env, cwd=tmp_path)
    nothing: dict[str, object] = {"responses": [], "alerts": [], "messages": []}
    assert json.loads(again.stdout) == {"email": "dana@example.com", **nothing, "suppressed": True}
    bad = hotloop("privacy", "erase", "--email", "nobody", env=cli_env, cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "give one e-mail address" in bad.stderr and "Traceback" not in bad.stderr
