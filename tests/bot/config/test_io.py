"""Configuration as code: YAML export/import, strict validation, all-or-nothing writes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel, col

import bot.config.io as config_io
from bot.config.io import ConfigError, dump_yaml, export_config, import_config, import_yaml, load_yaml
from storage.db import SessionFactory, transaction
from storage.models import Admin, Alert, EscalationStep, Feedback, Route, Rule, SlaPolicy, Source, Team

SAMPLE = """
default_team: support
teams:
  - name: store-042
    slack_channel: C0123456
    teams_channel: "19:abc@thread.tacv2"
    managers_slack_channel: C0999
    managers_teams_channel: "19:mgr@thread.tacv2"
    managers: [U0MGR1]
    timezone: Europe/Paris
    business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00", holidays: ["2026-12-25"]}
  - name: support
    slack_channel: C0654321
routes:
  - match: {location: "042"}
    team: store-042
    priority: 10
  - match: {source: typeform, severity: ">=high"}
    team: support
rules:
  - name: vip-any-complaint
    when: {field: attr.tier, op: "=", value: vip}
    severity: critical
    priority: 10
  - name: ignore-tests
    when: "attr.test = yes"
    severity: none
sla:
  critical: {claim: 15m, resolve: 4h}
  high: {claim: 1h, resolve: 24h}
team_sla:
  store-042: {critical: {claim: 10m, resolve: 2h}}
escalation:
  store-042:
    - {after: 0s, platform: teams, to: "19:mgr@thread.tacv2", description: "store managers"}
    - {after: 1h, platform: slack, to: U0REGIONAL}
  "*":
    - {after: 2h, platform: slack, to: C0ESCALATE}
admins: [U0ADMIN1]
"""

CONFIG_TABLES: list[type[SQLModel]] = [Team, Route, Rule, SlaPolicy, EscalationStep, Admin, Source]


async def _counts(sessions: SessionFactory) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__name__: (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in CONFIG_TABLES
        }


async def _snapshot(sessions: SessionFactory) -> tuple[dict[str, int], dict[str, Any]]:
    return await _counts(sessions), await export_config(sessions)


async def test_import_then_export_equals_the_document(sessions: SessionFactory) -> None:
    doc = load_yaml(SAMPLE)
    summary = await import_config(sessions, doc, actor="test")
    assert sorted(summary.teams_created) == ["store-042", "support"]
    assert (summary.routes, summary.rules, summary.sla_policies, summary.escalation_steps) == (2, 2, 3, 3)

    exported = await export_config(sessions)
    assert exported == load_yaml(SAMPLE).normalized()
    assert exported["default_team"] == "support"
    assert exported["routes"][1] == {
        "match": {"severity": ">=high", "source": "typeform"},
        "team": "support",
        "priority": 20,
    }  # default priority = position * 10
    assert exported["rules"][1]["when"] == "attr.test = yes"
    assert exported["sla"]["high"] == {"claim": "1h", "resolve": "1d"}
    assert list(exported["escalation"]) == ["*", "store-042"]

    async with sessions() as session:
        rule = (await session.execute(select(Rule).where(col(Rule.name) == "ignore-tests"))).scalar_one()
        assert rule.condition == {"text": "attr.test = yes"} and rule.severity is None
        assert rule.created_by == "test"
        by_id = select(EscalationStep).order_by(col(EscalationStep.id))
        steps = (await session.execute(by_id)).scalars().all()
        assert [(s.level, s.after_seconds) for s in steps[:2]] == [(1, 0), (2, 3600)]
        assert steps[2].team_id is None
        query = select(SlaPolicy).where(col(SlaPolicy.team_id).is_(None))
        global_sla = (await session.execute(query)).scalars().all()
        assert {(p.severity, p.claim_seconds, p.resolve_seconds) for p in global_sla} == {
            ("critical", 900, 14400),
            ("high", 3600, 86400),
        }
        default = (await session.execute(select(Team).where(col(Team.is_default)))).scalars().all()
        assert [t.name for t in default] == ["support"]


async def test_round_trip_export_dump_load_import_export(sessions: SessionFactory) -> None:
    await import_yaml(sessions, SAMPLE)
    first = await export_config(sessions)
    text = dump_yaml(first)
    assert "claim: 15m" in text and "'042'" in text
    await import_config(sessions, load_yaml(text))
    assert await export_config(sessions) == first


async def test_reimport_replaces_routes_without_duplicates(sessions: SessionFactory) -> None:
    await import_yaml(sessions, SAMPLE)
    await import_yaml(sessions, SAMPLE)
    counts = await _counts(sessions)
    assert counts["Route"] == 2 and counts["Rule"] == 2 and counts["Team"] == 2 and counts["Admin"] == 1

    smaller = SAMPLE.replace('  - match: {source: typeform, severity: ">=high"}\n    team: support\n', "")
    await import_yaml(sessions, smaller)
    exported = await export_config(sessions)
    assert [r["team"] for r in exported["routes"]] == ["store-042"]
    assert (await _counts(sessions))["Route"] == 1


BAD_DOCUMENTS = {  # case: (document, expected part of the message)
    "route to unknown team": (SAMPLE.replace("    team: support\n", "    team: nowhere\n"), "team 'nowhere'"),
    "unknown severity": (SAMPLE.replace("severity: critical", "severity: urgent"), "severity 'urgent'"),
    "unknown sla severity": (SAMPLE.replace("  high: {claim", "  urgent: {claim"), "sla.urgent"),
    "bad duration": (SAMPLE.replace("claim: 15m", "claim: 15 minutes"), "sla.critical.claim: not a duration"),
    "duplicate team": (SAMPLE.replace("name: support", "name: store-042"), "duplicate team name 'store-042'"),
    "unknown key": (SAMPLE.replace("slack_channel: C0654321", "slack_chanel: C0"), "teams[1].slack_chanel"),
    "unknown escalation team": (SAMPLE.replace('  "*":', "  ghost:"), "escalation.ghost: unknown team"),
    "unquoted time": (SAMPLE.replace('end: "18:00"', "end: 18:00"), "not a time of day"),
    "bad platform": (SAMPLE.replace("platform: slack, to: U0REGIONAL", "platform: fax, to: U0"), "platform"),
    "duplicate yaml key": (SAMPLE.replace("admins: [U0ADMIN1]", "admins: []\nadmins: []"), "duplicate key"),
    "not yaml": ("teams: [", "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
async def test_invalid_documents_write_nothing(sessions: SessionFactory, case: str) -> None:
    await import_yaml(sessions, SAMPLE.replace("U0ADMIN1", "U0ADMIN2").replace("C0654321", "C0OLD"))
    before = await _snapshot(sessions)
    text, expected = BAD_DOCUMENTS[case]
    with pytest.raises(ConfigError) as caught:
        await import_yaml(sessions, text)
    assert expected in str(caught.value)
    assert await _snapshot(sessions) == before


async def test_failure_inside_the_transaction_rolls_everything_back(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await import_yaml(sessions, SAMPLE)
    before = await _snapshot(sessions)

    async def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(config_io, "_replace_admins", boom)
    changed = (
        SAMPLE.replace("C0654321", "C0NEW")
        .replace("name: store-042", "name: store-043")
        .replace("store-042:", "store-043:")
        .replace("team: store-042", "team: store-043")
    )
    with pytest.raises(RuntimeError, match="disk on fire"):
        await import_yaml(sessions, changed)
    assert await _snapshot(sessions) == before


async def test_teams_referenced_by_alerts_are_kept_and_reported(sessions: SessionFactory) -> None:
    await import_yaml(sessions, SAMPLE)
    async with transaction(sessions) as session:
        store = (await session.execute(select(Team).where(col(Team.name) == "store-042"))).scalar_one()
        source = Source(name="typeform", kind="typeform", secret_encrypted="x")
        session.add(source)
        await session.flush()
        feedback = Feedback(source_id=source.id, external_id="r1")  # type: ignore[arg-type]
        session.add(feedback)
        await session.flush()
        session.add(Alert(feedback_id=feedback.id, severity="high", team_id=store.id))  # type: ignore[arg-type]

    only_support = "default_team: support\nteams: [{name: support}, {name: spare}]\n"
    await import_yaml(sessions, only_support)
    summary = await import_yaml(sessions, "default_team: support\nteams: [{name: support}]\n")
    assert summary.teams_kept == ["store-042"]
    assert summary.teams_removed == ["spare"]
    exported = await export_config(sessions)
    assert [t["name"] for t in exported["teams"]] == ["store-042", "support"]
    assert exported["routes"] == [] and exported["sla"] == {} and exported["admins"] == []
    assert (await _counts(sessions))["Source"] == 1  # sources are never touched


async def test_default_team_is_created_when_absent(sessions: SessionFactory) -> None:
    summary = await import_yaml(sessions, "default_team: support\n")
    assert summary.teams_created == ["support"]
    exported = await export_config(sessions)
    assert exported["default_team"] == "support"
    assert exported["teams"] == [{"name": "support"}]


async def test_existing_admins_keep_their_platform(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        session.add(Admin(user_id="29:teamsuser", platform="teams", added_by="someone"))
        session.add(Admin(user_id="U0GONE", platform="slack"))
    await import_yaml(sessions, "admins: ['29:teamsuser', U0NEW, 0b8f8c55-3f0e-4f4f-9d8e-6b1f1e2d3c4b]\n")
    async with sessions() as session:
        rows = {a.user_id: (a.platform, a.added_by) for a in (await session.execute(select(Admin))).scalars()}
    assert rows == {
        "29:teamsuser": ("teams", "someone"),
        "U0NEW": ("slack", "cli"),
        "0b8f8c55-3f0e-4f4f-9d8e-6b1f1e2d3c4b": ("teams", "cli"),
    }


@pytest.mark.parametrize(
    ("written", "seconds", "spelled"),
    [
        ("90s", 90, "1m30s"),
        ("15m", 900, "15m"),
        ("4h", 14400, "4h"),
        ("2d", 172800, "2d"),
        ("1h30m", 5400, "1h30m"),
        ("24h", 86400, "1d"),
        (600, 600, "10m"),
        ("0s", 0, "0s"),
    ],
)
def test_durations_are_parsed_and_spelled(written: object, seconds: int, spelled: str) -> None:
    doc = load_yaml(f"sla: {{high: {{claim: {written}, resolve: 1h}}}}")
    assert doc.sla["high"].claim == seconds
    assert doc.normalized()["sla"]["high"]["claim"] == spelled


@pytest.mark.parametrize("bad", ["-5m", "soon", "1h30", "true", "1.5h"])
def test_bad_durations_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"sla\.high\.claim"):
        load_yaml(f"sla: {{high: {{claim: {bad}, resolve: 1h}}}}")


def test_errors_list_every_problem_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml("teams: [{name: a, colour: red}]\nroutes: [{team: a, match: {location: 42}}]\nextra: 1\n")
    assert sorted(caught.value.problems) == [
        "extra: unknown key",
        "routes[0].match: value of 'location' must be a quoted string or a list of them, got 42",
        "teams[0].colour: unknown key",
    ]


async def test_routes_made_by_chat_commands_export_and_import(sessions) -> None:  # type: ignore[no-untyped-def]
    """Every match `route add` accepts (lists, severity comparisons) survives a YAML round trip."""
    from bot.config.io import dump_yaml, export_config, import_config, load_yaml
    from bot.rules.routing import parse_match

    doc = load_yaml(
        "default_team: support\nteams:\n  - name: support\nroutes:\n"
        f"  - match: {parse_match('region=north,south severity>high')!r}\n    team: support\n".replace(
            "'", '"'
        )
    )
    await import_config(sessions, doc)
    exported = await export_config(sessions)
    assert exported["routes"][0]["match"] == {"region": ["north", "south"], "severity": ">high"}
    again = load_yaml(dump_yaml(exported))
    await import_config(sessions, again)
    assert await export_config(sessions) == exported
