"""`hotloop alerts claim|resolve|reopen KEY`: a real subprocess on a real database, through the same
action table as a click (guards, form checks, events); the actor is `--as NAME` on platform "cli"."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.action_ids import ActionId
from bot.actions.table import ActionRequest, handle
from bot.alerts.lifecycle import Actor
from bot.domain import utcnow
from storage.db import SessionFactory
from storage.models import AlertEvent
from tests.appserver import TEST_SECRET_KEY
from tests.helpers import prepared_config, raise_alert
from tests.hotloop.cli_run import cli_environment, hotloop


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


def feed_one_alert(env: dict[str, str]) -> None:
    async def feed() -> None:
        from bot.settings import build_settings
        from storage.migrate import upgrade
        from tests.appserver import serve_app

        url = env["HOTLOOP_DATABASE_URL"]
        settings = build_settings(mode="test", database_url=url, secret_key=TEST_SECRET_KEY)
        await upgrade(settings.effective_database_url)
        async with serve_app(settings) as server:
            await server.add_source("web")
            assert (await server.post_feedback({"id": "a", "nps": 1})).status_code == 202

    asyncio.run(feed())


def events(env: dict[str, str]) -> list[tuple[str, str, str, dict[str, object]]]:
    async def read() -> list[tuple[str, str, str, dict[str, object]]]:
        from storage.db import create_engine_for, session_factory

        engine = create_engine_for(env["HOTLOOP_DATABASE_URL"])
        try:
            async with session_factory(engine)() as session:
                rows = (await session.execute(select(AlertEvent).order_by(AlertEvent.id))).scalars()  # type: ignore[arg-type]
                return [(e.kind, e.platform, e.actor_name, dict(e.data)) for e in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def status_of(env: dict[str, str], tmp_path: Path) -> tuple[str, str | None]:
    listed = hotloop("alerts", "list", "--json", env=env, cwd=tmp_path).stdout
    (row,) = [json.loads(line) for line in listed.splitlines()]
    return row["status"], row["owner"]


def test_claim_resolve_reopen_from_the_terminal(cli_env: dict[str, str], tmp_path: Path) -> None:
    feed_one_alert(cli_env)
    claimed = hotloop("alerts", "claim", "HA-1001", "--as", "Fox Mulder", env=cli_env, cwd=tmp_path)
    assert claimed.stdout.strip() == "You claimed HA-1001"
    assert status_of(cli_env, tmp_path) == ("claimed", "Fox Mulder")

    again = hotloop("alerts", "claim", "HA-1001", "--as", "Fox Mulder", env=cli_env, cwd=tmp_path,
                    check=False)
    assert again.returncode == 1 and "You already own HA-1001" in again.stderr
    bad = hotloop("alerts", "resolve", "HA-1001", "--outcome", "fixed", env=cli_env, cwd=tmp_path,
                  check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == "Pick an outcome"
    bad_cause = hotloop("alerts", "resolve", "HA-1001", "--outcome", "recovered", "--root-cause", "aliens",
                        env=cli_env, cwd=tmp_path, check=False)
    assert bad_cause.returncode == 1 and "root cause" in bad_cause.stderr
    assert status_of(cli_env, tmp_path)[0] == "claimed"

    resolved = hotloop("alerts", "resolve", "HA-1001", "--outcome", "recovered", "--root-cause", "staff",
                       "--note", "Refunded the visit", "--follow-up", "--as", "Dana Scully",
                       env=cli_env, cwd=tmp_path)
    assert resolved.stdout.strip() == "HA-1001 resolved: Recovered"  # an admin's reach: not the owner
    assert status_of(cli_env, tmp_path)[0] == "resolved"

    reopened = hotloop("alerts", "reopen", "ha-1001", "--as", "Walter Skinner", env=cli_env, cwd=tmp_path)
    assert reopened.stdout.strip() == "HA-1001 reopened"
    twice = hotloop("alerts", "reopen", "HA-1001", env=cli_env, cwd=tmp_path, check=False)
    assert twice.returncode == 1 and "is not resolved" in twice.stderr
    missing = hotloop("alerts", "claim", "HA-9999", env=cli_env, cwd=tmp_path, check=False)
    assert missing.returncode == 1 and "There is no alert HA-9999" in missing.stderr

    acted = [(kind, platform, who) for kind, platform, who, _ in events(cli_env) if platform == "cli"]
    assert acted == [("claimed", "cli", "Fox Mulder"), ("resolved", "cli", "Dana Scully"),
                     ("reopened", "cli", "Walter Skinner")]
    resolved_data = next(data for kind, _, _, data in events(cli_env) if kind == "resolved")
    assert resolved_data["follow_up_survey"] is True and resolved_data["root_cause"] == "staff"

    printed = hotloop("stats", "--json", env=cli_env, cwd=tmp_path).stdout
    figures = [json.loads(line) for line in printed.splitlines()]
    for name in ("first_contact_median_seconds", "acknowledged_rate", "follow_up_answer_rate",
                 "confirmed_recovery_rate"):
        assert name in figures[0] and figures[0][name] is None  # nobody contacted, asked or followed up
    assert figures[0]["response_rate"] == 1.0  # claimed from the terminal: someone responded
    text = hotloop("stats", env=cli_env, cwd=tmp_path).stdout
    assert "first contact median —" in text and "(target within 1 h)" in text


async def test_a_cli_actor_goes_through_the_action_table_on_every_database(sessions: SessionFactory) -> None:
    """The terminal's actor on SQLite and PostgreSQL: the same `handle` as a click; an alert someone
    else owns can still be resolved (an admin's reach), and the form's checks apply."""
    config = await prepared_config(sessions)
    key = await raise_alert(sessions, config)
    ana = Actor("U0ANA", "Ana", "slack")
    assert (await handle(ActionRequest(ActionId.CLAIM, key, ana), sessions=sessions, config=config,
                         now=utcnow())).ok
    fox = Actor(id="fox", name="fox", platform="cli")
    refused = await handle(ActionRequest(ActionId.RESOLVE, key, fox, {"outcome": "nope"}),
                           sessions=sessions, config=config, now=utcnow())
    assert not refused.ok and refused.message == "Pick an outcome"
    done = await handle(ActionRequest(ActionId.RESOLVE, key, fox, {"outcome": "unreachable"}),
                        sessions=sessions, config=config, now=utcnow())
    assert done.ok and done.message == f"{key} resolved: Unreachable"
    ben = Actor("U0BEN", "Ben", "slack")  # a chat user who neither owns nor manages it may not reopen
    assert not (await handle(ActionRequest(ActionId.REOPEN, key, ben), sessions=sessions, config=config,
                             now=utcnow())).ok
