"""The Slack app manifest is valid and declares what hotloop uses; cards and action ids agree."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
import yaml

from adapters.slack.render import action_ids, card_blocks, digest_blocks
from bot.action_ids import ActionId
from bot.cards.model import DigestCard, DigestItem
from bot.domain import AlertStatus, Severity
from tests import REPO_ROOT
from tests.factories import NOW, sample_card
from tests.fixtures import SCHEMAS

ROOT = REPO_ROOT
SCHEMA = SCHEMAS / "slack-app-manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "manifest" / "slack.yaml").read_text()))


def test_manifest_validates_against_official_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.skip(f"{SCHEMA} not available")
    schema = json.loads(SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(manifest), key=str)
    assert errors == [], [e.message for e in errors]


def test_manifest_declares_command_events_interactivity_socket_mode(manifest: dict[str, Any]) -> None:
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/hotloop" and command["description"] and command["usage_hint"]
    assert command["url"] == "https://hotloop.example.com/slack/events"
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://hotloop.example.com/slack/events",
    }
    assert settings["socket_mode_enabled"] is True and settings["org_deploy_enabled"] is False
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "chat:write.public", "commands", "im:write", "users:read"} <= scopes


def test_every_action_id_is_rendered_and_nothing_else() -> None:
    states: list[dict[str, Any]] = [
        {},
        {"status": "snoozed", "snoozed_until": NOW + timedelta(hours=1)},
        {"status": "claimed", "owner_name": "Fox"},
        {"status": "resolved", "outcome": "recovered"},
    ]
    rendered: set[str] = set()
    for overrides in states:
        rendered |= action_ids(card_blocks(sample_card(**overrides)))
    digest = DigestCard(title="d", items=(DigestItem("HA-1", Severity.HIGH, "s", AlertStatus.OPEN),))
    rendered |= action_ids(digest_blocks(digest))
    assert rendered == {a.value for a in ActionId}
