"""Issue 7 §3 — customer text can never ping, link or format, in Slack or in Teams.

A response whose comment, customer name, answers (questions and values) and attributes (keys and values)
carry Slack control sequences, Markdown, `<at>` mentions, HTML and Adaptive Card `{{DATE()}}` functions
goes through the real generic webhook. The card that reaches the fake Slack Web API has no `<!`, `<@`,
`<#` or `<http` anywhere in its raw JSON (text and blocks), and the Adaptive Card that reaches the fake
Bot Connector (the team's Teams channel) carries none of them unescaped. Slash-command and Teams replies
that echo what the user typed are escaped the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.adapters.slack.slackapp import ADMIN, ANA, CHANNEL
from tests.adapters.teams.activities import ADELE, MEGAN, message
from tests.security.conftest import TEAMS_CHANNEL, World, link_teams_channel

EVIL = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<!subteam^S123>",
    "<!date^1392734382^{date}|Feb 18>",
    "<https://evil.example|click here>",
    "<mailto:x@evil.example|mail>",
    "*bold*",
    "_italic_",
    "[link](https://evil.example/a)",
    "![img](https://evil.example/i.png)",
    "<at>Someone</at>",
    "<b>html</b><script>alert(1)</script>",
    "{{DATE(2017-02-14T06:08:39Z, SHORT)}}",
    "# heading",
    "1. list",
    "&lt;!channel&gt;",
    # issue 11: what Slack links or parses by itself unless the text object is `verbatim`, and
    # invisible characters that reorder or hide text (stripped from customer text on both platforms)
    "https://evil.example/bare",
    "mallory@evil.example",
    "@channel",
    "@here",
    "#general",
    "\u202etxt.exe\u202c \u2066isolate\u2069 \u200fmark\u200e \u061c",
    "zero\u200bwidth\u200c\u200d\u2060\ufeff",
]
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]")
TEXT = " ".join(EVIL)
RESPONSE = {
    "id": "r-inject",
    "nps": 1,
    "contact_requested": True,
    "customer": {"id": "c-<@U123>", "name": "Dana <!channel> <@U123> *Scully*", "email": "dana@example.com"},
    "answers": [
        {
            "question": "Staff <!here> friendliness [x](https://evil.example)",
            "value": 1,
            "scale_min": 1,
            "scale_max": 5,
        },
        {"question": "Anything else <#C123>?", "value": TEXT},
    ],
    "comment": TEXT,
    "attributes": {
        "location": "042 <!channel>",
        "employee": "<@U123> <at>Boss</at>",
        "<!here>": "<https://evil.example|x> {{DATE(2017-02-14T06:08:39Z, SHORT)}}",
    },
}
SLACK_TOKENS = ("<!", "<@", "<#", "<http", "<mailto")
# what customer text must never become in a Teams TextBlock once backslash-escaped characters are masked
TEAMS_LIVE = ("<", "[", "](", "{{", "*bold*", "*Scully*", "_italic_", "https://", "\n#", "\n1.")


def slack_posts(world: World, key: str) -> list[dict[str, Any]]:
    methods = ("chat.postMessage", "chat.update", "chat.postEphemeral")
    return [c.args for m in methods for c in world.fake.calls(m) if key in json.dumps(c.args)]


def text_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        is_text = node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str)
        here = [node] if is_text else []
        return here + [t for value in node.values() for t in text_objects(value)]
    if isinstance(node, list):
        return [t for item in node for t in text_objects(item)]
    return []


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def masked(text: str) -> str:
    """`text` with every backslash-escaped character (and its backslash) replaced by `·`: what is left
    is what Teams would interpret."""
    out, chars = [], iter(text)
    for ch in chars:
        if ch == "\\":
            next(chars, "")
            out.append("·")
        else:
            out.append(ch)
    return "".join(out)


def teams_cards(world: World) -> list[dict[str, Any]]:
    cards = []
    for call in world.connector.calls():
        body = call.body if isinstance(call.body, dict) else {}
        activity = body.get("activity", body)
        for attachment in activity.get("attachments") or []:
            cards.append(attachment.get("content") or {})
    return cards


async def test_customer_text_cannot_ping_or_link_in_slack_or_teams(open_world: World) -> None:
    world = open_world
    await link_teams_channel(world.server)
    reply = await world.server.post_feedback(RESPONSE)
    assert reply.status_code == 202, reply.text
    key = str(reply.json()["alert"])
    assert await world.slack.wait(lambda: world.slack.card(key) is not None), "no Slack card"
    assert await world.slack.wait(
        lambda: any(
            c.conversation and c.conversation.startswith(TEAMS_CHANNEL) for c in world.connector.calls()
        )
    ), "no Teams card"

    # Slack: the raw JSON of everything sent about this alert (fallback text and blocks)
    posts = slack_posts(world, key)
    assert posts
    raw = json.dumps(posts, ensure_ascii=False)
    assert "&lt;!channel&gt;" in raw and "&lt;@U123&gt;" in raw  # the customer text is on the card…
    found = [token for token in SLACK_TOKENS if token in raw]
    assert not found, f"unescaped Slack control sequences on the card: {found}"  # …inert
    carrying = [t for t in text_objects([p.get("blocks") for p in posts]) if "evil.example" in t["text"]]
    assert carrying and all(t["type"] == "plain_text" or t.get("verbatim") is True for t in carrying), (
        "mrkdwn with customer text must be verbatim, or Slack links bare URLs and e-mail addresses"
    )
    assert not INVISIBLE.search(raw), "bidi or zero-width characters reached Slack"

    # Teams: the Adaptive Card posted to the team's channel
    cards = teams_cards(world)
    assert cards
    texts = [t for card in cards for t in strings(card.get("body"))]
    assert any("Dana" in t for t in texts) and any("\\<at\\>" in t for t in texts)  # there, escaped
    live = {t[:80]: [bad for bad in TEAMS_LIVE if bad in masked(t)] for t in texts}
    live = {t: bad for t, bad in live.items() if bad}
    assert not live, f"unescaped Markdown / mentions / HTML / links on the Teams card: {live}"
    for card in cards:
        assert "msteams" not in card or not card["msteams"].get("entities"), "the card mentions someone"
    teams_raw = json.dumps(cards, ensure_ascii=False).replace(":\u200b//", "://")  # our own URL breaker
    assert not INVISIBLE.search(teams_raw), "bidi or zero-width characters reached Teams"


async def test_command_replies_that_echo_user_input_do_not_ping(open_world: World) -> None:
    world = open_world
    typed = [
        "<!channel>",  # an unknown command, echoed back
        "&lt;!here&gt; &lt;@U123&gt;",  # Slack's escaped form, unescaped by the command parser
        "help <!channel> <https://evil.example|x>",
        "route add location=<!here> team <#C123>",  # admin-only: refused, not echoed
        "team add <!channel>",
    ]
    for text in typed:
        user = ADMIN if text.startswith("team add") else ANA
        await world.ephemeral_reply(user, text)
    replies = world.slack.ephemerals(ANA) + world.slack.ephemerals(ADMIN)
    assert any("&lt;!channel&gt;" in r for r in replies)  # echoed, escaped
    raw = json.dumps(replies)
    assert not [t for t in SLACK_TOKENS if t in raw], replies
    assert all(c.args.get("channel") == CHANNEL for c in world.fake.calls("chat.postEphemeral"))
    assert not world.fake.calls("chat.postMessage"), "a command reply went public"

    # Teams: the same words sent to the bot come back escaped
    for text in (
        "help <at>Someone</at> [x](https://evil.example) {{DATE(2017-02-14T06:08:39Z, SHORT)}}",
        "frobnicate <at>Someone</at>",
    ):
        for user in (ADELE, MEGAN):
            reply = await world.server.client.post(
                "/api/messages", json=message(world.connector.url, text, user=user)
            )
            assert reply.status_code == 200, reply.text
    assert world.connector.wait_for(lambda calls: len(calls) >= 4)
    texts = [str((c.body or {}).get("text", "")) for c in world.connector.calls() if isinstance(c.body, dict)]
    assert any("\\<at\\>" in t for t in texts), texts
    raw = json.dumps(texts, ensure_ascii=False)
    leaked = [t for t in ("<at>", "[x](", "https://evil", "{{DATE(") if t in raw]
    assert not leaked, texts
    assert all(
        not (c.body or {}).get("entities") for c in world.connector.calls() if isinstance(c.body, dict)
    )
