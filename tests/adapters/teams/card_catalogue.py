"""Every Adaptive Card hotloop sends to Teams, by name: each card state × audience, cut cards at every
rendering level, digests. Built with the code that posts them (`card_content`, `digest_content`), for
the layout tests, the official renderer check and scripts/card_screenshots.py."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from adapters.teams.card_actions import with_open_form
from adapters.teams.card_size import card_content, digest_content
from adapters.teams.render import card_attachment_content
from bot.action_ids import ActionId, Arg
from bot.actions.contact import REPLY_FORM, prefilled
from bot.cards.model import MAX_LEVEL, Card, build_card, card_at_level
from bot.cards.views import burst_digest
from tests.factories import NOW, sample_alert, sample_card, sample_feedback, sample_team

Json = dict[str, Any]

FOX = {"owner_id": "7f3c2a9e-0d4b-4c1e-9a55-2b8f6e1d0c11", "owner_name": "Fox Mulder",
       "owner_platform": "teams", "claimed_at": NOW - timedelta(minutes=3)}
STATES: dict[str, dict[str, Any]] = {
    "open": {},
    "open-overdue": {"claim_due_at": NOW - timedelta(minutes=10)},
    "claimed": {"status": "claimed", **FOX},
    "claimed-overdue": {"status": "claimed", **FOX, "resolve_due_at": NOW - timedelta(minutes=70)},
    "escalated": {"escalation_level": 2},
    "escalated-claimed": {"status": "claimed", **FOX, "escalation_level": 1},
    "snoozed": {"status": "snoozed", "snoozed_until": NOW + timedelta(hours=1),
                "snooze_reason": "waiting for callback"},
    "snoozed-claimed": {"status": "snoozed", **FOX, "snoozed_until": NOW + timedelta(hours=4)},
    "resolved": {"status": "resolved", **FOX, "outcome": "recovered", "root_cause": "staff",
                 "resolved_by": "Fox Mulder"},
}
AUDIENCES = ("team", "managers")
LONG_COMMENT = (
    "I waited 40 minutes at the counter while three staff members chatted. When I asked the manager for "
    "help she was rude and told me to come back tomorrow. " * 12
)


EVIL = (  # what customer text must never become on a card: links, pictures, headings, lists, code, HTML
    "[click](https://evil.example/a) ![img](https://evil.example/i.png) <https://evil.example> "
    "www.evil.com paypal.com.evil.ru/login mallory@evil.com <at>Boss</at> <b>html</b> `code` **bold** "
    "_it_ ~~strike~~ {{DATE(2017-02-14T06:08:39Z, SHORT)}}\n# heading\n> quote\n- item\n1. first\n---"
)


def state_cards() -> list[tuple[str, Card]]:
    return [
        (f"{state}-{audience}", sample_card(audience=audience, **overrides))
        for state, overrides in STATES.items()
        for audience in AUDIENCES
    ]


def long_card(**alert_overrides: Any) -> Card:
    """30 answers (8 low) and a 1,600-character comment: what used to push the comment 1,100 px down."""
    answers = [
        {"question": f"Question {i}: how was part {i} of the visit?", "value": 1 if i % 4 == 0 else 5,
         "scale_min": 1, "scale_max": 5}
        for i in range(30)
    ]
    feedback = sample_feedback(answers=answers, comment=LONG_COMMENT)
    return build_card(sample_alert(**alert_overrides), feedback, sample_team(), source_name="typeform",
                      now=NOW)


def huge_card() -> Card:
    """Far over Teams' size limit: 120 long answers and a 20,000-character comment full of markup."""
    comment = ("Rude *staff* [x](https://evil.example) 😡 <at>boss</at> " * 400)[:20_000]
    answers = [{"question": f"Question {i} " + "q" * 690, "value": ("v" * 499) + str(i % 10)}
               for i in range(120)]
    feedback = sample_feedback(answers=answers, comment=comment, customer_name="Dana " + "S" * 200)
    return build_card(sample_alert(), feedback, sample_team(), source_name="web", now=NOW)


def evil_card() -> Card:
    """Customer text full of Markdown, links and mentions, in every field a card shows."""
    feedback = sample_feedback(comment=EVIL, customer_name=f"Dana {EVIL[:60]}", customer_email="x@evil.com",
                               answers=[{"question": EVIL[:80], "value": 1, "scale_min": 1, "scale_max": 5},
                                        {"question": "Anything else?", "value": EVIL}],
                               attributes={"location": EVIL[:90], "employee": "<at>Boss</at> www.evil.com"})
    alert = sample_alert(reasons=[EVIL[:50]])
    return build_card(alert, feedback, sample_team(name="team *x* www.evil.com"), source_name="web", now=NOW)


def cut_cards() -> list[tuple[str, Card]]:
    cards = [("long-open", long_card()), ("long-claimed", long_card(status="claimed", **FOX)),
             ("huge", huge_card()), ("evil", evil_card())]
    levels = [(f"{name}-level{level}", card_at_level(card, level))
              for name, card in cards for level in range(1, MAX_LEVEL + 1)]
    return [*cards, *levels]


CUSTOMERS = (  # a burst as a channel sees it: (customer, comment)
    ("Dana Scully", "Waited 40 minutes & the manager was rude. Nobody apologised."),
    ("Walter Skinner", "Charged twice for the same order, and the refund form on your site errors out."),
    ("Monica Reyes", "The room was not cleaned during our three-night stay despite asking every morning."),
    ("John Doggett", "Delivery arrived two days late and the box was crushed."),
    ("Melvin Frohike", "Great food but we waited an hour for the bill."),
    ("Jeffrey Spender", "Staff at the front desk were dismissive when I reported the broken lock."),
    ("Marita Covarrubias", "Please call me back about my complaint from last week, still no answer."),
    ("Alex Krycek", "Product stopped working after one day."),
    ("Diana Fowley", "The app keeps logging me out and support never replied."),
)


def burst_cards() -> list[Card]:
    """One alert in each state, each from another customer (keys HA-1001…)."""
    return [
        build_card(sample_alert(key=f"HA-{1001 + i}", **overrides),
                   sample_feedback(customer_name=name, comment=comment), sample_team(),
                   source_name="typeform", now=NOW)
        for i, ((name, comment), overrides) in enumerate(zip(CUSTOMERS, STATES.values(), strict=True))
    ]


def digests() -> list[tuple[str, Json]]:
    burst = burst_digest(burst_cards(), team_name="store-042")
    evil = burst_digest([*burst_cards()[:2], evil_card()], team_name="store-042")
    many = burst_digest([long_card(key=f"HA-{2000 + i}") for i in range(16)], team_name="store-042")
    return [
        ("digest-burst", digest_content(burst)),
        ("digest-evil", digest_content(evil)),
        ("digest-16-long", digest_content(many)),
        ("digest-no-claim", digest_content(type(burst)(**{**burst.__dict__, "with_claim_buttons": False}))),
    ]


def every_card() -> list[tuple[str, Json]]:
    """(name, Adaptive Card) for every card hotloop emits, as it is sent (fitted to Teams' size)."""
    alert_cards = [(name, card_content(card)) for name, card in [*state_cards(), *cut_cards()]]
    return [*alert_cards, *digests()]


def every_form() -> list[tuple[str, Json]]:
    """Each ShowCard of an open and a claimed card (the forms, Details, More) as a card of its own."""
    forms: dict[str, Json] = {}
    for state in ("open-team", "claimed-team", "snoozed-team"):
        stack = [dict(every_card())[state]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("type") == "Action.ShowCard":
                    forms.setdefault(f"form-{node['title']}", {**node["card"], "version": "1.5"})
                stack += list(node.values())
            elif isinstance(node, list):
                stack += node
    return [*sorted(forms.items()), *open_forms()]


def open_forms() -> list[tuple[str, Json]]:
    """The card a Teams Reply click answers with: its form open in the body, the draft prefilled."""
    draft = prefilled(REPLY_FORM, {Arg.MESSAGE: "Hello Dana,\n\nsorry for the wait.\n\nFox Mulder\nAcme"})
    cards = dict(every_card())
    return [(f"reply-open-{state}", with_open_form(cards[state], "HA-1001", ActionId.REPLY, draft))
            for state in ("open-team", "claimed-team")]


def unfitted(name: str) -> Json:
    """A card rendered without the size guard (to compare with what is sent)."""
    return card_attachment_content(dict([*state_cards(), *cut_cards()])[name])


if __name__ == "__main__":  # dump them all, e.g. for the renderer harness by hand
    print(json.dumps({"cards": [{"name": n, "card": c} for n, c in every_card()]}))
