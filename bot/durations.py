"""Durations written like `90s`, `15m`, `4h`, `2d`, `1w`, or combined (`1h30m`)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> int:
    """Seconds in `text`; plain integers are seconds. Raises DurationError with a clear message."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned.isdigit():
        return int(cleaned)
    if not cleaned or _PART.sub("", cleaned):
        raise DurationError(f"not a duration: {text!r} (write e.g. 90s, 15m, 4h, 2d, 1h30m)")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: 900 → 15m, 5400 → 1h30m, 0 → 0s."""
    if seconds <= 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
