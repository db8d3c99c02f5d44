"""The words of a systemic issue: "5 detractors mention *delivery late* at location 042 in the last 2 h …"."""

from __future__ import annotations

import re

from bot.systemic.topics import GROUP_PREFIX

COMPLAINT_RATIO = 25  # only one customer in 25 complains (the problem statement, 001)

GROUP_LABELS = {
    "legal": "legal threats",
    "cancel": "cancellations",
    "churn": "“never again”",
    "refund": "refund requests",
    "safety": "safety issues",
    "rude": "rudeness",
    "discrimination": "discrimination or harassment",
    "fraud": "fraud or scam claims",
    "disgust": "disgust",
}
# Card text is chat markup: values from customers or sources must not open bold/italic/code/links.
_MARKUP = re.compile(r"[*_~`<>|\[\]]")
_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_window(seconds: int) -> str:
    """7200 → "2 h", 1800 → "30 min", 86400 → "1 d", 5400 → "1 h 30 min"."""
    if seconds <= 0:
        return "0 s"
    parts: list[str] = []
    for unit, size in _UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts)


def format_rate(value: float) -> str:
    """A baseline count for people: 0.2, 0.0015 → 0.002, 3.4, 12."""
    if value >= 10:
        return str(round(value))
    if value >= 1:
        return f"{value:.1f}".removesuffix(".0")
    if value <= 0:
        return "0"
    return f"{float(f'{value:.1g}'):g}" if value < 0.01 else f"{round(value, 2):g}"


def _plain(value: str) -> str:
    return " ".join(_MARKUP.sub(" ", value).split())


def _topic_label(value: str) -> str:
    if value.startswith(GROUP_PREFIX):
        name = value.removeprefix(GROUP_PREFIX)
        return GROUP_LABELS.get(name, f"“{_plain(name)}”")
    return f"“{_plain(value)}”"


def label(dimension: str, value: str) -> str:
    """A value for people: ("location", "042") → "location 042", ("topic", "late x") → "“late x”"."""
    if dimension == "topic":
        return _topic_label(value)
    return f"{dimension} {_plain(value)}"


def _what(dimension: str, value: str) -> str:
    """The middle of the summary: "mention *delivery late*", "at location 042", "served by Anna"."""
    plain = _plain(value)
    if dimension == "topic":
        shown = _topic_label(value).strip("“”")
        return f"mention *{shown}*"
    phrases = {
        "location": f"at location {plain}",
        "region": f"in region {plain}",
        "product": f"about product {plain}",
        "employee": f"served by {plain}",
        "source": f"from {plain}",
    }
    return phrases.get(dimension, f"with {dimension} {plain}")


def summary(
    *,
    count: int,
    detractors: bool,
    dimension: str,
    value: str,
    location: str | None,
    window_seconds: int,
    baseline_per_window: float | None,
) -> str:
    """One sentence for the parent card; `detractors` = every alert in it came from a detractor."""
    who = ("detractor" if detractors else "customer") + ("" if count == 1 else "s")
    what = _what(dimension, value)
    if dimension == "topic" and count == 1:
        what = what.replace("mention ", "mentions ", 1)
    where = f" at location {_plain(location)}" if location and dimension != "location" else ""
    window = format_window(window_seconds)
    baseline = (
        "no history yet"
        if baseline_per_window is None
        else f"baseline {format_rate(baseline_per_window)} per {window}"
    )
    affected = count * COMPLAINT_RATIO
    return (
        f"{count} {who} {what}{where} in the last {window} ({baseline}) — "
        f"about {affected} customers affected (1 in {COMPLAINT_RATIO} complain)"
    )
