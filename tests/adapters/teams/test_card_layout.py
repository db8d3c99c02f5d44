"""Issue 13: a Teams card an agent reads in two seconds, under the limits Teams' renderer enforces.

The face in reading order (state → customer, due time → comment → low answers → why → facts →
actions), at most five top-level actions (the rest under one "More"), input ids unique across the whole
card, Teams' people picker, "Wake now" on snoozed cards, digests that say whom to call."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from adapters.teams import translate
from adapters.teams.card_actions import MAX_ACTIONS, ME, PEOPLE, ROW_MAX, input_id
from adapters.teams.card_size import CARD_BUDGET, DIGEST_CAPACITY, card_content, digest_content, utf16_size
from adapters.teams.render import STATE_STYLE, card_attachment_content, digest_attachment_content
from bot.action_ids import ActionId, Arg
from bot.alerts.lifecycle import Actor
from bot.cards.model import CardState, low_answers
from bot.cards.views import burst_digest
from tests.adapters.teams.card_catalogue import LONG_COMMENT, STATES, every_card, long_card, state_cards
from tests.adapters.teams.card_schema import (
    input_ids,
    schema_errors,
    show_cards,
    texts,
    top_actions,
    walk,
)
from tests.factories import sample_card

Json = dict[str, Any]
EVERY_CARD = every_card()
LABEL_MAX = 12  # characters: "Escalate", "Add note", "Wake now" stay whole three to a row on a phone
LONE_LABEL_MAX = 24  # a button alone on its row (a menu line: "Not actionable")


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "").replace("\n\n", "\n")


def verbs(card: Json) -> set[str]:
    return {n["verb"] for n in walk(card) if n.get("type") == "Action.Execute"}


def first(body: list[Json], test: Any) -> int:
    return next(i for i, block in enumerate(body) if test(block))


@pytest.mark.parametrize(("name", "card"), EVERY_CARD, ids=[n for n, _ in EVERY_CARD])
def test_every_card_sent_validates_with_unique_ids_and_at_most_five_actions(name: str, card: Json) -> None:
    assert not schema_errors(card)
    ids = Counter(input_ids(card))
    assert not [i for i, n in ids.items() if n > 1], f"duplicate input ids in {name}: {ids}"
    top = top_actions(card)
    if not name.startswith("digest"):
        assert 1 <= len(top) <= MAX_ACTIONS, [a["title"] for a in top]
    for action_set in (n for n in walk(card) if n.get("type") == "ActionSet"):
        row = action_set["actions"]
        assert len(row) <= ROW_MAX
        limit = LABEL_MAX if len(row) > 1 else LONE_LABEL_MAX
        assert not [a["title"] for a in row if len(a["title"]) > limit], "a label a phone would cut"


def test_a_duplicate_input_id_would_be_caught() -> None:
    card = card_attachment_content(sample_card())
    card["body"].append({"type": "Input.Text", "id": "note.note", "label": "again"})
    assert Counter(input_ids(card))["note.note"] == 2


def test_the_face_reads_state_customer_due_comment_low_answers_why_facts_then_actions() -> None:
    card = sample_card()
    body = card_attachment_content(card)["body"]
    header = body[0]
    assert header["type"] == "Container" and header["style"] == "attention"
    assert unescaped(header["items"][0]["text"]).replace("**", "") == f"{card.alert_key} · {card.state_text}"
    name = first(body, lambda b: b.get("text") == "Dana Scully")
    due = first(body, lambda b: "Claim due in" in b.get("text", ""))
    comment = first(body, lambda b: b.get("style") == "emphasis" and "Waited" in str(b))
    low = first(body, lambda b: "Staff friendliness" in b.get("text", ""))
    why = first(body, lambda b: b.get("text", "").startswith("Why:"))
    facts = first(body, lambda b: b.get("type") == "FactSet")
    actions = first(body, lambda b: b.get("type") == "ActionSet")
    assert 0 < name < due < comment < low < why < facts < actions
    assert body[due]["weight"] == "Bolder" and "color" not in body[due]
    assert all(b.get("type") == "ActionSet" for b in body[actions:])
    shown = " ".join(texts({"body": body[:actions]}))
    assert "Cleanliness" not in shown, "an answer that is not low stays under Details"


@pytest.mark.parametrize("state", list(STATES))
def test_the_header_shows_the_state_in_words_and_colour(state: str) -> None:
    card = sample_card(**STATES[state])
    header = card_attachment_content(card)["body"][0]
    assert header["style"] == STATE_STYLE[card.state]
    assert card.state_text and unescaped(card.state_text) in unescaped(header["items"][0]["text"])
    styles = {CardState(s): STATE_STYLE[CardState(s)] for s in ("open", "claimed", "escalated", "resolved")}
    assert styles == {CardState.OPEN: "attention", CardState.CLAIMED: "accent",
                      CardState.ESCALATED: "warning", CardState.RESOLVED: "good"}


def test_an_overdue_due_time_is_bold_in_the_attention_colour() -> None:
    body = card_attachment_content(sample_card(**STATES["claimed-overdue"]))["body"]
    due = next(b for b in body if "overdue" in b.get("text", ""))
    assert (due["weight"], due["color"]) == ("Bolder", "attention")
    assert body.index(due) < first(body, lambda b: b.get("type") == "FactSet")


def test_visible_buttons_keep_their_styles_and_the_rest_is_under_more() -> None:
    content = card_attachment_content(sample_card())
    top = {a["title"]: a for a in top_actions(content)}
    assert list(top) == ["Claim", "Escalate", "Resolve", "Details", "More"]
    assert (top["Claim"]["style"], top["Escalate"]["style"]) == ("positive", "destructive")
    more = top["More"]["card"]
    entries = [a["title"] for a in walk(more) if a.get("type") in ("Action.ShowCard", "Action.Execute")
               and a in [s["actions"][0] for s in more["body"]]]
    assert entries == ["Add note", "Reply", "Log a call", "Snooze", "Reassign", "Not actionable"]
    claimed = {a["title"]: a for a in top_actions(card_attachment_content(sample_card(**STATES["claimed"])))}
    assert list(claimed) == ["Resolve", "Escalate", "Add note", "Details", "More"]
    assert claimed["Resolve"]["style"] == "positive" and claimed["Escalate"]["style"] == "destructive"
    assert "Unclaim" in show_cards(claimed["More"]) or "alert.unclaim" in verbs(claimed["More"])


@pytest.mark.parametrize("state", ["snoozed", "snoozed-claimed"])
def test_a_snoozed_card_offers_wake_now_never_claim(state: str) -> None:
    content = card_attachment_content(sample_card(**STATES[state]))
    top = [a["title"] for a in top_actions(content)]
    assert top[0] == "Wake now" and "Claim" not in top
    assert ActionId.WAKE.value in verbs(content) and ActionId.CLAIM.value not in verbs(content)


def test_details_holds_every_answer_and_the_whole_comment_the_face_says_it_cut() -> None:
    card = long_card()
    content = card_content(card)  # as sent: Details holds everything that fits Teams' size
    face = [b for b in content["body"] if b.get("type") != "ActionSet"]
    face_text = "\n".join(texts({"body": face}))
    assert "press Details for the whole comment" in face_text
    assert len(low_answers(card)) == 8
    assert sum("(low)" in t for t in texts({"body": face})) == 5
    assert "25 more answers under Details" in face_text
    details = show_cards(content)["Details"]
    shown = [unescaped(t) for t in texts(details)]
    asked = [unescaped(f["title"]) for n in walk(details) if n.get("type") == "FactSet" for f in n["facts"]]
    assert asked == [a.question for a in card.answers]
    assert sum("(low)" in t for t in shown) == 8
    assert unescaped(LONG_COMMENT).strip() in "\n".join(shown)
    assert not input_ids(details) and "actions" not in details  # read-only, no round trip


def test_reassign_uses_teams_people_picker_and_me_means_the_clicker() -> None:
    reassign = show_cards(card_attachment_content(sample_card()))["Reassign"]
    picker = next(n for n in walk(reassign) if n.get("type") == "Input.ChoiceSet")
    assert picker["id"] == input_id(ActionId.REASSIGN, Arg.USER) == "reassign.user"
    assert picker["choices.data"] == {"type": "Data.Query", "dataset": PEOPLE}
    assert "Entra" not in picker["label"] and picker["isRequired"] is True
    assert [c["value"] for c in picker["choices"]] == [ME]
    megan = Actor("aad-megan", "Megan Bowen", "teams")
    picked = translate.parse_click("alert.reassign", {"alert": "HA-1", "reassign.user": "aad-adele"})
    assert translate.request_for(picked, megan).args == {Arg.USER: "aad-adele"}
    me = translate.parse_click("alert.reassign", {"alert": "HA-1", "reassign.user": ME})
    assert translate.request_for(me, megan).args == {Arg.USER: "aad-megan", Arg.USER_NAME: "Megan Bowen"}


def test_inputs_are_read_back_by_the_clicked_verb_only() -> None:
    data = {"alert": "HA-1", "option": "", "resolve.outcome": "recovered", "resolve.note": "called back",
            "note.note": "a note typed in another form", "resolve.follow_up": "true"}
    click = translate.parse_click("alert.resolve", data)
    assert click.args == {Arg.OUTCOME: "recovered", Arg.NOTE: "called back", Arg.FOLLOW_UP: "true"}
    assert translate.parse_click("alert.note", data).args == {Arg.NOTE: "a note typed in another form"}
    snooze = translate.parse_click("alert.snooze", {"alert": "HA-1", "option": "", "snooze.until": "4h"})
    assert snooze.args == {Arg.UNTIL: "4h"}
    legacy = translate.parse_click("alert.note", {"alert": "HA-1", "note": "from a card posted earlier"})
    assert legacy.args == {Arg.NOTE: "from a card posted earlier"}


def test_every_form_field_id_reads_back_to_its_arg() -> None:
    content = card_attachment_content(sample_card())
    for form in show_cards(content).values():
        submit = (form.get("actions") or [{}])[0]
        if submit.get("type") != "Action.Execute":
            continue
        verb = ActionId(submit["verb"])
        values = {i: "x" for i in input_ids(form)}
        args = translate.parse_click(verb.value, {**submit["data"], **values}).args
        assert set(args) == {i.removeprefix(input_id(verb, "")) for i in values}, verb


def test_a_digest_says_whom_to_call_marks_overdue_and_keeps_claim_on_each_line() -> None:
    cards = [card for _, card in state_cards() if card.audience == "team"]
    digest = burst_digest(cards)
    content = digest_attachment_content(digest)
    rows = [b for b in content["body"] if b.get("type") == "ColumnSet"]
    assert len(rows) == len(cards) == len(digest.items)
    first_row = rows[0]
    lines = "\n".join(texts(first_row["columns"][0]))
    assert "OVERDUE" in lines and "Dana Scully" in unescaped(lines)
    assert "Waited 40 minutes" in unescaped(lines)
    overdue = next(t for t in walk(first_row) if "OVERDUE" in t.get("text", ""))
    assert overdue["color"] == "attention"
    for item, row in zip(digest.items, rows, strict=True):
        assert item.alert_key in unescaped(row["columns"][0]["items"][0]["text"])
        claims = [a for a in walk(row["columns"][-1]) if a.get("type") == "Action.Execute"]
        assert [c["data"]["alert"] for c in claims] == ([item.alert_key] if item.status == "open" else [])
        assert all(c["title"] == "Claim" for c in claims)


def test_a_full_digest_of_long_comments_fits_the_budget() -> None:
    many = burst_digest([long_card(key=f"HA-{2000 + i}") for i in range(DIGEST_CAPACITY)])
    content = digest_content(many)
    assert utf16_size(content) <= CARD_BUDGET
    shown = unescaped("\n".join(texts(content)))
    assert shown.count("Dana Scully") == shown.count("I waited 40 minutes") == DIGEST_CAPACITY
    assert len([a for a in walk(content) if a.get("type") == "Action.Execute"]) == DIGEST_CAPACITY
