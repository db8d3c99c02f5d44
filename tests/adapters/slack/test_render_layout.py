"""The card an agent reads in two seconds (issue 13): the state in the header, then customer · due ·
owner, the comment before the answers, the low answers only, facts last; digests that say who and what,
most urgent first, each Claim button beside its line; the read-only Details modal."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import timedelta

from slack_sdk.models.views import View

from adapters.slack.modals import details_view
from adapters.slack.render import (
    DIGEST_CAPACITY,
    card_blocks,
    digest_blocks,
    digest_fit,
    digest_message,
)
from adapters.slack.translate import parse_click
from bot.cards.model import AnswerLine, DigestCard, DigestItem
from bot.domain import AlertStatus, Severity
from tests.adapters.slack.blockkit import BARE_AMPERSAND, assert_valid_blocks, mrkdwn_texts
from tests.factories import NOW, sample_card
from tests.fakes.slack_limits import message_error

EVIL = "Tom & Jerry <!channel> <@U123> <https://evil.example|click>"


def names(blocks: list[dict[str, object]]) -> list[str]:
    return [str(b["block_id"]).rsplit(".", 1)[-1] for b in blocks]


def test_the_header_says_the_state_without_severity() -> None:
    cases = {
        "🔴 HA-1001 · Open · unclaimed": {},
        "🔵 HA-1001 · Claimed by Ann Lee": {
            "status": "claimed", "owner_id": "U0ANN", "owner_name": "Ann Lee"},
        "💤 HA-1001 · Snoozed until 11:00 UTC (call back)": {
            "status": "snoozed", "snoozed_until": NOW + timedelta(hours=1), "snooze_reason": "call back"},
        "🟠 HA-1001 · Escalated to level 2 · unclaimed": {"escalation_level": 2},
        "🟢 HA-1001 · Resolved · Recovered · by Ann Lee": {
            "status": "resolved", "outcome": "recovered", "resolved_by": "Ann Lee"},
    }
    for expected, overrides in cases.items():
        header = card_blocks(sample_card(**overrides))[0]
        assert header["type"] == "header" and header["text"] == {
            "type": "plain_text", "text": expected, "emoji": True}


def test_the_card_face_order_puts_facts_last_then_actions() -> None:
    blocks = card_blocks(sample_card())
    assert names(blocks) == ["header", "lead", "comment", "answers", "reasons", "facts", "actions"]
    assert blocks[-2]["type"] == "context" and blocks[-1]["type"] == "actions"
    lead = blocks[1]["text"]["text"]
    assert lead.splitlines()[0] == "*Dana Scully*  ·  :stopwatch: *Claim due in 10 min*"
    assert "*Contact:* dana@example.com" in lead
    assert "Claim due" not in json.dumps(blocks[-2])  # the due time moved out of the grey line
    assert_valid_blocks(blocks)


def test_thirty_answers_leave_the_comment_on_top_and_the_rest_to_details() -> None:
    answers = tuple(AnswerLine(f"Question {i}", "4 / 5", i < 2) for i in range(30))
    card = replace(sample_card(), answers=answers)
    blocks = card_blocks(card)
    assert names(blocks).index("comment") < names(blocks).index("answers")
    text = next(b for b in blocks if b["block_id"].endswith(".answers"))["text"]["text"]
    assert text.splitlines() == [
        ":warning: Question 0: *4 / 5*", ":warning: Question 1: *4 / 5*", "_28 more answers in Details_"]


def test_an_owner_is_a_mention_only_when_slack_and_a_user_id() -> None:
    def lead(**owner: str) -> str:
        return str(card_blocks(sample_card(status="claimed", **owner))[1]["text"]["text"])

    assert "Claimed by <@W0ANN>" in lead(owner_id="W0ANN", owner_name="Ann", owner_platform="slack")
    assert "Claimed by *Ann*" in lead(owner_id="29:ann", owner_name="Ann", owner_platform="teams")
    sneaky = lead(owner_id="U0ANN> <!channel", owner_name="Ann", owner_platform="slack")
    assert "Claimed by *Ann*" in sneaky and "<" not in sneaky


def test_the_resolved_card_says_how_and_offers_reopen_and_details() -> None:
    card = sample_card(status="resolved", outcome="recovered", root_cause="staff", resolved_by="Fox")
    blocks = card_blocks(card)
    resolved = ":white_check_mark: *Resolved* — Recovered · root cause: staff · by Fox"
    assert resolved in blocks[1]["text"]["text"]
    assert [e["action_id"] for e in blocks[-1]["elements"]] == ["alert.reopen", "alert.details"]


# ---- digests -----------------------------------------------------------------------------------


def item(n: int, **kwargs: object) -> DigestItem:
    values: dict[str, object] = {
        "alert_key": f"HA-{n}", "severity": Severity.HIGH, "summary": "Detractor · NPS 2",
        "status": AlertStatus.OPEN, "customer_name": f"Dana{n} Scully {EVIL}",
        "comment_start": f"Waited 40 minutes {EVIL}…", "due_text": "Claim overdue 10 min", "overdue": True,
    }
    values.update(kwargs)
    return DigestItem(**values)  # type: ignore[arg-type]


def test_a_digest_line_names_the_customer_the_due_time_the_owner_and_the_comment() -> None:
    digest = DigestCard("Burst", (item(1), item(2, status=AlertStatus.CLAIMED, owner_name="Ann",
                                                  overdue=False, due_text="Resolve due in 3 h")))
    blocks = digest_blocks(digest)
    first, second = blocks[1]["text"]["text"], blocks[2]["text"]["text"]
    assert first.startswith("🟠 *HA-1* · high · Dana1 Scully Tom &amp; Jerry &lt;!channel&gt;")
    assert ":rotating_light: *Claim overdue 10 min*" in first and "> Waited 40 minutes" in first
    assert "*Resolve due in 3 h* · :bust_in_silhouette: Ann" in second and "accessory" not in blocks[2]
    assert blocks[1]["accessory"]["action_id"] == "alert.claim"
    for text in mrkdwn_texts(blocks):
        assert "<" not in text and not BARE_AMPERSAND.search(text)
    assert_valid_blocks(blocks)


def test_a_burst_of_a_hundred_and_more_fits_one_message_each_claim_beside_its_line() -> None:
    assert DIGEST_CAPACITY >= 100
    items = tuple(item(1000 + n, status=AlertStatus.OPEN if n % 4 else AlertStatus.CLAIMED)
                  for n in range(DIGEST_CAPACITY + 7))
    for figures in ((), (("Open", "90"),)):
        digest = DigestCard("Burst", items, figures=figures)
        shown, more = digest_fit(digest)
        assert len(shown) >= 100 and more == len(items) - len(shown)
        blocks = digest_blocks(digest)
        assert message_error(digest_message(digest)) is None  # what the fake Slack (and Slack) accept
        assert_valid_blocks(blocks)
        groups = [b for b in blocks if b["type"] == "section"]
        assert all(len(g["text"]["text"].splitlines()) <= 5 for g in groups)
        for block, after in itertools.pairwise(blocks):
            if after["type"] != "actions":
                continue
            lines = block["text"]["text"].splitlines()  # the buttons sit right under their lines
            for button in after["elements"]:
                key = button["value"]
                assert any(f"*{key}*" in line for line in lines)
                assert button["text"]["text"] == f"Claim {key} · Dana{key[3:]}"
                click = parse_click(button)
                assert click is not None and click.alert_key == key


def test_a_claim_label_stays_within_75_characters() -> None:
    digest = DigestCard("Burst", tuple(item(n, customer_name="N" * 255) for n in range(60)))
    rows = [b for b in digest_blocks(digest) if b["type"] == "actions"]
    labels = [e["text"]["text"] for row in rows for e in row["elements"]]
    assert labels and all(len(label) <= 75 for label in labels)


# ---- the Details modal ---------------------------------------------------------------------------


def test_details_shows_every_answer_and_the_whole_comment_escaped() -> None:
    answers = tuple(AnswerLine(f"Question {i} {EVIL}", f"value {i}", i % 3 == 0) for i in range(40))
    comment = (f"Line {EVIL} " * 30 + "\n") * 40  # ~30,000 characters, more than a section
    card = replace(sample_card(), answers=answers, comment=comment)
    view = details_view(card)
    assert View(**view).to_dict() == view and "submit" not in view
    assert view["callback_id"] == "alert.details" and view["title"]["text"] == "Details HA-1001"
    blocks = view["blocks"]
    assert len(blocks) <= 100 and len({b["block_id"] for b in blocks}) == len(blocks)
    texts = list(mrkdwn_texts(blocks))
    joined = "\n".join(texts)
    assert all(f"Question {i} Tom &amp; Jerry &lt;!channel&gt;" in joined for i in range(40))
    quoted = "".join(line.removeprefix("> ") + "\n" for line in joined.splitlines() if line.startswith("> "))
    escaped = comment.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert quoted == escaped  # the whole comment, verbatim, nothing cut
    assert all("<" not in t and not BARE_AMPERSAND.search(t) for t in texts)
    assert all(b["text"]["verbatim"] is True for b in blocks if b["type"] == "section")
    assert "*Location:* 042" in joined and "dana@example.com" not in joined


def test_details_of_a_huge_response_stays_within_100_blocks_and_says_where_the_rest_is() -> None:
    answers = tuple(AnswerLine("Q" * 2000, "&" * 900, False) for _ in range(120))
    card = replace(sample_card(), answers=answers, comment="&" * 20_000)
    view = details_view(card)
    assert len(view["blocks"]) == 100 and View(**view).to_dict() == view
    assert "the full response is in the card's thread" in json.dumps(view["blocks"][-1])
