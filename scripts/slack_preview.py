"""A small HTML drawing of the Block Kit hotloop sends to Slack, for the README's pictures.

Slack has no public renderer, so this is NOT Slack's: it draws the block types hotloop uses (header,
section with text, fields and an accessory button, context, actions with buttons and a select, divider)
and the mrkdwn it writes (*bold*, _italic_, ~strike~, `code`, > quotes, :emoji: it uses), close to
Slack's look. Every picture says so in its label. Used by scripts/card_screenshots.py.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.slack.render import card_message, digest_message
from bot.cards.views import burst_digest
from tests.adapters.teams.card_catalogue import STATES, burst_cards, long_card
from tests.factories import sample_card

Json = dict[str, Any]
EMOJI = {"stopwatch": "⏱️", "bust_in_silhouette": "👤", "warning": "⚠️", "rotating_light": "🚨",
         "zzz": "💤", "white_check_mark": "✅", "arrow_up": "⬆️", "alarm_clock": "⏰", "memo": "📝"}
LABEL = "Slack · our Block Kit drawn by scripts/slack_preview.py (an approximation, not Slack's renderer)"
STYLE = """
body { margin: 0; background: #f8f8f8; font: 15px/1.46 'Liberation Sans', Arial, sans-serif; color: #1d1c1d; }
#frame { width: %dpx; padding: 12px; box-sizing: border-box; }
.label { font-size: 12px; color: #616061; margin: 0 0 6px 2px; }
.msg { background: #fff; border: 1px solid #e2e2e2; border-radius: 8px; padding: 12px 16px; }
.who { font-weight: 700; margin-bottom: 4px; }
.who span { font-weight: 400; color: #616061; font-size: 12px; }
.header { font-size: 18px; font-weight: 900; margin: 4px 0 8px; }
.section { display: flex; gap: 12px; margin: 6px 0; } .section .text { flex: 1; white-space: pre-wrap; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 16px; }
.context { font-size: 12px; color: #616061; margin: 6px 0; } .context span + span:before { content: "  ·  "; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0 4px; }
.btn { border: 1px solid #c7c7c7; border-radius: 4px; padding: 3px 12px; font-weight: 700; font-size: 13px;
       background: #fff; height: 28px; box-sizing: border-box; white-space: nowrap; }
.btn.primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.btn.danger { color: #e01e5a; border-color: #e01e5a; }
.select { font-weight: 400; color: #616061; } .select:after { content: " ▾"; }
blockquote { margin: 2px 0; padding-left: 10px; border-left: 4px solid #ddd; }
code { font: 12px monospace; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px; }
hr { border: 0; border-top: 1px solid #e2e2e2; margin: 10px 0; }
"""


def mrkdwn(text: str) -> str:
    """Slack mrkdwn → HTML (entities as Slack sends them: &amp; &lt; &gt; stay escaped)."""
    out = text.replace('"', "&quot;")
    out = re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), out)
    out = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", out)
    out = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", out)
    out = re.sub(r"(?<![\w~])~([^~\n]+)~(?![\w~])", r"<s>\1</s>", out)
    lines = [f"<blockquote>{line[2:]}</blockquote>" if line.startswith("> ") else line  # ours: customer
             for line in out.split("\n")]                                                # ">" is &gt;
    return "<br>".join(lines).replace("</blockquote><br>", "</blockquote>")


def _text(obj: Json) -> str:
    return mrkdwn(obj["text"]) if obj.get("type") == "mrkdwn" else html.escape(obj["text"])


def _element(element: Json) -> str:
    if element["type"] == "button":
        return f'<span class="btn {element.get("style", "")}">{_text(element["text"])}</span>'
    placeholder = element.get("placeholder") or {"type": "plain_text", "text": "Choose…"}
    return f'<span class="btn select">{_text(placeholder)}</span>'


def _block(block: Json) -> str:
    kind = block["type"]
    if kind == "header":
        return f'<div class="header">{_text(block["text"])}</div>'
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        spans = "".join(f"<span>{_text(e)}</span>" for e in block["elements"] if "text" in e)
        return f'<div class="context">{spans}</div>'
    if kind == "actions":
        return f'<div class="actions">{"".join(_element(e) for e in block["elements"])}</div>'
    text = f'<div class="text">{_text(block["text"])}</div>' if "text" in block else ""
    if "fields" in block:
        text += '<div class="fields">' + "".join(f"<div>{_text(f)}</div>" for f in block["fields"]) + "</div>"
    accessory = _element(block["accessory"]) if "accessory" in block else ""
    return f'<div class="section"><div style="flex:1">{text}</div>{accessory}</div>'


def page(message: Json, *, width: int, label: str) -> str:
    blocks = "".join(_block(b) for b in message["blocks"])
    who = '<div class="who">hotloop <span>APP  10:00</span></div>'
    return (f'<!doctype html><html><head><meta charset="utf-8"><style>{STYLE % width}</style></head><body>'
            f'<div id="frame"><div class="label">{html.escape(label)}</div><div class="msg">{who}{blocks}'
            f'</div></div></body></html>')


def slack_shots() -> list[tuple[str, str, Json]]:
    """(file, label, Slack message) for the README."""
    shots = [("slack-open", "open", card_message(sample_card())),
             ("slack-claimed", "claimed", card_message(sample_card(**STATES["claimed"]))),
             ("slack-snoozed", "snoozed", card_message(sample_card(**STATES["snoozed"]))),
             ("slack-resolved", "resolved", card_message(sample_card(**STATES["resolved"]))),
             ("slack-long", "30 answers, a long comment", card_message(long_card())),
             ("slack-digest", "a burst digest", digest_message(burst_digest(burst_cards(), team_name="042")))]
    return [(file, f"{LABEL} · {what}", message) for file, what, message in shots]


def write_slack_shots(out: Path, work: Path, *, chromium: Callable[..., str], width: int) -> None:
    for file, label, message in slack_shots():
        path = work / f"{file}.html"
        path.write_text(page(message, width=width, label=label))
        height = _height(chromium, path, width)
        chromium(path.as_uri(), f"--window-size={width},{height}", f"--screenshot={out / f'{file}.png'}")
        print(f"wrote {out / f'{file}.png'} ({width}×{height})")


def _height(chromium: Callable[..., str], path: Path, width: int) -> int:
    probe = path.with_suffix(".probe.html")
    script = ("<script>document.body.insertAdjacentHTML('beforeend', '<pre id=h>' + "
              "document.getElementById('frame').scrollHeight + '</pre>')</script>")
    probe.write_text(path.read_text().replace("</body>", script + "</body>"))
    dom = chromium(probe.as_uri(), f"--window-size={width},900", "--dump-dom")
    found = re.search(r"<pre id=\"h\">(\d+)</pre>", dom)
    return int(found.group(1)) if found else 900
