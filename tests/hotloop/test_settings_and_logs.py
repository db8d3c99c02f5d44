"""Settings fail closed; logs never carry secrets or customer contact details."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import structlog

from adapters.sources.generic import sign as generic_sign
from bot.settings import SettingsError, build_settings
from bot.telemetry import configure_logging
from tests.fakes.slack_api import FakeSlackApi


def test_production_refuses_missing_or_placeholder_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLOOP_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="HOTLOOP_SECRET_KEY"):
        build_settings()
    with pytest.raises(SettingsError, match="HOTLOOP_SECRET_KEY"):
        build_settings(secret_key="changeme")


def test_slack_token_without_a_real_signing_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        build_settings(secret_key="k" * 32, slack_bot_token="xoxb-1", slack_signing_secret="secret")


def test_teams_unauthenticated_is_refused_with_an_app_id() -> None:
    with pytest.raises(SettingsError, match="ALLOW_UNAUTHENTICATED"):
        build_settings(
            secret_key="k" * 32,
            teams_app_id="00000000-0000-0000-0000-000000000001",
            teams_app_password="p" * 20,
            teams_allow_unauthenticated=True,
        )


def test_demo_mode_accepts_placeholders_and_env_lists_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTLOOP_ADMINS", "U1, U2 ,")
    settings = build_settings(mode="demo")
    assert settings.admins == ["U1", "U2"]
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")


def test_logs_redact_contact_details_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging(level="info", json=True)
    log = structlog.get_logger("t")
    log.info(
        "customer wrote from dana@example.com or +1 555 010 0199",
        secret="s3cr3t-value",
        email="dana@example.com",
        signing_secret="abc",
        nested={"api_token": "xoxb-123", "note": "call +44 20 7946 0958"},
        alert="HA-1001",
    )
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    text = json.dumps(line)
    for leaked in ("dana@example.com", "s3cr3t-value", "xoxb-123", "555 010", "7946"):
        assert leaked not in text
    assert line["alert"] == "HA-1001"


# ---- one log stream: `hotloop serve` with HOTLOOP_LOG_JSON=true writes nothing but JSON lines ------

CUSTOMER_NAME, CUSTOMER_EMAIL = "Fox Mulder-Scully", "fox.mulder@fbi.example.org"


def badly_signed_click() -> tuple[bytes, dict[str, str]]:
    """A real click, carrying the card it was made on (the customer's name and e-mail), signed with a
    signing secret the server does not have (a rotated secret; a stale clock does the same)."""
    from urllib.parse import urlencode

    from tests.adapters.slack.slackapp import ANA, block_actions, button, sign

    payload = block_actions(ANA, button("alert.claim", "HA-1001"))
    payload["message"] = {"ts": "1.000001", "blocks": [{"type": "section", "text": {
        "type": "mrkdwn", "text": f"*Customer* {CUSTOMER_NAME} <mailto:{CUSTOMER_EMAIL}|{CUSTOMER_EMAIL}>",
    }}]}  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"content-type": "application/x-www-form-urlencoded",
               **sign(body, secret="a-rotated-signing-secret-0123")}
    return body, headers


@pytest.mark.parametrize("level", ["info", "debug"])
def test_serve_writes_one_json_stream_from_start_to_shutdown(
    tmp_path: Path, slack_api: FakeSlackApi, level: str
) -> None:
    from tests.adapters.slack.slackapp import SIGNING_SECRET, sign
    from tests.serveproc import hotloop_env, hotloop_serve, run_cli

    env = hotloop_env(tmp_path, log_level=level, sla_sweep_seconds="0.3", slack_bot_token=slack_api.token,
                      slack_signing_secret=SIGNING_SECRET, slack_api_url=slack_api.url)
    secret = "one-stream-source-secret-0123"
    assert run_cli(tmp_path, "source", "add", "web", "--secret", secret, env=env).returncode == 0
    with hotloop_serve(tmp_path, env) as served:
        customer = {"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL}
        body = json.dumps({"id": "r-1", "nps": 1, "customer": customer})
        hook = httpx.post(f"{served.url}/webhooks/web", content=body, timeout=10, headers={
            "x-hotloop-signature": generic_sign(secret, body.encode(), int(time.time()))})
        assert hook.status_code == 202, hook.text
        command = urlencode({"team_id": "T0TEST", "api_app_id": "A0TEST", "user_id": "U0ANA", "text": "help",
                             "command": "/hotloop", "channel_id": "C0TEAM01"}).encode()
        slash = httpx.post(f"{served.url}/slack/events", content=command, timeout=10, headers={
            "content-type": "application/x-www-form-urlencoded", **sign(command)})
        assert slash.status_code == 200, slash.text
        click, headers = badly_signed_click()
        assert httpx.post(f"{served.url}/slack/events", content=click, headers=headers).status_code == 401
        time.sleep(1.0)  # a few SLA sweeps
        served.terminate(timeout=30)
    lines = [line for line in served.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON (raises on the first that is not)
    loggers = {r.get("logger") for r in records}
    assert {"uvicorn.error", "alembic.runtime.migration", "apscheduler.scheduler"} <= loggers, loggers
    assert any("Invalid request signature" in r["event"] for r in records)  # Bolt's line, body cut
    for leaked in (CUSTOMER_EMAIL, "fox.mulder%40", "Mulder"):
        assert leaked not in served.output(), leaked
    routine = [r for r in records if str(r["event"]).startswith("Running job")]
    assert (bool(routine), {r["level"] for r in routine}) == ((True, {"debug"}) if level == "debug" else
                                                                (False, set()))
