"""Adaptive Card rendering: every card state validates against the official 1.5 schema, no mocks."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from adapters.teams.card_size import (
    ACTIVITY_MAX,
    CARD_BUDGET,
    DIGEST_CAPACITY,
    card_content,
    digest_content,
    fit_card,
    utf16_size,
)
from adapters.teams.render import (
    CONTENT_TYPE,
    card_attachment_content,
    digest_attachment_content,
    escape_markdown,
    message_text,
)
from bot.action_ids import ActionId
from bot.cards.model import SNOOZE_CHOICES, Card, DigestCard, DigestItem, build_card, card_is_cut
from bot.domain import AlertStatus, Outcome, Severity
from tests.adapters.teams.card_schema import schema_errors, walk
from tests.factories import NOW, sample_card

VERBS = {a.value for a in ActionId}
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b-\u200d\u2060\ufeff]")

STATES: dict[str, dict[str, Any]] = {
    "open": {},
    "claimed": {"status": "claimed", "owner_name": "Fox Mulder"},
    "resolved": {"status": "resolved", "outcome": "recovered", "root_cause": "staff", "resolved_by": "Fox"},
    "snoozed": {"status": "snoozed"},
    "overdue": {"claim_due_at": NOW - timedelta(minutes=10)},
    "escalated": {"status": "claimed", "owner_name": "Fox", "escalation_level": 2},
}


def assert_valid(card: dict[str, Any]) -> None:
    errors = schema_errors(card)  # Teams' extensions (msteams, the people picker's choices.data) stripped
    assert not errors, errors


def actions(card: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [n for n in walk(card) if n.get("type") == kind]


def texts(card: dict[str, Any]) -> list[str]:
    out = [n["text"] for n in walk(card) if n.get("type") == "TextBlock"]
    facts = [f for n in walk(card) if n.get("type") == "FactSet" for f in n["facts"]]
    out += [f[key] for f in facts for key in ("title", "value")]
    return out


def unescaped(card: dict[str, Any]) -> str:
    """The card's JSON with Markdown escapes undone: what a reader sees."""
    return re.sub(r"\\(.)", r"\1", json.dumps(card, ensure_ascii=False).replace("\\\\", "\\"))


def all_cards() -> list[tuple[str, Card]]:
    return [
        (f"{state}-{audience}", sample_card(audience=audience, **overrides))
        for state, overrides in STATES.items()
        for audience in ("team", "managers")
    ]


def sample_digest(**overrides: Any) -> DigestCard:
    items = (
        DigestItem("HA-1", Severity.CRITICAL, "NPS 1 · *rude* [x](https://evil.example)", AlertStatus.OPEN),
        DigestItem("HA-2", Severity.HIGH, "NPS 4", AlertStatus.CLAIMED, link="https://teams.example/msg/2"),
        DigestItem("HA-3", Severity.NORMAL, "asks to be contacted", AlertStatus.OPEN),
    )
    values: dict[str, Any] = {
        "title": "3 hot alerts in the last hour",
        "items": items,
        "figures": (("Open", "2"), ("Overdue", "1")),
        "more": 4,
    }
    values.update(overrides)
    return DigestCard(**values)


@pytest.mark.parametrize(("name", "card"), all_cards(), ids=[n for n, _ in all_cards()])
def test_every_card_state_validates(name: str, card: Card) -> None:
    content = card_attachment_content(card)
    assert content["type"] == "AdaptiveCard"
    assert content["version"] == "1.5"
    assert content["$schema"].startswith("http://adaptivecards.io/schemas/")
    assert_valid(content)


@pytest.mark.parametrize(("name", "card"), all_cards(), ids=[n for n, _ in all_cards()])
def test_verbs_and_fallbacks(name: str, card: Card) -> None:
    content = card_attachment_content(card)
    executes = actions(content, "Action.Execute")
    assert executes
    for action in executes:
        assert action["verb"] in VERBS
        assert action["data"]["alert"] == card.alert_key
        fallback = action["fallback"]
        assert fallback["type"] == "Action.Submit"
        assert fallback["data"] == {**action["data"], "verb": action["verb"]}
    # every Action.Submit is a fallback, never a primary action
    assert len(actions(content, "Action.Submit")) == len(executes)


def test_open_card_buttons_and_forms() -> None:
    content = card_attachment_content(sample_card())
    verbs = {a["verb"] for a in actions(content, "Action.Execute")}
    assert {"alert.claim", "alert.escalate", "alert.resolve", "alert.note", "alert.snooze"} <= verbs
    show = {a["title"]: a["card"] for a in actions(content, "Action.ShowCard")}
    assert {"Resolve", "Escalate", "Add note", "Snooze", "Details", "More"} <= set(show)
    snooze = next(n for n in walk(show["Snooze"]) if n.get("type") == "Input.ChoiceSet")
    assert [c["value"] for c in snooze["choices"]] == [code for code, _ in SNOOZE_CHOICES]
    resolve_inputs = {
        n["id"].removeprefix("resolve."): n
        for n in walk(show["Resolve"])
        if str(n.get("type", "")).startswith("Input.")
    }
    assert set(resolve_inputs) == {"outcome", "root_cause", "note", "follow_up"}
    # the outcomes Slack's Resolve form offers too ("Not actionable" is a button of its own)
    assert {c["value"] for c in resolve_inputs["outcome"]["choices"]} == {
        o.value for o in Outcome if o is not Outcome.NOT_ACTIONABLE
    }
    assert resolve_inputs["note"]["isMultiline"] is True
    assert resolve_inputs["follow_up"]["type"] == "Input.Toggle"
    assert [n["id"] for n in walk(show["Escalate"]) if n.get("type") == "Input.Text"] == ["escalate.reason"]


def test_claimed_and_resolved_buttons() -> None:
    claimed = card_attachment_content(sample_card(**STATES["claimed"]))
    assert "alert.claim" not in {a["verb"] for a in actions(claimed, "Action.Execute")}
    assert "alert.unclaim" in {a["verb"] for a in actions(claimed, "Action.Execute")}
    assert any("Fox Mulder" in t for t in texts(claimed))
    resolved = card_attachment_content(sample_card(**STATES["resolved"]))
    assert [a["verb"] for a in actions(resolved, "Action.Execute")] == ["alert.reopen"]
    assert any("Recovered" in t for t in texts(resolved))


def test_overdue_sla_is_attention_colored() -> None:
    overdue = sample_card(**STATES["overdue"])
    blocks = [n for n in walk(card_attachment_content(overdue)) if "overdue" in str(n.get("text", ""))]
    assert blocks and blocks[0]["color"] == "attention"
    fine = [n for n in walk(card_attachment_content(sample_card())) if "due in" in str(n.get("text", ""))]
    assert fine and "color" not in fine[0]


def test_low_answers_marked() -> None:
    blocks = [
        n for n in walk(card_attachment_content(sample_card())) if "Staff friendliness" in str(n.get("text"))
    ]
    assert blocks[0]["color"] == "attention" and "low" in blocks[0]["text"]
    # a good answer is not on the card face; Details lists it, unmarked
    good = [n for n in walk(card_attachment_content(sample_card())) if n.get("title") == "Cleanliness"]
    assert len(good) == 1 and "low" not in good[0]["value"]


def test_contact_details_only_for_team_audience() -> None:
    team = unescaped(card_attachment_content(sample_card(audience="team")))
    managers = unescaped(card_attachment_content(sample_card(audience="managers")))
    assert "dana@example.com" in team and "555 0100" in team
    assert "dana@example.com" not in managers and "555 0100" not in managers
    assert '"Contact"' not in managers


LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\((?!\s)")
MENTION = re.compile(r"<at>|(?<!\\)<")


def test_customer_text_cannot_inject_markup() -> None:
    card = card_attachment_content(sample_card())
    comment = next(t for t in texts(card) if "Waited 40 minutes" in t)
    assert not LINK.search(comment) and not MENTION.search(comment)
    assert "https://evil" not in comment  # no bare auto-link either
    assert "rude" in comment and "40 minutes" in comment


@pytest.mark.parametrize(
    "evil",
    [
        "[click me](https://evil.example)",
        "<at>Everyone</at> hi",
        "**bold** _it_ `code` ~~strike~~",
        "# heading\n> quote\n- item\n+ item\n1. first",
        "![img](https://evil.example/x.png) | table |",
        "&lt;at&gt;x&lt;/at&gt; <b>html</b>",
    ],
)
def test_escape_markdown_neutralises(evil: str) -> None:
    out = escape_markdown(evil)
    assert not LINK.search(out)
    assert not MENTION.search(out)
    for ch in "*_`[]()#>-+!|~<&":
        assert re.search(rf"(?<!\\){re.escape(ch)}", out) is None, ch
    assert not re.search(r"^\s*\d+\.", out, re.MULTILINE)
    readable = re.sub(r"\\(.)", r"\1", out).replace("\u200b", "").replace("\n\n", "\n")
    assert readable == evil


def test_digest_validates_and_has_claim_buttons() -> None:
    content = digest_attachment_content(sample_digest())
    assert_valid(content)
    claims = actions(content, "Action.Execute")
    assert [a["data"]["alert"] for a in claims] == ["HA-1", "HA-3"]  # open items only
    assert all(a["verb"] == ActionId.CLAIM.value and a["fallback"]["type"] == "Action.Submit" for a in claims)
    assert not any(LINK.search(t) for t in texts(content))
    assert any("4 more" in t for t in texts(content))
    assert actions(content, "Action.OpenUrl")[0]["url"] == "https://teams.example/msg/2"


def test_digest_without_claim_buttons_validates() -> None:
    content = digest_attachment_content(sample_digest(with_claim_buttons=False, figures=(), more=0))
    assert_valid(content)
    assert not actions(content, "Action.Execute")


def test_message_text_plain_and_mention() -> None:
    plain = message_text("Claimed by <b>Fox</b> [x](y)")
    assert plain["type"] == "message" and "entities" not in plain
    assert not LINK.search(plain["text"]) and not MENTION.search(plain["text"])
    assert "entities" not in message_text("heads up", "channel")
    mentioned = message_text("over to you", "29:abc", mention_name="Fox Mulder")
    entity = mentioned["entities"][0]
    assert entity["type"] == "mention" and entity["mentioned"]["id"] == "29:abc"
    assert mentioned["text"].startswith(entity["text"]) and entity["text"] == "<at>Fox Mulder</at>"
    entra = message_text("over to you", "6f1c2b3a-0d4e-4f5a-9b8c-7d6e5f4a3b2c")
    assert entra["entities"][0]["mentioned"]["id"] == "6f1c2b3a-0d4e-4f5a-9b8c-7d6e5f4a3b2c"
    for foreign in ("U0ANA", "here", "<!channel>"):  # a Slack owner's id never becomes a Teams mention
        assert "entities" not in message_text("over to you", foreign)


def test_reassign_opens_a_form_that_sends_the_user() -> None:
    from adapters.teams.render import card_attachment_content

    content = card_attachment_content(sample_card())
    text = json.dumps(content)
    assert '"id": "reassign.user"' in text
    reassign = [a for a in actions(content, "Action.ShowCard") if a["title"] == "Reassign"]
    assert len(reassign) == 1
    assert reassign[0]["card"]["actions"][0]["verb"] == "alert.reassign"


# ---- size: Teams measures a message in UTF-16 and refuses one over ~28 KB (HTTP 413) ----------------


def big_generic_body() -> bytes:
    """A valid generic webhook of about 170 KB: the longest comment allowed (markup and emoji, which
    escaping and UTF-16 make heavier), 120 long answers and long attributes."""
    comment = ("Rude *staff* [x](https://evil.example) 😡 <at>boss</at> " * 400)[:20_000]
    answers = [
        {"question": f"Question {i} " + "q" * 690, "value": ("v" * 499) + str(i % 10)} for i in range(120)
    ]
    body = {
        "id": "r-huge",
        "nps": 1,
        "contact_requested": True,
        "customer": {"name": "Dana " + "S" * 200, "email": "dana@example.com"},
        "answers": answers,
        "comment": comment,
        "attributes": {"location": "L" * 3000, "employee": "E" * 3000, "product": "P" * 3000},
    }
    return json.dumps(body, ensure_ascii=False).encode()


def card_from_body(raw: bytes) -> Card:
    from adapters.sources.generic import parse
    from bot.ingest.accept import feedback_values
    from tests.factories import sample_alert, sample_team
    from tests.factories import sample_feedback as feedback_row

    item = parse({}, raw, mapping={})
    return build_card(sample_alert(), feedback_row(**feedback_values(item)), sample_team(),
                      source_name="web", now=NOW)


def test_a_170_kb_webhook_makes_a_card_under_28_kb_utf16_that_says_what_it_cut() -> None:
    raw = big_generic_body()
    assert len(raw) >= 170_000
    card = card_from_body(raw)
    assert utf16_size(card_attachment_content(card)) > ACTIVITY_MAX, "unguarded, the card is too big"
    content = card_content(card)
    activity = {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "content": content}]}
    assert utf16_size(activity) < 28 * 1024
    assert_valid(content)
    shown = "\n".join(texts(content))
    assert re.search(r"cut — [\d,]+ more characters; the full response is in this card's thread", shown)
    assert re.search(r"\d+ more answers in this card's thread", shown)
    assert "Rude" in shown and "Question 0" in shown  # the start of both is there
    assert card_is_cut(fit_card(card))
    assert {a["verb"] for a in actions(content, "Action.Execute")} >= {"alert.claim", "alert.resolve"}


def test_a_card_that_fits_is_left_whole() -> None:
    card = sample_card()
    assert fit_card(card) == card and card_content(card) == card_attachment_content(card)
    assert not card_is_cut(card)


def test_a_big_digest_fits_by_shortening_summaries() -> None:
    item = DigestItem("HA-1", Severity.HIGH, "Detractor · " + "N" * 255 + " *x*" * 50, AlertStatus.OPEN)
    digest = sample_digest(items=(item,) * DIGEST_CAPACITY)
    assert utf16_size(digest_attachment_content(digest)) > CARD_BUDGET
    content = digest_content(digest)
    assert utf16_size(content) <= CARD_BUDGET
    assert_valid(content)
    assert len(actions(content, "Action.Execute")) == DIGEST_CAPACITY, "every alert keeps its Claim button"


def test_invisible_characters_never_reach_the_card() -> None:
    from tests.factories import sample_alert, sample_feedback, sample_team

    sneaky = "safe\u202egpj.exe\u2066x\u2069 zero\u200bwidth\u200d\ufeff\u2060 mark\u200e\u200f\u061c"
    feedback = sample_feedback(customer_name=sneaky, comment=sneaky, attributes={"location": sneaky},
                               answers=[{"question": sneaky, "value": sneaky}])
    card = build_card(sample_alert(), feedback, sample_team(), source_name="web", now=NOW)
    raw = json.dumps(card_content(card), ensure_ascii=False)
    assert "safegpj.exe" in unescaped(card_content(card)) and "zerowidth" in raw
    assert not INVISIBLE.search(raw.replace(":\u200b//", "://")), "a bidi or zero-width character is left"
