"""A systemic issue on Slack: the parent card's headline, its children (≤ 15 on the face, with links,
then "and N more"), Details, the children box of its Resolve form; a child's "Part of SYS-3" and
"Served by"; every customer word escaped and inert, every block valid."""

from __future__ import annotations

import re
from dataclasses import replace

from adapters.slack import modals
from adapters.slack.render import card_blocks, card_message
from bot.action_ids import ActionId
from bot.actions.forms import TRUE
from bot.actions.systemic_form import resolve_form_with
from bot.actions.table import form_for
from bot.cards.model import card_at_level
from tests.adapters.slack.blockkit import BARE_AMPERSAND, assert_valid_blocks, mrkdwn_texts
from tests.adapters.systemic_cards import HEADLINE, PARENT_KEY, child_card, parent_card

OUR_LINK = re.compile(r"<(https://hotloop\.example/app/alerts/HA-\d+|https://slack\.com/archives/C0MGR/p\d+)"
                      r"\|HA-\d+>")


def face_text(blocks: list[dict[str, object]]) -> str:
    return "\n".join(mrkdwn_texts(blocks))


def test_the_parent_card_says_what_how_many_where_against_what_baseline_and_how_many_affected() -> None:
    message = card_message(parent_card())
    face = face_text(message["blocks"])
    assert HEADLINE in face  # *delivery late* stays bold: hotloop's own markup around cleaned values
    assert "5 detractors mention *delivery late* at location 042 in the last 2 h" in face
    assert "(baseline 0.2 per 2 h)" in face and "about 125 customers affected (1 in 25 complain)" in face
    assert message["blocks"][0]["text"]["text"].startswith(f"🔴 {PARENT_KEY} · Open")
    assert "Systemic issue · 20 alerts" in face and "*20 alerts in this issue*" in face
    assert PARENT_KEY in message["text"] and "delivery late" in message["text"]
    assert_valid_blocks(message["blocks"])


def test_the_face_lists_fifteen_children_with_links_then_says_how_many_more() -> None:
    face = face_text(card_blocks(parent_card(20)))
    linked = re.findall(r"<https://hotloop\.example/app/alerts/(HA-\d+)\|\1>", face)
    assert linked == [f"HA-{n}" for n in range(1, 16)]
    assert "HA-16" not in face
    assert "… and 5 more: Details lists them all" in face
    few = face_text(card_blocks(parent_card(3)))
    assert re.findall(r"\|(HA-\d+)>", few) == ["HA-1", "HA-2", "HA-3"] and "more" not in few


def test_without_a_public_url_a_child_links_to_its_own_card_message_or_to_nothing() -> None:
    card = parent_card(3, public_url="", slack_places={"HA-1": ("C0MGR", "1712345678.000100"),
                                                       "HA-2": ("not a channel", "1.2")})
    face = face_text(card_blocks(card))
    assert "<https://slack.com/archives/C0MGR/p1712345678000100|HA-1>" in face
    assert "*HA-2*" in face and "*HA-3*" in face  # no usable place: the key, bold, no link
    assert "hotloop.example" not in face


def test_customer_words_in_the_children_never_ping_link_or_format() -> None:
    card = parent_card(20)
    message = card_message(card)
    texts = [*mrkdwn_texts(message["blocks"]), *mrkdwn_texts(modals.details_view(card)["blocks"])]
    for text in texts:
        assert "<" not in OUR_LINK.sub("", text), text  # the only links are hotloop's own
        assert not BARE_AMPERSAND.search(text), text
    joined = "\n".join(texts)
    assert "&lt;!channel&gt;" in joined and "&lt;@U123&gt;" in joined and "<!channel>" not in joined


def test_details_lists_every_child_up_to_a_hundred_then_points_to_the_dashboard() -> None:
    details = modals.details_view(parent_card(20))
    text = face_text(details["blocks"])
    assert HEADLINE in text
    assert all(f"|HA-{n}>" in text for n in range(1, 21))
    assert_valid_blocks(details["blocks"])
    big = face_text(modals.details_view(parent_card(130))["blocks"])
    assert "|HA-100>" in big and "|HA-101>" not in big
    assert "… and 30 more (the dashboard lists every alert)" in big
    assert "… and 115 more: Details lists them all" in face_text(card_blocks(parent_card(130)))


def test_the_card_stays_valid_and_smaller_at_every_rendering_level() -> None:
    card = parent_card(40, long=True)
    sizes = []
    for level in range(3):
        blocks = card_blocks(card_at_level(card, level))
        assert_valid_blocks(blocks)
        assert HEADLINE in face_text(blocks) or level == 2
        sizes.append(len(str(blocks)))
    assert sizes[0] > sizes[1] > sizes[2]
    assert "… and 40 more" in face_text(card_blocks(card_at_level(card, 2)))


def test_a_child_card_says_part_of_the_issue_and_who_served_the_customer() -> None:
    blocks = card_blocks(child_card())
    lead = blocks[1]["text"]["text"]
    assert ":link: Part of *SYS-3*" in lead
    facts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert facts[0] == "*Served by:* Jessica C"
    assert_valid_blocks(blocks)
    plain = card_blocks(replace(child_card(), part_of=()))
    assert "Part of" not in face_text(plain)


def test_served_by_is_escaped() -> None:
    blocks = card_blocks(child_card(employee="<!here> *Boss* <@U9>"))
    facts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert facts[0] == "*Served by:* &lt;!here&gt; *Boss* &lt;@U9&gt;"


def test_the_resolve_form_asks_about_the_children_only_on_a_systemic_case_checked() -> None:
    base = form_for(ActionId.RESOLVE)
    assert base is not None
    ordinary = modals.form_view(ActionId.RESOLVE, "HA-1", "meta", form=resolve_form_with(base, 0))
    assert "children" not in {b.get("block_id") for b in ordinary["blocks"]}
    systemic = modals.form_view(ActionId.RESOLVE, PARENT_KEY, "meta", form=resolve_form_with(base, 3))
    [box] = [b for b in systemic["blocks"] if b.get("block_id") == "children"]
    element = box["element"]
    assert element["type"] == "checkboxes" and box["optional"] is True
    assert element["options"][0]["text"]["text"] == "Also resolve its 3 open alerts"
    assert element["initial_options"] == element["options"] and element["options"][0]["value"] == TRUE
    one = modals.form_view(ActionId.RESOLVE, PARENT_KEY, "meta", form=resolve_form_with(base, 1))
    assert "Also resolve its 1 open alert" in str(one["blocks"]) and "1 open alerts" not in str(one["blocks"])
    follow_up = next(b for b in systemic["blocks"] if b.get("block_id") == "follow_up")
    assert "initial_options" not in follow_up["element"]  # only the children box starts checked
