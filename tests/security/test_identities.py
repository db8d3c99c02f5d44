"""Issue 11 §3 — identities are (platform, id) pairs everywhere: admins, owners, managers, reopen rights.

A Slack user id and a Teams id are different namespaces: the same string on the other platform is
someone else. And display names are not identities: two people may both be called Dana.
Real lifecycle (bot/alerts/lifecycle.py) on a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.alerts.lifecycle import Actor, apply, plan_claim, plan_reopen, plan_resolve, plan_unclaim
from bot.config.io import dump_yaml, export_config, import_yaml, load_yaml
from bot.config.snapshot import ConfigCache, ensure_defaults
from bot.domain import Outcome, utcnow
from bot.settings import SettingsError, build_settings
from storage.db import SessionFactory, transaction
from storage.models import Admin, Team
from tests.appserver import TEST_SECRET_KEY
from tests.helpers import prepared_config, raise_alert

DANA = Actor("U0DANA", "Dana", "slack")
OTHER_DANA = Actor("U0DANA2", "Dana", "slack")  # the same display name, another person
DANA_ON_TEAMS = Actor("U0DANA", "Dana", "teams")  # the same id, on the other platform
MANAGER = Actor("U0MANAGER", "Mo", "slack")
MANAGER_ON_TEAMS = Actor("U0MANAGER", "Mo", "teams")
ADMIN_ON_TEAMS = Actor("U0ADMIN", "Ann", "teams")  # the Slack admin's id, arriving from Teams


async def _try(sessions: SessionFactory, key: str, actor: Actor, plan: Any) -> bool:
    return (await apply(sessions, key=key, actor=actor, now=utcnow(), plan=plan)).ok


async def test_the_same_id_on_another_platform_is_not_the_owner_a_manager_or_an_admin(
    sessions: SessionFactory,
) -> None:
    config = await prepared_config(sessions, managers=["U0MANAGER"], admins=["U0ADMIN"])  # old, unprefixed
    key = await raise_alert(sessions, config)
    assert await _try(sessions, key, DANA, plan_claim(DANA, utcnow(), config))
    for stranger in (DANA_ON_TEAMS, MANAGER_ON_TEAMS, ADMIN_ON_TEAMS):
        assert not await _try(sessions, key, stranger, plan_unclaim(stranger, utcnow(), config)), stranger
        resolve = plan_resolve(stranger, utcnow(), config, Outcome.RECOVERED, None, None)
        assert not await _try(sessions, key, stranger, resolve), stranger
    # the real ones may (Slack's manager here; the owner and the admin likewise)
    assert await _try(sessions, key, MANAGER, plan_unclaim(MANAGER, utcnow(), config))


async def test_reopen_rights_follow_the_resolver_id_not_the_display_name(sessions: SessionFactory) -> None:
    config = await prepared_config(sessions, managers=["U0MANAGER"])
    key = await raise_alert(sessions, config)
    resolve = plan_resolve(DANA, utcnow(), config, Outcome.RECOVERED, None, None)
    assert await _try(sessions, key, DANA, resolve)
    for impostor in (OTHER_DANA, DANA_ON_TEAMS):  # name "Dana" used to be enough
        assert not await _try(sessions, key, impostor, plan_reopen(impostor, utcnow(), config)), impostor
    assert await _try(sessions, key, DANA, plan_reopen(DANA, utcnow(), config))


async def test_hotloop_admins_entries_are_read_by_prefix_or_shape(sessions: SessionFactory) -> None:
    guid = "8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60"
    await ensure_defaults(sessions, default_team="support",
                          admins=["slack:U0ONE", "teams:U0TWO", "W0THREE", guid, "29:1TeamsUser"])
    async with sessions() as session:
        rows = {(a.platform, a.user_id) for a in (await session.execute(select(Admin))).scalars()}
    assert rows == {("slack", "U0ONE"), ("teams", "U0TWO"), ("slack", "W0THREE"), ("teams", guid),
                    ("teams", "29:1TeamsUser")}
    admins = (await ConfigCache(sessions).get()).admins
    assert "teams:U0TWO" in admins and "slack:U0TWO" not in admins


def test_an_admin_entry_whose_platform_cannot_be_told_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="slack:<id> or teams:<id>"):
        build_settings(secret_key=TEST_SECRET_KEY, admins="U0OK, dana")


async def test_config_round_trips_identities_with_their_platform(sessions: SessionFactory) -> None:
    await import_yaml(sessions, "default_team: support\nteams:\n  - name: support\n"
                      "    managers: [U0MGR, 'teams:U0MGR', 8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60]\n"
                      "admins: [U0ADMIN, 'teams:U0ADMIN']\n")
    first = await export_config(sessions)
    assert first["teams"][0]["managers"] == [
        "slack:U0MGR", "teams:U0MGR", "teams:8f2c3a1e-0d4b-4c55-9a57-1b2c3d4e5f60"
    ]
    assert first["admins"] == ["slack:U0ADMIN", "teams:U0ADMIN"]
    async with sessions() as session:
        rows = {(a.platform, a.user_id) for a in (await session.execute(select(Admin))).scalars()}
    assert rows == {("slack", "U0ADMIN"), ("teams", "U0ADMIN")}
    await import_yaml(sessions, dump_yaml(first))
    assert await export_config(sessions) == first
    with pytest.raises(ValueError, match="admins"):
        load_yaml("admins: [dana]\n")


async def test_old_unprefixed_managers_are_exported_with_their_platform(sessions: SessionFactory) -> None:
    await ensure_defaults(sessions, default_team="support", admins=["U0ADMIN"])
    async with transaction(sessions) as session:
        team = (await session.execute(select(Team))).scalars().one()
        team.managers = ["U0OLD", "29:1OldTeams"]  # written before identities were qualified
    exported = await export_config(sessions)
    assert exported["teams"][0]["managers"] == ["slack:U0OLD", "teams:29:1OldTeams"]
