"""The `hotloop` command line, run as a real subprocess against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.appserver import TEST_SECRET_KEY
from tests.hotloop.cli_run import cli_environment, hotloop


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path)


def test_serve_refuses_to_start_without_a_secret_key(cli_env: dict[str, str], tmp_path: Path) -> None:
    cli_env.pop("HOTLOOP_SECRET_KEY")
    result = hotloop("serve", "--port", "1", env=cli_env, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "HOTLOOP_SECRET_KEY" in result.stderr


def test_source_add_list_and_rotate(cli_env: dict[str, str], tmp_path: Path) -> None:
    added = hotloop("source", "add", "kiosk", "--kind", "generic", env=cli_env, cwd=tmp_path).stdout
    assert "/webhooks/kiosk" in added and "secret:" in added
    listed = hotloop("source", "list", env=cli_env, cwd=tmp_path).stdout
    assert "kiosk" in listed and "generic" in listed
    assert added.split("secret:")[1].strip() not in listed, "list never shows secrets"
    duplicate = hotloop("source", "add", "kiosk", env=cli_env, cwd=tmp_path, check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad = hotloop("source", "add", "Bad Name", env=cli_env, cwd=tmp_path, check=False)
    assert bad.returncode == 1
    rotated = hotloop("source", "rotate-secret", "kiosk", env=cli_env, cwd=tmp_path).stdout
    assert "new secret" in rotated


def test_config_import_export_round_trip_and_all_or_nothing(cli_env: dict[str, str], tmp_path: Path) -> None:
    doc = {
        "default_team": "support",
        "teams": [
            {"name": "store-042", "slack_channel": "C0123456"},
            {"name": "support", "slack_channel": "C0654321"},
        ],
        "routes": [{"match": {"location": "042"}, "team": "store-042"}],
        "sla": {"critical": {"claim": "15m", "resolve": "4h"}},
        "admins": ["U0ADMIN1"],
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(doc))
    hotloop("config", "import", "cfg.yaml", env=cli_env, cwd=tmp_path)
    exported = yaml.safe_load(hotloop("config", "export", env=cli_env, cwd=tmp_path).stdout)
    assert exported["routes"][0]["team"] == "store-042"
    assert exported["sla"]["critical"] == {"claim": "15m", "resolve": "4h"}
    broken = {**doc, "routes": [{"match": {"location": "1"}, "team": "nowhere"}]}
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    result = hotloop("config", "import", "broken.yaml", env=cli_env, cwd=tmp_path, check=False)
    assert result.returncode == 1 and "nowhere" in result.stderr
    assert yaml.safe_load(hotloop("config", "export", env=cli_env, cwd=tmp_path).stdout) == exported


def test_rules_test_explains_the_decision(cli_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps({"id": "x", "nps": 9, "contact_requested": True}))
    out = hotloop("rules", "test", "r.json", env=cli_env, cwd=tmp_path).stdout.lower()
    assert "normal" in out and "contact" in out
    (tmp_path / "bad.json").write_text("{nope")
    assert hotloop("rules", "test", "bad.json", env=cli_env, cwd=tmp_path, check=False).returncode == 1


def test_alerts_list_and_stats_after_real_webhooks(cli_env: dict[str, str], tmp_path: Path) -> None:
    import asyncio

    from hotloop.app import create_app  # noqa: F401  (import check before the subprocess dance)

    async def feed() -> None:
        from bot.settings import build_settings
        from tests.appserver import serve_app

        settings = build_settings(
            mode="test", database_url=cli_env["HOTLOOP_DATABASE_URL"], secret_key=TEST_SECRET_KEY
        )
        from storage.migrate import upgrade

        await upgrade(settings.effective_database_url)
        async with serve_app(settings) as server:
            await server.add_source("web")
            assert (await server.post_feedback({"id": "a", "nps": 1})).status_code == 202
            assert (await server.post_feedback({"id": "b", "nps": 10})).status_code == 202

    asyncio.run(feed())
    listed = hotloop("alerts", "list", "--json", env=cli_env, cwd=tmp_path).stdout
    rows = [json.loads(line) for line in listed.splitlines()]  # JSON lines only: no header row
    assert [(r["key"], r["severity"], r["status"]) for r in rows] == [("HA-1001", "critical", "open")]
    table = hotloop("alerts", "list", env=cli_env, cwd=tmp_path).stdout.splitlines()
    assert table[0].split() == ["KEY", "SEVERITY", "STATUS", "TEAM", "OWNER", "WHY"]
    assert table[1].split()[:5] == ["HA-1001", "critical", "open", "support", "-"]
    assert table[0].index("STATUS") == table[1].index("open"), "the header sits over its column"
    assert len(table) == 2
    empty = hotloop("alerts", "list", "--status", "resolved", env=cli_env, cwd=tmp_path).stdout
    assert empty.strip() == "no resolved alerts"
    figures = hotloop("stats", "--json", env=cli_env, cwd=tmp_path).stdout
    stats = [json.loads(line) for line in figures.splitlines()]
    assert stats[0]["raised"] == 1 and stats[0]["response_rate"] == 0.0


def test_db_upgrade_and_teams_package(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert "head" in hotloop("db", "upgrade", env=cli_env, cwd=tmp_path).stdout
    cli_env["HOTLOOP_PUBLIC_URL"] = "https://hotloop.example.org"  # the Alerts tab's address
    out = hotloop(
        "teams",
        "package",
        "--out",
        str(tmp_path / "t.zip"),
        "--bot-id",
        "11111111-2222-3333-4444-555555555555",
        env=cli_env,
        cwd=tmp_path,
    ).stdout
    import zipfile

    names = sorted(zipfile.ZipFile(tmp_path / "t.zip").namelist())
    assert names == ["color.png", "manifest.json", "outline.png"]
    assert "t.zip" in out


def test_teams_package_refuses_without_a_real_bot_id(cli_env: dict[str, str], tmp_path: Path) -> None:
    import zipfile

    cli_env.pop("HOTLOOP_SECRET_KEY")  # packaging needs no secret
    for bot_id in (None, "00000000-0000-0000-0000-000000000000", "not-a-guid"):
        args = ["teams", "package", "--out", str(tmp_path / "t.zip")]
        result = hotloop(*args, *(["--bot-id", bot_id] if bot_id else []), env=cli_env, cwd=tmp_path,
                         check=False)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert ("HOTLOOP_TEAMS_APP_ID" if bot_id is None else "GUID") in result.stderr
        assert not (tmp_path / "t.zip").exists(), "nothing is written"
    cli_env["HOTLOOP_TEAMS_APP_ID"] = "8a1f0c2e-3b4d-4e5f-9a6b-7c8d9e0f1a2b"
    for public_url in (None, "http://hotloop.example.org"):  # the tab needs an https address
        if public_url is not None:
            cli_env["HOTLOOP_PUBLIC_URL"] = public_url
        result = hotloop("teams", "package", "--out", str(tmp_path / "t.zip"), env=cli_env, cwd=tmp_path,
                         check=False)
        assert result.returncode == 2 and "HOTLOOP_PUBLIC_URL" in result.stderr, result.stderr
        assert not (tmp_path / "t.zip").exists()
    cli_env["HOTLOOP_PUBLIC_URL"] = "https://hotloop.example.org/"
    hotloop("teams", "package", "--out", str(tmp_path / "t.zip"), env=cli_env, cwd=tmp_path)
    manifest = json.loads(zipfile.ZipFile(tmp_path / "t.zip").read("manifest.json"))
    assert manifest["bots"][0]["botId"] == "8a1f0c2e-3b4d-4e5f-9a6b-7c8d9e0f1a2b"
    assert manifest["staticTabs"][0]["contentUrl"] == "https://hotloop.example.org/app/tab"


def test_demo_shows_alerts_for_everyone_who_needs_a_human(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = hotloop("demo", env=cli_env, cwd=tmp_path).stdout
    assert out.count("→ 202") == 5
    assert "HA-1001 · Open · unclaimed" in out and "CRITICAL · " in out and "asks to be contacted" in out
    assert "a red flag" in out and "alarming words" in out
    assert '{"alert":null}' in out
    assert "resolved: Recovered" in out
    # the customer's side (hotloop/demo_mail.py): e-mails through the in-process SMTP sink, "no", reopened
    assert "To: dana@example.com\n  Subject: We received your feedback" in out
    assert "Subject: Did we resolve your issue?" in out and "/f/" in out and "?resolved=no" in out
    assert "POST → 200" in out and "HA-1001 reopened by the customer (answered no, score 3)" in out
