"""A team's systemic-spike settings: HOTLOOP_SYSTEMIC_* (bot/settings.py), the team's `systemic:` block on
top (bot/config/systemic.py), the YAML round trip (bot/config/io.py) and the snapshot's effective values.

The database tests run on SQLite and, with HOTLOOP_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.config.io import ConfigError, dump_yaml, export_config, import_yaml, load_yaml
from bot.config.snapshot import ConfigCache
from bot.settings import SettingsError, build_settings
from bot.systemic.detect import SystemicSettings
from bot.systemic.settings import SystemicConfigError, defaults, parse_systemic, systemic_settings
from storage.db import SessionFactory, transaction
from storage.models import Team
from tests.appserver import TEST_SECRET_KEY


def test_environment_defaults_are_the_issue_defaults() -> None:
    built = build_settings(mode="test", secret_key=TEST_SECRET_KEY)
    assert defaults(built) == SystemicSettings(7200, 3, 0.01, True)
    assert built.employee_figures is True


def test_environment_values_are_read_and_durations_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLOOP_SYSTEMIC_WINDOW", "90m")
    monkeypatch.setenv("HOTLOOP_SYSTEMIC_MIN_COUNT", "5")
    monkeypatch.setenv("HOTLOOP_SYSTEMIC_SENSITIVITY", "0.001")
    monkeypatch.setenv("HOTLOOP_EMPLOYEE_FIGURES", "off")
    built = build_settings(mode="test", secret_key=TEST_SECRET_KEY)
    assert defaults(built) == SystemicSettings(window_seconds=5400, min_count=5, sensitivity=0.001)
    assert built.employee_figures is False


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("HOTLOOP_SYSTEMIC_WINDOW", "soon", "HOTLOOP_SYSTEMIC_WINDOW: not a duration"),
        ("HOTLOOP_SYSTEMIC_WINDOW", "10s", "systemic_window"),
        ("HOTLOOP_SYSTEMIC_WINDOW", "30d", "systemic_window"),
        ("HOTLOOP_SYSTEMIC_MIN_COUNT", "0", "systemic_min_count"),
        ("HOTLOOP_SYSTEMIC_MIN_COUNT", "three", "systemic_min_count"),
        ("HOTLOOP_SYSTEMIC_SENSITIVITY", "0", "systemic_sensitivity"),
        ("HOTLOOP_SYSTEMIC_SENSITIVITY", "1", "systemic_sensitivity"),
        ("HOTLOOP_SYSTEMIC_SENSITIVITY", "-0.5", "systemic_sensitivity"),
        ("HOTLOOP_EMPLOYEE_FIGURES", "sometimes", "employee_figures"),
    ],
)
def test_bad_environment_values_fail_closed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=said):
        build_settings(mode="test", secret_key=TEST_SECRET_KEY)


def test_a_team_block_overrides_only_what_it_sets() -> None:
    built = build_settings(mode="test", secret_key=TEST_SECRET_KEY, systemic_window="4h")
    assert systemic_settings(built, None) == SystemicSettings(window_seconds=14400)
    assert systemic_settings(built, {"min_count": 5}) == SystemicSettings(window_seconds=14400, min_count=5)
    assert systemic_settings(built, {"window": "30m", "sensitivity": 0.05, "enabled": False}) == (
        SystemicSettings(window_seconds=1800, min_count=3, sensitivity=0.05, enabled=False)
    )
    assert systemic_settings(built, {"window": 600}).window_seconds == 600  # plain seconds too


def test_a_stored_block_that_no_longer_validates_falls_back_to_the_defaults() -> None:
    built = build_settings(mode="test", secret_key=TEST_SECRET_KEY)
    assert systemic_settings(built, {"min_count": 0, "colour": "red"}) == defaults(built)


@pytest.mark.parametrize(
    ("block", "said"),
    [
        ({"colour": "red"}, "colour: unknown key"),
        ({"window": "10s"}, "window: the window must be between 1m and 7d"),
        ({"window": "soon"}, "window: not a duration"),
        ({"window": True}, "window: not a duration"),
        ({"min_count": 0}, "min_count: Input should be greater than or equal to 1"),
        ({"min_count": "3"}, "min_count"),
        ({"sensitivity": 1.0}, "sensitivity: Input should be less than 1"),
        ({"sensitivity": 0}, "sensitivity: Input should be greater than 0"),
        ({"enabled": "yes"}, "enabled"),
    ],
)
def test_bad_blocks_are_refused_naming_the_key(block: dict[str, object], said: str) -> None:
    with pytest.raises(SystemicConfigError, match=said):
        parse_systemic(block)


def test_the_stored_form_keeps_only_what_the_team_sets() -> None:
    assert parse_systemic({"window": 7200, "min_count": 4}).stored() == {"window": "2h", "min_count": 4}
    assert parse_systemic({"enabled": False}).stored() == {"enabled": False}


YAML = """
default_team: support
teams:
  - name: store-042
    systemic: {window: 4h, min_count: 5, sensitivity: 0.05}
  - name: store-043
    systemic: {enabled: false}
  - name: support
"""


async def test_yaml_round_trips_and_the_snapshot_has_effective_values(sessions: SessionFactory) -> None:
    await import_yaml(sessions, YAML)
    exported = await export_config(sessions)
    teams = {team["name"]: team for team in exported["teams"]}
    assert teams["store-042"]["systemic"] == {"window": "4h", "min_count": 5, "sensitivity": 0.05}
    assert teams["store-043"]["systemic"] == {"enabled": False}
    assert "systemic" not in teams["support"]
    assert load_yaml(dump_yaml(exported)).normalized() == exported  # export → import → same document
    async with sessions() as session:
        rows = (await session.execute(select(Team).order_by(col(Team.name)))).scalars()
        stored = {team.name: team.systemic for team in rows}
    assert stored == {"store-042": {"window": "4h", "min_count": 5, "sensitivity": 0.05},
                      "store-043": {"enabled": False}, "support": None}

    env = SystemicSettings(window_seconds=3600, min_count=2, sensitivity=0.02)
    config = await ConfigCache(sessions, systemic_defaults=env).get()
    by_name = {team.name: team for team in config.teams.values()}
    assert by_name["store-042"].systemic == SystemicSettings(14400, 5, 0.05, True)
    assert by_name["store-043"].systemic == SystemicSettings(3600, 2, 0.02, False)
    assert by_name["support"].systemic == env
    assert config.team(by_name["store-042"].id).systemic.min_count == 5


async def test_bad_yaml_blocks_are_refused_with_their_path(sessions: SessionFactory) -> None:
    await import_yaml(sessions, YAML)
    before = await export_config(sessions)
    bad = YAML.replace("min_count: 5", "min_count: 0").replace("{enabled: false}", "{enabled: false, x: 1}")
    with pytest.raises(ConfigError) as caught:
        await import_yaml(sessions, bad)
    assert "teams[0].systemic.min_count: Input should be greater than or equal to 1" in caught.value.problems
    assert "teams[1].systemic.x: unknown key" in caught.value.problems
    assert await export_config(sessions) == before


async def test_a_hand_edited_bad_block_does_not_break_the_snapshot(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        session.add(Team(name="support", is_default=True, systemic={"min_count": "lots"}))
    config = await ConfigCache(sessions).get()
    assert config.team(config.default_team_id).systemic == SystemicSettings()
