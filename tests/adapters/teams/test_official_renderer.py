"""Issue 13 §7: every Adaptive Card hotloop emits passes Microsoft's own renderer library.

tests/renderer/validate.js parses each card with the `adaptivecards` npm package under a Teams-like host
config (at most 5 actions per ActionSet, inline ShowCards) and reports its parse warnings and validation
errors (TooManyActions, DuplicateId, unknown elements…), plus any TextBlock whose Markdown, rendered by
markdown-it with link detection, makes a link, picture, heading, list, code or HTML. .ci/run installs
the packages (`npm ci --prefix tests/renderer`); without Node or them this test skips, saying why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.teams.card_catalogue import every_card, every_form

Json = dict[str, Any]
HARNESS = Path(__file__).resolve().parents[2] / "renderer"
PACKAGES = ("adaptivecards", "markdown-it")


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed: the official Adaptive Cards renderer check cannot run")
    missing = [p for p in PACKAGES if not (HARNESS / "node_modules" / p / "package.json").exists()]
    if missing:
        pytest.skip(f"npm packages {missing} are not installed: run `npm ci --prefix tests/renderer`")
    return found


def run_renderer(cards: list[tuple[str, Json]]) -> Json:
    payload = json.dumps({"cards": [{"name": name, "card": card} for name, card in cards]})
    done = subprocess.run([node(), str(HARNESS / "validate.js")], input=payload, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report: Json = json.loads(done.stdout)
    return report


@cache
def every_card_report() -> Json:
    return run_renderer([*every_card(), *every_form()])


def test_every_card_passes_the_official_renderer_with_no_warning() -> None:
    cards = [*every_card(), *every_form()]
    report = every_card_report()
    print(f"adaptivecards {report['package']}: {report['checked']} cards checked, {report['warnings']} parse "
          f"warnings, {report['errors']} validation errors, {report['markup']} active Markdown")
    assert report["checked"] == len(cards) >= 40
    failing = {c["name"]: c for c in report["cards"] if c["warnings"] or c["errors"] or c["markup"]}
    assert not failing, json.dumps(failing, indent=1, ensure_ascii=False)[:4000]
    assert (report["warnings"], report["errors"], report["markup"]) == (0, 0, 0)


def test_the_renderer_check_catches_what_teams_would_drop_or_link() -> None:
    """The check can fail: a card with the faults issue 13 found is reported, each by the renderer."""
    bad = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "visit www.evil.com or [here](https://evil.example)", "wrap": True},
            {"type": "Input.Text", "id": "note", "label": "Note"},
            {"type": "Input.Text", "id": "note", "label": "Note again"},
            {"type": "Input.ChoiceSet", "id": "user", "label": "Assign to", "choices": []},
            {"type": "Bogus"},
        ],
        "actions": [{"type": "Action.Execute", "title": f"A{i}", "verb": "alert.claim"} for i in range(7)],
    }
    report = run_renderer([("bad", bad)])
    card = report["cards"][0]
    assert {e["event"] for e in card["errors"]} >= {"TooManyActions", "DuplicateId", "CollectionCantBeEmpty"}
    assert {e["event"] for e in card["warnings"]} == {"UnknownElementType"}
    assert [e["event"] for e in card["markup"]] == ["ActiveMarkdown"]
