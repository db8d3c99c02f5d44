from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from adapters.slack.render import (
    card_blocks,
    card_message,
    digest_blocks,
    digest_message,
    escape_mrkdwn,
    fit_card,
    thread_line,
    truncate,
)
from adapters.slack.text import reply_message
from bot.action_ids import ActionId
from bot.cards.model import AnswerLine, Card, CardButton, DigestCard, DigestItem, card_is_cut
from bot.domain import AlertStatus, Severity
from tests.adapters.slack.blockkit import BARE_AMPERSAND, all_strings, assert_valid_blocks, mrkdwn_texts
from tests.factories import NOW, sample_card

EVIL = "Tom & Jerry <!channel> <!here> <@U123> <#C999|general> <https://evil.example|click> <!date^1|x>"
STATES: dict[str, dict[str, Any]] = {
    "open": {},
    "snoozed": {"status": "snoozed", "snoozed_until": NOW + timedelta(hours=1), "snooze_reason": "call back"},
    "claimed": {"status": "claimed", "owner_name": "Fox Mulder"},
    "resolved": {"status": "resolved", "outcome": "recovered", "root_cause": "staff", "resolved_by": "Fox"},
}


def evil_card() -> Card:
    card = sample_card(status="claimed", owner_name="Fox", owner_id="U0FOX", owner_platform="teams")
    return replace(
        card,
        customer_name=EVIL,
        contact=(EVIL,),
        comment=f"{EVIL}\nsecond line {EVIL}",
        answers=(AnswerLine(EVIL, EVIL, True), AnswerLine("Fine", EVIL, False)),
        reasons=(EVIL,),
        facts=(("Location", EVIL), (EVIL, "x")),
        sla_text=EVIL,
        resolution=EVIL,
        fallback_text=EVIL,
    )


def actions_block(card: Card) -> dict[str, Any]:
    return next(b for b in card_blocks(card) if b["type"] == "actions")


def test_escape_mrkdwn_neutralises_control_characters() -> None:
    assert escape_mrkdwn("a & b <!channel> <@U1> x > y") == "a &amp; b &lt;!channel&gt; &lt;@U1&gt; x &gt; y"
    assert escape_mrkdwn("&amp;") == "&amp;amp;"  # already-escaped text is shown literally


def test_customer_text_never_becomes_a_mention_or_link() -> None:
    message = card_message(evil_card())
    texts = [message["text"], *mrkdwn_texts(message["blocks"])]
    assert len(texts) >= 7  # fallback, lead (customer, due, contact), comment, answers, why, 2 facts
    for text in texts:
        assert "<" not in text and ">" not in text.replace("\n> ", "\n").removeprefix("> "), text
        assert not BARE_AMPERSAND.search(text), text
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined and "&lt;@U123&gt;" in joined and "&amp;" in joined
    assert_valid_blocks(message["blocks"])


def test_plain_text_fields_carry_no_customer_text() -> None:
    blocks = card_blocks(evil_card())
    plain = [s for b in blocks for s in all_strings(b) if "<!channel>" in s or "<@U123>" in s]
    assert plain == []


def test_an_owner_name_is_plain_in_the_header_and_escaped_in_mrkdwn() -> None:
    """A chat user's display name is not customer text, but it is not trusted either: Slack does not
    parse plain_text (the header), and in mrkdwn it is escaped unless it is a checked Slack user id."""
    owner = {"owner_name": EVIL, "owner_id": EVIL, "owner_platform": "slack"}
    blocks = card_blocks(sample_card(status="claimed", **owner))
    assert blocks[0]["text"]["type"] == "plain_text" and EVIL in blocks[0]["text"]["text"]
    lead = blocks[1]["text"]["text"]
    assert "Claimed by *Tom &amp; Jerry &lt;!channel&gt;" in lead and "<" not in lead


def test_comment_is_an_escaped_quote() -> None:
    blocks = card_blocks(sample_card())
    comment = next(b for b in blocks if b["block_id"].endswith(".comment"))
    lines = comment["text"]["text"].splitlines()
    assert lines[0] == "*Comment*"
    assert lines[1].startswith("> Waited 40 minutes &amp; the manager was rude &lt;!channel&gt;")


def test_open_card_buttons_and_menu() -> None:
    block = actions_block(sample_card())
    elements = block["elements"]
    buttons = [(e["action_id"], e.get("style"), e["value"]) for e in elements if e["type"] == "button"]
    assert buttons == [
        ("alert.claim", "primary", "HA-1001"),
        ("alert.escalate", "danger", "HA-1001"),
        ("alert.resolve", None, "HA-1001"),
        ("alert.details", None, "HA-1001"),
    ]
    menu = elements[-1]
    assert menu["action_id"] == ActionId.MORE
    assert menu["type"] == "static_select"  # 7 entries: more than overflow's 5
    values = [o["value"] for o in menu["options"]]
    assert values[0] == "alert.note|HA-1001"
    assert "alert.snooze|HA-1001|30m" in values
    assert values[-2:] == ["alert.reassign|HA-1001", "alert.not_actionable|HA-1001"]


def test_small_menu_is_an_overflow() -> None:
    card = sample_card()
    small = replace(card, menu=card.menu[:5])
    menu = actions_block(small)["elements"][-1]
    assert menu["type"] == "overflow" and menu["action_id"] == "alert.more"
    assert len(menu["options"]) == 5
    assert_valid_blocks(card_blocks(small))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("open", ["alert.claim", "alert.escalate", "alert.resolve", "alert.details", "alert.more"]),
        ("snoozed", ["alert.wake", "alert.note", "alert.details", "alert.more"]),  # never Claim
        ("claimed", ["alert.resolve", "alert.escalate", "alert.note", "alert.details", "alert.more"]),
        ("resolved", ["alert.reopen", "alert.details"]),
    ],
)
def test_buttons_per_state(state: str, expected: list[str]) -> None:
    card = sample_card(**STATES[state])
    blocks = card_blocks(card)
    assert [e["action_id"] for e in actions_block(card)["elements"]] == expected
    assert all(e.get("value", "HA-1001").startswith("HA-1001") for e in actions_block(card)["elements"])
    assert_valid_blocks(blocks)


def test_owner_and_resolution_lines() -> None:
    claimed = "\n".join(mrkdwn_texts(card_blocks(sample_card(**STATES["claimed"]))))
    assert "Claimed by *Fox Mulder*" in claimed
    slack_owner = sample_card(status="claimed", owner_name="Fox", owner_id="U0FOX", owner_platform="slack")
    assert "Claimed by <@U0FOX>" in card_blocks(slack_owner)[1]["text"]["text"]
    teams_owner = sample_card(status="claimed", owner_name="Fox", owner_id="U0FOX", owner_platform="teams")
    assert "Claimed by *Fox*" in card_blocks(teams_owner)[1]["text"]["text"]
    resolved = "\n".join(mrkdwn_texts(card_blocks(sample_card(**STATES["resolved"]))))
    assert "*Resolved* — Recovered · root cause: staff · by Fox" in resolved
    open_ = "\n".join(mrkdwn_texts(card_blocks(sample_card())))
    assert "Claimed by" not in open_ and "*Resolved*" not in open_


def test_the_due_time_is_bold_right_under_the_header() -> None:
    lead = card_blocks(sample_card())[1]
    assert lead["block_id"].endswith(".lead")
    assert lead["text"]["text"].startswith("*Dana Scully*  ·  :stopwatch: *Claim due in 10 min*")
    late = card_blocks(sample_card(claim_due_at=NOW - timedelta(minutes=12)))[1]["text"]["text"]
    assert late.startswith("*Dana Scully*  ·  :rotating_light: *Claim overdue 12 min*")


def test_only_low_answers_are_on_the_card_the_rest_in_details() -> None:
    answers = next(b for b in card_blocks(sample_card()) if b["block_id"].endswith(".answers"))
    lines = answers["text"]["text"].splitlines()
    assert lines[0].startswith(":warning: How likely")
    assert lines[1].startswith(":warning: Staff friendliness")
    assert lines[2] == "_1 more answer in Details_" and "Cleanliness" not in answers["text"]["text"]


def test_contact_lines_only_when_card_has_them() -> None:
    team = "\n".join(mrkdwn_texts(card_blocks(sample_card())))
    managers = "\n".join(mrkdwn_texts(card_blocks(sample_card(audience="managers"))))
    assert "dana@example.com" in team and "+1 555 0100" in team
    assert "dana@example.com" not in managers and "Dana Scully" in managers


def test_block_ids_carry_the_version() -> None:
    v3 = card_blocks(sample_card(version=3))
    v4 = card_blocks(sample_card(version=4))
    assert all(".v3." in b["block_id"] for b in v3)
    assert not {b["block_id"] for b in v3} & {b["block_id"] for b in v4}


def test_huge_comment_is_cut_within_section_limit_and_says_so() -> None:
    card = replace(sample_card(), comment=("&<>" * 2000 + "\n") * 5)
    comment = next(b for b in card_blocks(card) if b["block_id"].endswith(".comment"))
    text = comment["text"]["text"]
    shown = text.split("\n")[1].removeprefix("> ").count("&amp;&lt;&gt;") * 3
    hidden = len(card.comment or "") - shown
    assert len(text) <= 3000 and text.endswith(
        f"…(cut — {hidden:,} more characters: Details shows the full text)"
    )
    assert not BARE_AMPERSAND.search(text)  # no entity cut in half
    assert_valid_blocks(card_blocks(card))
    assert card_is_cut(fit_card(card)) and not card_is_cut(fit_card(sample_card()))


def test_sixty_answers_and_long_everything_stay_within_limits() -> None:
    answers = tuple(AnswerLine(f"Question number {i} " + "q" * 80, "1 / 5", True) for i in range(60))
    card = replace(
        sample_card(),
        state_text="S" * 500,
        answers=answers,
        customer_name="N" * 255,
        reasons=tuple("r" * 200 for _ in range(30)),
        facts=tuple((f"F{i}", "v" * 100) for i in range(15)),
        buttons=tuple(CardButton(ActionId.CLAIM, "L" * 200, "primary", "v" * 3000) for _ in range(2)),
    )
    blocks = card_blocks(card)
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150 and blocks[0]["text"]["text"].endswith("…")
    answers_text = next(b for b in blocks if b["block_id"].endswith(".answers"))["text"]["text"]
    assert len(answers_text) <= 3000 and "more" in answers_text.splitlines()[-1]
    context = next(b for b in blocks if b["type"] == "context")
    assert len(context["elements"]) <= 10
    assert_valid_blocks(blocks)


def test_sdk_validation_catches_what_we_guard_against() -> None:
    header = Block.parse({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}})
    assert header is not None
    with pytest.raises(SlackObjectFormationError):
        header.to_dict()


def test_fallback_text_is_escaped() -> None:
    message = card_message(replace(sample_card(), fallback_text="<!channel> & co"))
    assert message["text"] == "&lt;!channel&gt; &amp; co"
    text = card_message(sample_card())["text"]
    assert text.startswith("🔴 HA-1001 · Open · unclaimed · critical hot alert")


def test_truncate_never_splits_an_entity() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    assert truncate("ab&amp;cd", 5) == "ab…"
    assert len(truncate("x" * 200, 150)) == 150


def digest(n: int, **kwargs: object) -> DigestCard:
    statuses = (AlertStatus.CLAIMED, AlertStatus.OPEN)
    items = tuple(DigestItem(f"HA-{i}", Severity.HIGH, f"sum {i} {EVIL}", statuses[i % 2]) for i in range(n))
    return DigestCard(title="Burst: 3 alerts at store-042", items=items, **kwargs)  # type: ignore[arg-type]


def test_digest_items_with_claim_buttons() -> None:
    blocks = digest_blocks(digest(3, figures=(("Open", "2"), ("Overdue", "1"))))
    assert blocks[0]["type"] == "header" and blocks[1]["type"] == "context"
    items = blocks[2:]
    assert len(items) == 3
    assert "*HA-1*" in items[1]["text"]["text"] and "high" in items[1]["text"]["text"]
    assert items[1]["accessory"] == {
        "type": "button",
        "action_id": "alert.claim",
        "text": {"type": "plain_text", "text": "Claim", "emoji": True},
        "value": "HA-1",
        "style": "primary",
    }
    assert "accessory" not in items[0]  # already claimed
    for text in mrkdwn_texts(blocks):
        assert "<" not in text and not BARE_AMPERSAND.search(text)
    assert_valid_blocks(blocks)


def test_digest_without_claim_buttons_and_links() -> None:
    card = DigestCard(
        title="Daily",
        items=(
            DigestItem(
                "HA-7", Severity.LOW, "s", AlertStatus.OPEN, link="https://hotloop.example.com/a?x=1&y=2"
            ),
        ),
        with_claim_buttons=False,
    )
    blocks = digest_blocks(card)
    assert "accessory" not in blocks[1]
    assert "<https://hotloop.example.com/a?x=1&amp;y=2|HA-7>" in blocks[1]["text"]["text"]
    bad = replace(card, items=(replace(card.items[0], link="javascript:alert(1)|x"),))
    assert "<" not in digest_blocks(bad)[1]["text"]["text"]


def test_digest_is_capped_at_fifty_blocks_with_more_line() -> None:
    blocks = digest_blocks(digest(48, more=5))  # one section each still fits
    assert len(blocks) == 50
    assert blocks[-1]["elements"][0]["text"] == "+5 more"
    assert_valid_blocks(blocks)
    dense = digest_blocks(digest(80, more=5))  # too many for that: ten per section, all 80 shown
    assert len(dense) <= 50 and dense[-1]["elements"][0]["text"] == "+5 more"
    assert_valid_blocks(dense)
    assert digest_message(digest(2, fallback_text="<!here>"))["text"] == "&lt;!here&gt;"


def test_digest_block_ids_change_with_content() -> None:
    one, two = digest_blocks(digest(3)), digest_blocks(digest(4))
    assert not {b["block_id"] for b in one} & {b["block_id"] for b in two}


def test_thread_line() -> None:
    assert thread_line("Claimed by <Fox> & co", "channel") == "<!channel> Claimed by &lt;Fox&gt; &amp; co"
    assert thread_line("SLA breach", "U012AB3CD") == "<@U012AB3CD> SLA breach"
    assert thread_line("x", None) == "x"
    assert thread_line("x", "<!everyone>") == "x"  # not a user id: dropped, never pasted raw


def test_a_burst_too_big_for_one_section_each_uses_the_dense_layout() -> None:
    import json

    from adapters.slack.render import DIGEST_CAPACITY, action_ids, digest_blocks, digest_fit
    from adapters.slack.translate import parse_click
    from bot.cards.model import DigestCard, DigestItem
    from bot.domain import AlertStatus, Severity

    items = tuple(
        DigestItem(
            f"HA-{1000 + i}",
            Severity.HIGH,
            "<!channel> " * 40,
            AlertStatus.OPEN if i % 3 else AlertStatus.CLAIMED,
        )
        for i in range(DIGEST_CAPACITY + 25)
    )
    digest = DigestCard(title="burst", items=items)
    shown, more = digest_fit(digest)
    assert len(shown) >= DIGEST_CAPACITY and len(shown) + more == len(items) and more > 0
    blocks = digest_blocks(digest)
    assert len(blocks) <= 50
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == sum(1 for i in shown if i.status is AlertStatus.OPEN)
    for block in blocks:
        ids = [e["action_id"] for e in block.get("elements", []) if "action_id" in e]
        assert len(ids) == len(set(ids)), "action ids must be unique within a block"
    assert action_ids(blocks) == {"alert.claim"}
    click = parse_click(buttons[0])
    assert (
        click is not None and click.action.value == "alert.claim" and click.alert_key == buttons[0]["value"]
    )
    assert "<!channel>" not in json.dumps(blocks)


# ---- customer text renders inert: verbatim mrkdwn, no invisible characters ---------------------------

BARE = "see https://evil.example/login or write to mallory@evil.example @channel @here #general"


def text_objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if value.get("type") in ("mrkdwn", "plain_text") and "text" in value else []
        return found + [t for item in value.values() for t in text_objects(item)]
    if isinstance(value, list):
        return [t for item in value for t in text_objects(item)]
    return []


def test_mrkdwn_carrying_customer_text_is_verbatim_so_slack_links_and_pings_nothing() -> None:
    card = replace(
        sample_card(), comment=BARE, customer_name=BARE, answers=(AnswerLine(BARE, BARE, True),),
        facts=(("Location", BARE),), reasons=(BARE,),
    )
    digest = DigestCard("Digest", (DigestItem("HA-1", Severity.HIGH, BARE, AlertStatus.OPEN),))
    messages = [card_message(card), digest_message(digest), reply_message(BARE)]
    objects = [t for m in messages for t in text_objects(m["blocks"])]
    carrying = [t for t in objects if "evil.example" in t["text"]]
    assert len(carrying) >= 6  # comment, customer, answers, facts, reasons, digest, reply
    assert all(t["type"] == "plain_text" or t.get("verbatim") is True for t in carrying), carrying
    assert all(t.get("verbatim") is True for t in objects if t["type"] == "mrkdwn")
    for blocks in (m["blocks"] for m in messages):
        assert_valid_blocks(blocks)


def test_a_thread_reply_keeps_its_mention_live_and_the_text_inert() -> None:
    message = reply_message(f"SLA breach {EVIL} {BARE}", "U0ABCDEF")
    [section] = message["blocks"]
    assert section["text"]["verbatim"] is True
    assert section["text"]["text"].startswith("<@U0ABCDEF> SLA breach Tom &amp; Jerry &lt;!channel&gt;")
    assert message["text"].startswith("<@U0ABCDEF> ")
    long = reply_message("&" * 4000)
    assert len(long["blocks"]) == 7 and "".join(b["text"]["text"] for b in long["blocks"]) == "&amp;" * 4000
    assert_valid_blocks(long["blocks"])


def test_invisible_characters_never_reach_the_slack_card() -> None:
    from bot.cards.model import build_card
    from tests.factories import sample_alert, sample_feedback, sample_team

    sneaky = "safe\u202egpj.exe\u2066x\u2069 zero\u200bwidth\u200d\ufeff\u2060 mark\u200e\u200f\u061c"
    feedback = sample_feedback(customer_name=sneaky, comment=sneaky, attributes={"location": sneaky},
                               answers=[{"question": sneaky, "value": sneaky}])
    card = build_card(sample_alert(), feedback, sample_team(), source_name="web", now=NOW)
    from adapters.slack.modals import details_view

    # the card: customer, comment, location; Details adds the (not low) answer's question and value
    raw = json.dumps([card_message(card), details_view(card)], ensure_ascii=False)
    assert raw.count("safegpj.exe") >= 8 and "zerowidth" in raw
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]", raw)
