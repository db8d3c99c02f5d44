"""Text for Slack mrkdwn: escaping, cutting within Block Kit limits, quoting. Pure functions, no I/O.

Customer text goes into mrkdwn text objects marked `"verbatim": true` (`mrkdwn_object`), so Slack does
not turn its bare URLs, e-mail addresses, channel names or `@here` words into links or mentions, and it
is escaped (`& < >`), so it cannot write `<!channel>`, `<@U…>` or `<url|label>` itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SECTION_MAX = 3000
ELLIPSIS = "…"

_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
MAX_BLOCKS = 50


def escape_mrkdwn(text: str) -> str:
    """Escape the three control characters of Slack mrkdwn: no mentions, links or dates survive."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending in "…"; never splits an `&amp;`-style entity."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - len(ELLIPSIS)])
    return cut + ELLIPSIS


def mrkdwn_object(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    """A mrkdwn text object Slack renders as written: no auto-linking, no parsing of bare mentions."""
    return {"type": "mrkdwn", "text": truncate(text, limit), "verbatim": True}


def quote(text: str) -> str:
    """Escaped block quote: every line prefixed with "> " (Slack's quote marker, written unescaped)."""
    return "\n".join(f"> {escape_mrkdwn(line)}" for line in text.splitlines() or [""])


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """Join lines; when too long, keep what fits and end with "… +N more"."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for line in lines:
        rest = len(lines) - len(kept) - 1
        tail = len(f"\n{ELLIPSIS} +{rest} more")
        if used + len(line) + 1 + tail > limit:
            break
        kept.append(line)
        used += len(line) + 1
    kept.append(f"{ELLIPSIS} +{len(lines) - len(kept)} more")
    return truncate("\n".join(kept), limit)


def chunks(text: str, limit: int = SECTION_MAX) -> list[str]:
    """Escaped mrkdwn in pieces of at most `limit` characters, never splitting an entity such as `&amp;`
    (for a long line that needs several section blocks)."""
    out: list[str] = []
    while len(text) > limit:
        cut = _PARTIAL_ENTITY.sub("", text[:limit])
        newline = cut.rfind("\n")
        if newline > limit // 2:  # rather at a line break
            cut = cut[: newline + 1]
        out.append(cut)
        text = text[len(cut) :]
    return [*out, text] if text or not out else out


def _mention(mention: str | None) -> str:
    if mention in ("channel", "here"):
        return f"<!{mention}> "
    if mention and _USER_ID.match(mention):
        return f"<@{mention}> "
    return ""


def thread_line(text: str, mention: str | None = None) -> str:
    """One escaped mrkdwn line; `mention` "channel"/"here" → `<!channel>`/`<!here>`, a user id → `<@U…>`.

    Anything else given as `mention` is ignored (never pasted raw into mrkdwn).
    """
    return truncate(_mention(mention) + escape_mrkdwn(text), SECTION_MAX)


def reply_message(text: str, mention: str | None = None) -> dict[str, Any]:
    """A thread reply: the escaped line in verbatim sections (a long line takes several, nothing is
    cut below 50 sections), and its start as the notification `text`. The mention stays live."""
    line = _mention(mention) + escape_mrkdwn(text)
    message: dict[str, Any] = {"text": truncate(line, SECTION_MAX)}
    if line.strip():
        parts = chunks(line)[:MAX_BLOCKS]
        message["blocks"] = [
            {"type": "section", "block_id": f"hl.reply.{n}", "text": mrkdwn_object(part)}
            for n, part in enumerate(parts)
        ]
    return message
