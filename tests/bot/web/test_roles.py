"""Dashboard roles come from hotloop's own configuration: admins see every team, managers their teams and
the teams they asked from, members the teams they asked from (or the default team)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config.snapshot import ConfigCache, ConfigSnapshot, ensure_defaults
from bot.web.users import (
    ADMIN,
    MANAGER,
    MEMBER,
    AccountRefused,
    ChatIdentity,
    WebUser,
    can_see_team,
    email_users,
    identity_from_claims,
    role_for,
)
from storage.db import SessionFactory, transaction
from storage.models import Team


async def config_with_teams(sessions: SessionFactory) -> tuple[ConfigSnapshot, int, int, int]:
    """The default team, "north" managed by slack:U0MAN and teams:<guid>, and "south"."""
    await ensure_defaults(sessions, default_team="support", admins=["slack:U0ADMIN"])
    async with transaction(sessions) as session:
        north = Team(name="north", managers=["slack:U0MAN", "teams:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"])
        south = Team(name="south")
        session.add_all([north, south])
        await session.flush()
        assert north.id is not None and south.id is not None
        ids = north.id, south.id
    config = await ConfigCache(sessions).get()
    return config, config.default_team_id, *ids


async def test_admins_see_every_team(engine: AsyncEngine, sessions: SessionFactory) -> None:
    config, default, north, south = await config_with_teams(sessions)
    role, teams = role_for(config, platform="slack", user_id="U0ADMIN", signin_teams=[])
    assert role == ADMIN and teams == {default, north, south}


async def test_the_same_id_on_another_platform_is_someone_else(engine: AsyncEngine,
                                                               sessions: SessionFactory) -> None:
    config, default, _, _ = await config_with_teams(sessions)
    assert role_for(config, platform="teams", user_id="U0ADMIN", signin_teams=[]) == (
        MEMBER, frozenset({default}))


async def test_managers_see_their_teams_and_where_they_asked_from(engine: AsyncEngine,
                                                                  sessions: SessionFactory) -> None:
    config, default, north, south = await config_with_teams(sessions)
    assert role_for(config, platform="slack", user_id="U0MAN", signin_teams=[]) == (
        MANAGER, frozenset({north}))
    assert role_for(config, platform="slack", user_id="U0MAN", signin_teams=[south]) == (
        MANAGER, frozenset({north, south}))
    teams_manager = role_for(config, platform="teams", user_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                             signin_teams=[])
    assert teams_manager == (MANAGER, frozenset({north}))
    assert default not in teams_manager[1]


async def test_members_see_the_teams_they_asked_from_else_the_default(engine: AsyncEngine,
                                                                      sessions: SessionFactory) -> None:
    config, default, _north, south = await config_with_teams(sessions)
    assert role_for(config, platform="slack", user_id="U0ANA", signin_teams=[south]) == (
        MEMBER, frozenset({south}))
    assert role_for(config, platform="slack", user_id="U0ANA", signin_teams=[]) == (
        MEMBER, frozenset({default}))
    # a team deleted since the link was made is not seen
    assert role_for(config, platform="slack", user_id="U0ANA", signin_teams=[9999]) == (
        MEMBER, frozenset({default}))


def test_can_see_team_and_actor() -> None:
    member = WebUser(platform="teams", user_id="abc", name="Ana", role=MEMBER, teams=frozenset({2}),
                     csrf_token="x", session_id=1)
    admin = WebUser(platform="slack", user_id="U1", name="Root", role=ADMIN, teams=frozenset(),
                    csrf_token="x", session_id=2)
    assert can_see_team(member, 2) and not can_see_team(member, 3)
    assert can_see_team(admin, 3)  # admins see teams created after they signed in
    assert (member.actor.platform, member.actor.id, member.actor.name) == ("teams", "abc", "Ana")


# ---- OpenID Connect: which chat user a verified ID token names ---------------------------------------

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
EMAILS = email_users(["Bea@Acme.example=slack:U0BEA", "max@acme.example=teams:29:max"])


def named(claims: Mapping[str, object], *, workspaces: frozenset[str] = frozenset({"T0TEST"}),
          tenants: frozenset[str] = frozenset({TENANT})) -> ChatIdentity:
    return identity_from_claims(claims, slack_workspaces=workspaces, teams_tenants=tenants, emails=EMAILS)


def test_claims_name_the_chat_user_by_platform_id_or_listed_email() -> None:
    slack = {"https://slack.com/user_id": "U0ANA", "https://slack.com/team_id": "T0TEST", "name": "ana"}
    assert named(slack) == ChatIdentity("slack", "U0ANA", "ana")
    entra = {"tid": TENANT.upper(), "oid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "name": "x" * 300}
    assert named(entra) == ChatIdentity("teams", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "x" * 255)
    mail = {"email": "bea@acme.example", "email_verified": True}
    assert named(mail) == ChatIdentity("slack", "U0BEA", "bea@acme.example")
    grid = {"https://slack.com/user_id": "U0ANA", "https://slack.com/team_id": "T0ELSE",
            "https://slack.com/enterprise_id": "E0ORG"}  # an org-wide install serves the whole org
    assert named(grid, workspaces=frozenset({"E0ORG"})).user_id == "U0ANA"
    assert named({**entra, "tid": "another"}, tenants=frozenset({"*"})).platform == "teams"


@pytest.mark.parametrize("claims", [
    {"https://slack.com/user_id": "U0ANA", "https://slack.com/team_id": "T0OTHER"},
    {"https://slack.com/user_id": "U0ANA"},  # no workspace said
    {"tid": "another-tenant", "oid": "abc", "email": "bea@acme.example", "email_verified": True},
    {"tid": TENANT},
    {"email": "bea@acme.example"},  # not verified
    {"email": "bea@acme.example", "email_verified": "true"},  # verified is a boolean, not a string
    {"email": "zoe@acme.example", "email_verified": True},
    {"sub": "someone"},
])
def test_other_accounts_are_refused_with_a_reason(claims: dict[str, object]) -> None:
    with pytest.raises(AccountRefused) as refused:
        named(claims)
    assert refused.value.reason.endswith(".")
    with pytest.raises(AccountRefused):  # and nobody is served when nothing is configured
        named(claims, workspaces=frozenset(), tenants=frozenset())
