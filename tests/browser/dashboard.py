"""A real `hotloop serve` process for the browser tests, with Slack on against the loopback fake Slack Web
API, and the requests Slack and a survey tool would send it (signed webhooks, slash commands, clicks).

    with running_dashboard(tmp_path, slack) as board:
        key = board.new_alert({"id": "r-1", "nps": 2, ...})
        link = board.signin_link(ANA)          # `/hotloop web` → the ephemeral answer's link
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from adapters.sources.generic import sign as source_sign
from bot.config.io import import_config, load_yaml
from bot.config.sources import add_source
from bot.context import Context
from storage.migrate import upgrade
from tests.adapters.slack.slackapp import SIGNING_SECRET, block_actions, button
from tests.adapters.slack.slackapp import sign as slack_sign
from tests.appserver import SLACK_CHANNEL, free_port, test_settings
from tests.fakes.slack_api import FakeSlackApi
from tests.serveproc import Served, hotloop_env, hotloop_serve

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Debian's chromium package, found on PATH (.ci/run installs it); Playwright drives it, nothing is downloaded
CHROMIUM = Path(shutil.which("chromium") or "chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
SOURCE_SECRET = "browser-source-secret-0123456789"
CHANNEL = SLACK_CHANNEL  # the default team's channel: every card goes there
ADMIN = {"id": "U0ANA", "name": "ana"}  # in HOTLOOP_ADMINS: sees every team
MANAGER = {"id": "U0MGR", "name": "mona"}  # a manager of the default team
LINK = re.compile(r"https?://[^\s<>|\"']+/app/login/[^\s<>|\"'\\]+")
# Slack gives every slash command its own trigger_id. hotloop acts once per signed request (signature and
# timestamp: a replay is ignored), so two identical `/hotloop web` bodies signed in the same second would
# be one request and the second never answered: the helper numbers them as Slack does.
TRIGGER_IDS = itertools.count(1)
TEAMS_YAML = f"""default_team: support
teams:
- name: support
  slack_channel: {CHANNEL}
  managers: ["slack:{MANAGER['id']}"]
admins: ["slack:{ADMIN['id']}"]
"""


@dataclass
class Dashboard:
    served: Served
    slack: FakeSlackApi

    @property
    def url(self) -> str:
        return self.served.url

    def post_feedback(self, payload: Mapping[str, Any]) -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json",
                   "x-hotloop-signature": source_sign(SOURCE_SECRET, body, int(time.time()))}
        return httpx.post(f"{self.url}/webhooks/web", content=body, headers=headers, timeout=10)

    def new_alert(self, payload: Mapping[str, Any]) -> str:
        """An alert through the real webhook, once its card is on the fake Slack; its key."""
        reply = self.post_feedback(payload)
        assert reply.status_code == 202, reply.text
        key = str(reply.json()["alert"])
        assert self.slack.wait_for(lambda: self.card_ts(key) is not None, timeout=15), f"no card for {key}"
        return key

    def card_ts(self, key: str) -> str | None:
        for message in self.slack.messages_in(CHANNEL):
            if "thread_ts" not in message and key in json.dumps(message.get("blocks", [])):
                return str(message["ts"])
        return None

    def card_updates(self, key: str) -> list[dict[str, Any]]:
        """The chat.update calls that rewrote `key`'s card (its ts, in the team's channel)."""
        ts = self.card_ts(key)
        return [c.args for c in self.slack.calls("chat.update")
                if c.error is None and c.args.get("channel") == CHANNEL and c.args.get("ts") == ts]

    def slack_post(self, body: bytes) -> httpx.Response:
        headers = {"content-type": "application/x-www-form-urlencoded", **slack_sign(body)}
        return httpx.post(f"{self.url}/slack/events", content=body, headers=headers, timeout=10)

    def slash(self, user: Mapping[str, str], text: str) -> httpx.Response:
        """`/hotloop <text>` typed by `user` in the team's channel, signed as Slack signs it."""
        fields = {"token": "verification_token", "team_id": "T0TEST", "team_domain": "hotloop-test",
                  "channel_id": CHANNEL, "channel_name": "team", "user_id": user["id"],
                  "user_name": user["name"], "command": "/hotloop", "text": text, "api_app_id": "A0TEST",
                  "response_url": self.slack.url + "commands/T0TEST/1/x",
                  "trigger_id": f"{next(TRIGGER_IDS)}.1.x"}
        return self.slack_post(urlencode(fields).encode())

    def answers_to(self, user: Mapping[str, str]) -> list[str]:
        """What hotloop said to `user` alone: ephemerals (text and blocks), the slash's response_url."""
        said = [c.args for c in self.slack.calls("chat.postEphemeral") if c.args.get("user") == user["id"]]
        said += [c.args for c in self.slack.calls("commands/T0TEST/1/x")]
        return [json.dumps(args) for args in said]

    def signin_link(self, user: Mapping[str, str]) -> str:
        """`/hotloop web` as `user`: the sign-in link of the answer only they see."""
        before = len(self.answers_to(user))
        reply = self.slash(user, "web")
        assert reply.status_code == 200, reply.text
        found: list[str] = []

        def answered() -> bool:
            found[:] = [m.group(0) for text in self.answers_to(user)[before:] for m in LINK.finditer(text)]
            found.extend(m.group(0) for m in LINK.finditer(reply.text))
            return bool(found)

        assert self.slack.wait_for(answered, timeout=10), f"no /app/login/ link in {self.answers_to(user)}"
        assert found[0].startswith(self.url + "/app/login/"), found[0]
        return found[0]

    def click_card(self, user: Mapping[str, str], action_id: str, key: str) -> httpx.Response:
        """A click on `key`'s card in Slack by `user` (a response_url of the fake for that message)."""
        ts = self.card_ts(key)
        assert ts is not None
        payload = block_actions({**user, "username": user["name"], "team_id": "T0TEST"},
                                button(action_id, key), channel=CHANNEL, message_ts=ts,
                                response_url=self.slack.response_url_for(CHANNEL, ts))
        return self.slack_post(urlencode({"payload": json.dumps(payload)}).encode())


@contextmanager
def running_dashboard(
    tmp_path: Path, slack: FakeSlackApi, *, config: str = TEAMS_YAML
) -> Iterator[Dashboard]:
    """`hotloop serve` on a fresh SQLite file in `tmp_path`, its teams and admins from the YAML `config`
    (as `hotloop config import` reads it), the generic source "web", Slack on against `slack`."""
    port = free_port()
    env = hotloop_env(
        tmp_path, public_url=f"http://127.0.0.1:{port}", slack_bot_token=slack.token,
        slack_signing_secret=SIGNING_SECRET, slack_api_url=slack.url, admins=f"slack:{ADMIN['id']}",
        delivery_poll_seconds="0.2", log_level="warning",
        # every page of the suite comes from 127.0.0.1, and the sign-in pages are throttled per client IP
        # (a burst of 10, then 20 a minute): the suite's dozen sign-ins in half a minute would meet a 429
        # "Too many attempts" page at a point that depends on the machine's pace. Many users, one address.
        public_page_per_minute="600", public_page_burst="200",
    )
    # in this process rather than three `hotloop` commands (each would spend seconds importing the app), on
    # a thread of its own: Playwright's sync API may hold this thread's event loop
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _prepare(env["HOTLOOP_DATABASE_URL"], config)).result()
    with hotloop_serve(tmp_path, env, port=port) as served:
        yield Dashboard(served, slack)


async def _prepare(database_url: str, config: str) -> None:
    """What `hotloop db upgrade`, `hotloop config import` and `hotloop source add web` do."""
    settings = test_settings(database_url)
    await upgrade(settings.effective_database_url)
    ctx = await Context.open(settings)
    try:
        await import_config(ctx.sessions, load_yaml(config))
        await add_source(ctx.sessions, ctx.secrets, name="web", kind="generic", secret=SOURCE_SECRET)
    finally:
        await ctx.close()

def sign_in(board: Dashboard, page: Page, user: Mapping[str, str]) -> None:
    """`/hotloop web` from Slack, the link opened, "Sign in" pressed: the page ends on the queue."""
    sign_in_with(board.signin_link(user), board, page)


def sign_in_with(link: str, board: Dashboard, page: Page) -> None:
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(board.url) + r"/app/?(\?.*)?$"))
