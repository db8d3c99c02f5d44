"""Settings fail closed; logs never carry secrets or customer contact details."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from bot.settings import SettingsError, build_settings
from bot.telemetry import configure_logging


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
