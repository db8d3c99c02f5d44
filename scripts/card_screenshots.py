"""Screenshots of the cards for the README, rendered the way the platforms render them, and a check that
no button label is cut at phone width.

Teams: every card goes through Microsoft's own renderer (the `adaptivecards` npm package the renderer
test uses) in headless Chromium, with the same Teams-like host config. Slack has no public renderer:
its pictures are a small HTML rendering of our Block Kit (scripts/slack_preview.py), labelled as such.

    npm ci --prefix tests/renderer        # the renderer (once)
    apt-get install -y chromium           # Debian's Chromium (once)
    .venv/bin/python scripts/card_screenshots.py            # writes docs/cards/*.png

It prints, per card, the button labels the renderer cuts at 360 px (a phone) with each ShowCard opened
in turn, and exits 1 if there is any. Not run in CI (Chromium is heavy); run it when cards change.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a script run from anywhere: the catalogue lives in tests/

from tests.adapters.teams.card_catalogue import every_card  # noqa: E402

RENDERER = ROOT / "tests" / "renderer"
LIBRARY = RENDERER / "node_modules" / "adaptivecards" / "dist"
TEMPLATE = Path(__file__).with_name("card_screenshots.html")
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--allow-file-access-from-files"]
DESKTOP, PHONE = 540, 360  # CSS px: a Teams channel column, a phone
REPORT = re.compile(r'<pre id="report">(.*?)</pre>', re.DOTALL)

Json = dict[str, Any]
# (file name, catalogue card, label under the picture's frame, ShowCards opened for the picture)
TEAMS_SHOTS: list[tuple[str, str, str, list[str]]] = [
    ("teams-open", "open-team", "Teams · open, unclaimed", []),
    ("teams-overdue", "open-overdue-team", "Teams · open, claim overdue", []),
    ("teams-claimed", "claimed-team", "Teams · claimed", []),
    ("teams-escalated", "escalated-claimed-team", "Teams · escalated, claimed", []),
    ("teams-snoozed", "snoozed-team", "Teams · snoozed: Wake now, no Claim", []),
    ("teams-resolved", "resolved-team", "Teams · resolved", []),
    ("teams-long", "long-open", "Teams · 30 answers and a long comment: low answers only, comment cut", []),
    ("teams-more", "open-team", "Teams · the More menu", ["More"]),
    ("teams-details", "open-team", "Teams · Details: every answer, the whole comment", ["Details"]),
    ("teams-resolve-form", "claimed-team", "Teams · the Resolve form", ["Resolve"]),
    ("teams-reassign", "open-team", "Teams · Reassign with Teams' people picker", ["More", "Reassign"]),
    ("teams-digest", "digest-burst", "Teams · a burst digest: overdue first, Claim on each line", []),
]


def showcard_paths(card: Json, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every ShowCard as the list of titles pressed to open it ("More", "Add note")."""
    paths: list[list[str]] = []
    for node in _actions(card.get("body", [])) + card.get("actions", []):
        if node.get("type") == "Action.ShowCard":
            path = (*prefix, node["title"])
            paths.append(list(path))
            paths += showcard_paths(node["card"], path)
    return paths


def _actions(items: list[Json]) -> list[Json]:
    """The actions of the ActionSets among `items` and their containers and columns (not inside ShowCards)."""
    found: list[Json] = []
    for item in items:
        if item.get("type") == "ActionSet":
            found += item["actions"]
        found += _actions(item.get("items", []))
        for column in item.get("columns", []):
            found += _actions(column.get("items", []))
    return found


def page(card: Json, *, width: int, label: str, expand: list[str], check: bool) -> str:
    slots = {
        "ADAPTIVECARDS_CSS": (LIBRARY / "adaptivecards.css").as_uri(),
        "ADAPTIVECARDS_JS": (LIBRARY / "adaptivecards.js").as_uri(),
        "HOST_CONFIG_JS": (RENDERER / "host_config.js").as_uri(),
        "MARKDOWN_IT_JS": (RENDERER / "node_modules/markdown-it/dist/markdown-it.min.js").as_uri(),
        "WIDTH": str(width),
        "LABEL": html.escape(label),
        "CARD_JSON": json.dumps(card).replace("</", "<\\/"),
        "EXPAND_JSON": json.dumps(expand),
        "PATHS_JSON": json.dumps(showcard_paths(card) if check else []),
    }
    text = TEMPLATE.read_text()
    for slot, value in slots.items():
        text = text.replace("{{" + slot + "}}", value)
    return text


def chromium(url: str, *extra: str) -> str:
    done = subprocess.run([CHROMIUM, *FLAGS, *extra, url], capture_output=True, text=True, timeout=120,
                          check=True)
    return done.stdout


def render_report(path: Path, width: int) -> Json:
    dom = chromium(path.as_uri(), f"--window-size={width},900", "--dump-dom")
    found = REPORT.search(dom)
    if found is None or not found.group(1).strip():
        raise SystemExit(f"the renderer page reported nothing for {path.name} (a script error?)")
    report: Json = json.loads(html.unescape(found.group(1)))
    return report


def screenshot(card: Json, out: Path, *, label: str, expand: list[str], work: Path) -> None:
    path = work / f"{out.stem}.html"
    path.write_text(page(card, width=DESKTOP, label=label, expand=expand, check=False))
    height = render_report(path, DESKTOP)["height"]
    chromium(path.as_uri(), f"--window-size={DESKTOP},{height}", f"--screenshot={out}")
    print(f"wrote {out} ({DESKTOP}×{height})")


def phone_check(cards: list[tuple[str, Json]], work: Path) -> dict[str, Json]:
    """Every card at phone width with each of its ShowCards opened in turn: the labels that are cut."""
    cut: dict[str, Json] = {}
    for name, card in cards:
        path = work / f"phone-{name}.html"
        path.write_text(page(card, width=PHONE, label=name, expand=[], check=True))
        if found := render_report(path, PHONE)["cut"]:
            cut[name] = found
    return cut


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "cards")
    parser.add_argument("--no-slack", action="store_true", help="Teams pictures only")
    args = parser.parse_args()
    if not (LIBRARY / "adaptivecards.js").exists():
        raise SystemExit("the renderer is not installed: npm ci --prefix tests/renderer")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    cards = dict(every_card())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for file, name, label, expand in TEAMS_SHOTS:
            screenshot(cards[name], args.out / f"{file}.png", label=label, expand=expand, work=work)
        if not args.no_slack:
            from scripts.slack_preview import write_slack_shots

            write_slack_shots(args.out, work, chromium=chromium, width=DESKTOP)
        cut = phone_check(list(cards.items()), work)
    print(f"phone width ({PHONE} px): {len(cards)} cards checked, every ShowCard opened in turn; "
          f"cut labels: {json.dumps(cut) if cut else 'none'}")
    return 1 if cut else 0


if __name__ == "__main__":
    sys.exit(main())
