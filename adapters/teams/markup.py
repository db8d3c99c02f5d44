"""The small pieces every Teams card is built from: inert customer text and `TextBlock`s.

Customer text goes through `escape_markdown` before it reaches any `TextBlock` (Teams renders a subset
of Markdown there: links, emphasis, lists, `<at>` mentions).
"""

from __future__ import annotations

import re
from typing import Any

Json = dict[str, Any]

_MARKDOWN_CHARS = frozenset("\\*_`[]()#>-+!|~<>&{}")
_ORDERED_LIST = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_DOMAIN_DOT = re.compile(r"(?<=[^\W_])\.(?=[^\W\d_])")  # "evil.com", "a@b.co": what linkifiers link
ANSWER_TEXT_MAX = 300  # characters of an answer's question or value on a card


def escape_markdown(text: str) -> str:
    """Make arbitrary text inert in a Teams `TextBlock`: no links, emphasis, lists, headings, HTML or `<at>`.

    Markdown punctuation is backslash-escaped (CommonMark rendering shows it unchanged), line starts
    like `1.` lose their list meaning, `://` gets a zero-width space and a dot inside a word is escaped
    ("evil\\.com", "a@b\\.co") so neither URLs, bare domains nor e-mail addresses are auto-linked.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_CHARS else ch for ch in text)
    escaped = _DOMAIN_DOT.sub(r"\\.", escaped)
    escaped = _ORDERED_LIST.sub(r"\1\\.", escaped)
    return escaped.replace("://", ":\u200b//").replace("\n", "\n\n")


def text_block(text: str, **extra: Any) -> Json:
    """A wrapping `TextBlock`; `text` is Markdown the caller built (customer parts already escaped)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_block(question: str, value: str, *, is_low: bool) -> Json:
    """One answer: "Question: **value**"; a low one is marked in words and in the attention colour."""
    asked, said = (escape_markdown(cut(part, ANSWER_TEXT_MAX)) for part in (question, value))
    line = f"{asked}: **{said}**"
    if is_low:
        return text_block(f"⚠ {line} (low)", color="attention", spacing="Small")
    return text_block(line, spacing="Small")


def fact_set(facts: list[tuple[str, str]]) -> Json:
    rows = [{"title": escape_markdown(title), "value": escape_markdown(value)} for title, value in facts]
    return {"type": "FactSet", "facts": rows}
