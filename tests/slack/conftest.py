"""Fixtures for the Slack adapter tests: a started loopback fake of the Web API and a SlackChat on it."""

from __future__ import annotations

import pytest

from adapters.slack.chat import SlackChat
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
def chat(slack_api: FakeSlackApi) -> SlackChat:
    return SlackChat(slack_api.token, base_url=slack_api.url, timeout=2.0)
