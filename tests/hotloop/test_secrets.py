"""The key that seals the stored source secrets: `hotloop init` keeps it in `.env`, every command reads
that file, `serve` refuses a key that does not open the stored secrets, a webhook to such a source
answers 503, and `hotloop secrets rekey` re-seals everything under another key, all or nothing.

Real files in temporary folders, the real CLI in a subprocess, real databases (SQLite, and PostgreSQL
when HOTLOOP_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config.sources import add_source, rekey_secrets
from bot.crypto import SecretBox
from bot.settings import build_settings
from storage.db import create_engine_for, session_factory
from storage.migrate import upgrade
from storage.models import Source
from tests.appserver import free_port, serve_app, test_settings
from tests.databases import throwaway_pg_database
from tests.hotloop.cli_run import cli_environment, hotloop

KEY_A = "key-a-0123456789abcdefghijklmnop"
KEY_B = "key-b-0123456789abcdefghijklmnop"
KEY_C = "key-c-0123456789abcdefghijklmnop"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database for the CLI to migrate."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    else:
        yield from throwaway_pg_database("hotloop_keys")


def seed(url: str, key: str, *names: str, api_token: str | None = None) -> dict[str, str]:
    """Sources sealed under `key`; returns their signing secrets."""

    async def run() -> dict[str, str]:
        await upgrade(url)
        engine = create_engine_for(url)
        try:
            made = [await add_source(session_factory(engine), SecretBox(key), name=name, kind="generic",
                                     api_token=api_token) for name in names]
        finally:
            await engine.dispose()
        return {created.name: created.secret for created in made}

    return asyncio.run(run())


def stored(url: str) -> dict[str, tuple[str, str | None]]:
    async def run() -> dict[str, tuple[str, str | None]]:
        engine = create_engine_for(url)
        try:
            async with session_factory(engine)() as session:
                rows = (await session.execute(select(Source))).scalars().all()
        finally:
            await engine.dispose()
        return {row.name: (row.secret_encrypted, row.api_token_encrypted) for row in rows}

    return asyncio.run(run())


def opened(url: str, key: str) -> dict[str, tuple[str, str | None]]:
    box = SecretBox(key)
    return {name: (box.open(secret), box.open(token) if token else None)
            for name, (secret, token) in stored(url).items()}


def test_init_writes_a_private_env_that_every_command_reads(cli_env: dict[str, str], tmp_path: Path) -> None:
    cli_env.pop("HOTLOOP_SECRET_KEY")
    result = hotloop("init", env=cli_env, cwd=tmp_path, umask=0)  # no umask to hide behind
    env_file = tmp_path / ".env"
    assert "wrote" in result.stdout and env_file.is_file()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    key_lines = [line for line in text.splitlines() if line.startswith("HOTLOOP_SECRET_KEY=")]
    assert len(key_lines) == 1 and len(key_lines[0].split("=", 1)[1]) >= 32
    for other in ("# HOTLOOP_DATABASE_URL=", "# HOTLOOP_PUBLIC_URL=", "# HOTLOOP_SLACK_BOT_TOKEN=",
                  "# HOTLOOP_TEAMS_APP_ID="):
        assert other in text, f"{other} should be listed for the newcomer"

    # the key stays: two commands, two processes, one key (the README's old line made one per start)
    secret = hotloop("source", "add", "kiosk", env=cli_env, cwd=tmp_path).stdout.split("secret:")[1].strip()
    assert opened(cli_env["HOTLOOP_DATABASE_URL"], key_lines[0].split("=", 1)[1]) == {"kiosk": (secret, None)}
    assert "kiosk" in hotloop("source", "list", env=cli_env, cwd=tmp_path).stdout

    again = hotloop("init", env=cli_env, cwd=tmp_path, check=False)
    assert again.returncode == 1 and "already holds HOTLOOP_SECRET_KEY" in again.stderr
    assert env_file.read_text() == text, "an existing key is never replaced"


def test_real_environment_variables_win_over_env(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HOTLOOP_PUBLIC_URL=https://from-dotenv.example\n")
    from_file = hotloop("source", "add", "one", env=cli_env, cwd=tmp_path).stdout
    assert "https://from-dotenv.example/webhooks/one" in from_file
    cli_env["HOTLOOP_PUBLIC_URL"] = "https://from-env.example"
    from_env = hotloop("source", "add", "two", env=cli_env, cwd=tmp_path).stdout
    assert "https://from-env.example/webhooks/two" in from_env


def test_init_adds_a_key_to_an_env_without_one(cli_env: dict[str, str], tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HOTLOOP_PUBLIC_URL=https://hotloop.example.com")  # no final newline
    env_file.chmod(0o644)
    hotloop("init", env=cli_env, cwd=tmp_path)
    lines = env_file.read_text().splitlines()
    assert lines[0] == "HOTLOOP_PUBLIC_URL=https://hotloop.example.com"
    assert lines[1].startswith("HOTLOOP_SECRET_KEY=")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_serve_refuses_a_key_that_does_not_open_the_stored_secrets(
    cli_env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    seed(db_url, KEY_A, "kiosk", "typeform", "web")
    cli_env.update(HOTLOOP_DATABASE_URL=db_url, HOTLOOP_SECRET_KEY=KEY_B)
    result = hotloop("serve", "--port", str(free_port()), env=cli_env, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "HOTLOOP_SECRET_KEY does not decrypt the 3 stored source secrets (was it changed?); restore the "
        "old key or run `hotloop secrets rekey --old-key OLD_KEY` (key lost: `hotloop source "
        "rotate-secret NAME` for each source)"
    )


async def test_a_webhook_to_a_source_sealed_under_another_key_answers_503(
    engine: object, database_url: str
) -> None:
    async with serve_app(test_settings(database_url, secret_key=KEY_B)) as server:
        await add_source(server.ctx.sessions, SecretBox(KEY_A), name="web", kind="generic",
                         secret="source-secret-for-tests-0123456789")
        refused = await server.post_feedback({"id": "r-1", "nps": 2})
        assert refused.status_code == 503
        assert "cannot be decrypted" in refused.json()["error"]
        # rekeyed under the running server's key: the sender's retry is accepted
        moved = await rekey_secrets(server.ctx.sessions, old=SecretBox(KEY_A), new=server.ctx.secrets)
        assert moved == (1, 1)
        assert (await server.post_feedback({"id": "r-1", "nps": 2})).status_code == 202


def test_rekey_from_the_old_key_to_the_current_one(
    cli_env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    secrets = seed(db_url, KEY_A, "kiosk", "web")
    secrets |= seed(db_url, KEY_A, "qualtrics", api_token="qualtrics-api-token")
    cli_env.update(HOTLOOP_DATABASE_URL=db_url, HOTLOOP_SECRET_KEY=KEY_B)
    result = hotloop("secrets", "rekey", "--old-key", KEY_A, env=cli_env, cwd=tmp_path)
    assert "re-sealed 4 of the 4 stored secrets" in result.stdout
    assert opened(db_url, KEY_B) == {
        "kiosk": (secrets["kiosk"], None), "web": (secrets["web"], None),
        "qualtrics": (secrets["qualtrics"], "qualtrics-api-token"),
    }
    # a source added under the new key before the rekey is left as it is
    seed(db_url, KEY_C, "late")
    cli_env["HOTLOOP_SECRET_KEY"] = KEY_C
    hotloop("secrets", "rekey", "--old-key", KEY_B, env=cli_env, cwd=tmp_path)
    assert set(opened(db_url, KEY_C)) == {"kiosk", "web", "qualtrics", "late"}


def test_rekey_is_all_or_nothing(cli_env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    seed(db_url, KEY_A, "kiosk")
    seed(db_url, KEY_C, "stray")  # sealed under a third key: opens with neither
    before = stored(db_url)
    cli_env.update(HOTLOOP_DATABASE_URL=db_url, HOTLOOP_SECRET_KEY=KEY_B)
    result = hotloop("secrets", "rekey", "--old-key", KEY_A, env=cli_env, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "1 of the 2 stored secrets open with neither key; nothing changed"
    assert stored(db_url) == before


def test_rekey_to_a_new_key_moves_env_along(cli_env: dict[str, str], tmp_path: Path) -> None:
    cli_env.pop("HOTLOOP_SECRET_KEY")
    hotloop("init", env=cli_env, cwd=tmp_path)
    secret = hotloop("source", "add", "kiosk", env=cli_env, cwd=tmp_path).stdout.split("secret:")[1].strip()
    result = hotloop("secrets", "rekey", "--new-key", KEY_B, env=cli_env, cwd=tmp_path)
    assert "re-sealed 1 of the 1" in result.stdout and ".env now holds the new key" in result.stdout
    env_file = tmp_path / ".env"
    assert f"HOTLOOP_SECRET_KEY='{KEY_B}'" in env_file.read_text().splitlines()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert opened(cli_env["HOTLOOP_DATABASE_URL"], KEY_B) == {"kiosk": (secret, None)}
    # the commands read the new key from .env: rotating a secret seals it under KEY_B
    rotate = ("source", "rotate-secret", "kiosk", "--secret", "rotated-secret-0123456789")
    hotloop(*rotate, env=cli_env, cwd=tmp_path)
    assert opened(cli_env["HOTLOOP_DATABASE_URL"], KEY_B) == {"kiosk": ("rotated-secret-0123456789", None)}


def test_rekey_refuses_a_weak_or_identical_key(cli_env: dict[str, str], tmp_path: Path) -> None:
    weak = hotloop("secrets", "rekey", "--new-key", "short", env=cli_env, cwd=tmp_path, check=False)
    assert weak.returncode == 2 and "at least 16 characters" in weak.stderr
    same = hotloop("secrets", "rekey", "--new-key", cli_env["HOTLOOP_SECRET_KEY"], env=cli_env, cwd=tmp_path,
                   check=False)
    assert same.returncode == 2 and "the same" in same.stderr
    neither = hotloop("secrets", "rekey", env=cli_env, cwd=tmp_path, check=False)
    assert neither.returncode == 2 and "--old-key" in neither.stderr


def test_hotloop_env_file_picks_the_file_and_empty_reads_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite sets HOTLOOP_ENV_FILE="" so a developer's `.env` in the checkout changes nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOTLOOP_DEFAULT_TEAM", raising=False)
    (tmp_path / ".env").write_text("HOTLOOP_DEFAULT_TEAM=from-dotenv\n")
    (tmp_path / "other.env").write_text("HOTLOOP_DEFAULT_TEAM=from-other\n")
    monkeypatch.setenv("HOTLOOP_ENV_FILE", "")
    assert build_settings(mode="demo").default_team == "support"
    monkeypatch.setenv("HOTLOOP_ENV_FILE", "other.env")
    assert build_settings(mode="demo").default_team == "from-other"
    monkeypatch.delenv("HOTLOOP_ENV_FILE")
    assert build_settings(mode="demo").default_team == "from-dotenv"
