"""A systemic issue on Teams: the parent card's headline, its children (≤ 15 on the face, each opening its
dashboard page, then "and N more"; the rest under Details), the Resolve form's children toggle (on
SYS cards only, on by default); a child's "Part of SYS-3" and "Served by". Every card passes the
official 1.5 schema, Microsoft's renderer (no active Markdown from customer text) and Teams' size."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.teams import translate
from adapters.teams.card_size import CARD_BUDGET, card_content, fit_card, utf16_size
from adapters.teams.render import card_attachment_content
from bot.action_ids import Arg
from bot.actions.forms import FALSE, TRUE
from bot.cards.model import MAX_LEVEL, card_at_level
from tests.adapters.systemic_cards import PARENT_KEY, child_card, parent_card
from tests.adapters.teams.card_schema import schema_errors, walk
from tests.adapters.teams.test_official_renderer import run_renderer

Json = dict[str, Any]
TEAMS_HEADLINE = ("5 detractors mention delivery late at location 042 in the last 2 h "
                  "\\(baseline 0.2 per 2 h\\) — about 125 customers affected \\(1 in 25 complain\\)")


def texts(card: Json | list[Json]) -> list[str]:
    out = [n["text"] for n in walk(card) if n.get("type") == "TextBlock"]
    facts = [f for n in walk(card) if n.get("type") == "FactSet" for f in n["facts"]]
    return out + [f[key] for f in facts for key in ("title", "value")]


def face(card: Json) -> list[Json]:
    """The card's body without its ShowCards (what shows before any button is pressed)."""
    return [n for n in card["body"] if n.get("type") != "ActionSet"]


def show_card(card: Json, title: str) -> Json:
    found: Json = next(a["card"] for a in walk(card)
                       if a.get("type") == "Action.ShowCard" and a["title"] == title)
    return found


def toggles(card: Json) -> list[Json]:
    return [n for n in walk(card) if n.get("type") == "Input.Toggle"]


def test_the_parent_card_says_what_how_many_where_against_what_baseline_and_how_many_affected() -> None:
    content = card_content(parent_card())
    shown = texts(face(content))
    assert f"📈 {TEAMS_HEADLINE}" in shown  # no ** from the summary: it is escaped whole
    assert shown[0].startswith("**SYS\\-3** · Open") and "Systemic issue · 20 alerts" in shown[1]
    assert "20 alerts in this issue" in shown
    assert not schema_errors(content)


def test_the_face_lists_fifteen_children_each_opening_its_page_then_says_how_many_more() -> None:
    content = card_content(parent_card(20))
    rows = [n for n in face(content) if n.get("selectAction")]
    assert [r["selectAction"]["url"] for r in rows] == [
        f"https://hotloop.example/app/alerts/HA-{n}" for n in range(1, 16)]
    assert all(r["selectAction"]["type"] == "Action.OpenUrl" for r in rows)
    assert "… and 5 more: Details lists them all" in texts(face(content))
    details = texts(show_card(content, "Details"))  # the rest, as many as Teams' size allows, counted
    listed = fit_card(parent_card(20)).children_listed_max
    assert 15 < listed <= 20
    assert [t for t in details if t.startswith("🟠 HA")] == [f"🟠 HA\\-{n}" for n in range(16, listed + 1)]
    if listed < 20:
        assert f"… and {20 - listed} more \\(the dashboard lists every alert\\)" in details
    without_url = card_content(parent_card(3, public_url=""))
    assert not [n for n in walk(without_url) if n.get("selectAction")]  # the key, plain: no link
    assert any(t.startswith("🟠 **HA\\-3**") for t in texts(without_url))


def test_customer_words_stay_escaped_in_every_child_line() -> None:
    content = card_content(parent_card(20))
    joined = "\n".join(texts(content))
    assert "<!channel>" not in joined and "[x](" not in joined and "<@U123>" not in joined
    assert "\\<\\!channel\\>" in joined and "\\[x\\]" in joined and "\\*\\*b\\*\\*" in joined
    assert "\\<@U123\\>" in joined and "www\\.evil\\.com" in joined and "\\&" in joined
    assert "https://e.x" not in joined and "https:\u200b//e\\.x" in joined  # no autolink


def test_every_systemic_card_passes_the_official_renderer_with_no_active_markdown() -> None:
    big = parent_card(120, long=True)
    evil = child_card(employee="[x](https://evil.example) <at>Boss</at>")
    cards = [("parent-20", card_content(parent_card(20))),
             ("parent-no-url", card_content(parent_card(3, public_url=""))),
             ("parent-120-long", card_content(big)), ("child", card_content(child_card())),
             ("child-evil-served-by", card_content(evil)),
             *((f"parent-level{n}", card_content(card_at_level(big, n))) for n in range(1, MAX_LEVEL + 1))]
    cards += [(f"{name}-{title}", show_card(card, title)) for name, card in cards[:3]
              for title in ("Details", "Resolve")]
    report = run_renderer(cards)
    assert report["checked"] == len(cards)
    failing = {c["name"]: c for c in report["cards"] if c["warnings"] or c["errors"] or c["markup"]}
    assert not failing, str(failing)[:3000]
    assert all(not schema_errors(card) for _, card in cards)


def test_a_huge_issue_fits_teams_size_and_says_what_it_left_out() -> None:
    card = parent_card(120, long=True)
    assert utf16_size(card_attachment_content(card)) > CARD_BUDGET  # too big as it is: must be fitted
    content = card_content(card)
    assert utf16_size(content) <= CARD_BUDGET
    fitted = fit_card(card)
    assert 0 < fitted.children_listed_max < 120 and fitted.children_max == 15
    joined = "\n".join(texts(content))
    assert "… and 105 more: Details lists them all" in joined
    assert f"… and {120 - fitted.children_listed_max} more \\(the dashboard lists every alert\\)" in joined
    assert TEAMS_HEADLINE in joined and toggles(content), "the summary and the Resolve form stay"


def test_the_resolve_form_has_the_children_toggle_only_on_a_systemic_case_on_by_default() -> None:
    resolve = show_card(card_content(parent_card(4)), "Resolve")
    [toggle] = [t for t in toggles(resolve) if t["id"] == "resolve.children"]
    assert toggle["value"] == TRUE and (toggle["valueOn"], toggle["valueOff"]) == (TRUE, FALSE)
    assert toggle["title"] == "Also resolve its 4 open alerts"
    follow_up = next(t for t in toggles(card_content(parent_card(4))) if t["id"] == "resolve.follow_up")
    assert follow_up["value"] == FALSE  # only the children box starts on
    for ordinary in (card_content(child_card()), card_content(replace(child_card(), part_of=()))):
        assert "resolve.children" not in {t["id"] for t in toggles(ordinary)}
    done = card_content(parent_card(4, status="resolved"))  # every child already resolved: nothing to ask
    assert "resolve.children" not in {t["id"] for t in toggles(done)}


def test_the_toggle_reads_back_as_the_children_argument() -> None:
    data = {"alert": PARENT_KEY, "option": "", "resolve.outcome": "recovered", "resolve.children": TRUE}
    click = translate.click_from_invoke({"action": {"type": "Action.Execute", "verb": "alert.resolve",
                                                    "data": data}})
    assert click.args[Arg.CHILDREN] == TRUE
    data["resolve.children"] = FALSE
    click = translate.click_from_invoke({"action": {"type": "Action.Execute", "verb": "alert.resolve",
                                                    "data": data}})
    assert click.args[Arg.CHILDREN] == FALSE


def test_a_child_card_says_part_of_the_issue_and_who_served_the_customer() -> None:
    content = card_content(child_card())
    shown = texts(face(content))
    assert "🔗 Part of **SYS\\-3**" in shown
    facts = next(n for n in walk(content) if n.get("type") == "FactSet")["facts"]
    assert facts[0] == {"title": "Served by", "value": "Jessica C"}
    evil = card_content(child_card(employee="<at>Boss</at> **x** www.evil.com"))
    facts = next(n for n in walk(evil) if n.get("type") == "FactSet")["facts"]
    assert facts[0]["value"] == "\\<at\\>Boss\\</at\\> \\*\\*x\\*\\* www\\.evil\\.com"
    assert not any("Part of" in t for t in texts(card_content(replace(child_card(), part_of=()))))
