"""Which team gets an alert: routes match attributes, source and severity; first match by priority.

A default team always exists, so no alert is ever unrouted; alerts that fell through are flagged.
Match syntax (dict, from YAML or `route add location=042 severity>=high`):
`{"location": "042", "source": "typeform", "severity": ">=high", "region": ["north", "south"]}`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain import FeedbackIn, Severity


class RouteError(ValueError):
    pass


@dataclass(frozen=True)
class RouteSpec:
    id: int
    priority: int
    match: Mapping[str, Any]
    team_id: int


@dataclass(frozen=True)
class RoutingDecision:
    team_id: int
    route_id: int | None  # None = fell through to the default team

    @property
    def by_default(self) -> bool:
        return self.route_id is None


_SEVERITY_COMPARE = re.compile(r"^(>=|<=|>|<|=)?\s*(low|normal|high|critical)$")


def _severity_matches(wanted: str, severity: Severity) -> bool:
    found = _SEVERITY_COMPARE.match(wanted.strip().lower())
    if not found:
        return False
    op, name = found.group(1) or "=", found.group(2)
    diff = severity.rank - Severity(name).rank
    return {"=": diff == 0, ">=": diff >= 0, "<=": diff <= 0, ">": diff > 0, "<": diff < 0}[op]


def _value_matches(wanted: Any, actual: str | None) -> bool:
    if actual is None:
        return False
    if isinstance(wanted, list | tuple):
        return any(_value_matches(w, actual) for w in wanted)
    text = str(wanted)
    if text == "*":
        return True
    return text.casefold() == actual.casefold()


def route_matches(match: Mapping[str, Any], *, feedback: FeedbackIn, severity: Severity, source: str) -> bool:
    for key, wanted in match.items():
        if key == "severity":
            options = wanted if isinstance(wanted, list | tuple) else [wanted]
            if not any(_severity_matches(str(w), severity) for w in options):
                return False
        elif key == "source":
            if not _value_matches(wanted, source):
                return False
        elif key == "contact_requested":
            if str(wanted).lower() != str(feedback.contact_requested).lower():
                return False
        elif not _value_matches(wanted, feedback.attributes.get(key.removeprefix("attr."))):
            return False
    return True


def choose_team(
    *,
    routes: Sequence[RouteSpec],
    default_team_id: int,
    feedback: FeedbackIn,
    severity: Severity,
    source: str,
) -> RoutingDecision:
    for route in sorted(routes, key=lambda r: (r.priority, r.id)):
        if route_matches(route.match, feedback=feedback, severity=severity, source=source):
            return RoutingDecision(team_id=route.team_id, route_id=route.id)
    return RoutingDecision(team_id=default_team_id, route_id=None)


def parse_match(text: str) -> dict[str, Any]:
    """`location=042 severity>=high region=north,south` → a match dict (for chat commands)."""
    match: dict[str, Any] = {}
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise RouteError(f"cannot read {text!r}: {exc}") from exc
    for part in parts:
        found = re.match(r"^([A-Za-z_][\w.\-]*)\s*(>=|<=|=|>|<)\s*(.+)$", part)
        if not found:
            raise RouteError(f"expected key=value (or severity>=high), got {part!r}")
        key, op, value = found.groups()
        if key == "severity":
            if not _SEVERITY_COMPARE.match(f"{op}{value}"):
                raise RouteError(f"severity must be low|normal|high|critical, got {value!r}")
            match[key] = value if op == "=" else f"{op}{value}"
        elif op != "=":
            raise RouteError(f"only severity can be compared with {op}; use {key}={value}")
        else:
            match[key] = value.split(",") if "," in value else value
    if not match:
        raise RouteError("a route needs at least one condition, e.g. location=042")
    return match


def format_match(match: Mapping[str, Any]) -> str:
    parts = []
    for key, value in match.items():
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        sep = "" if key == "severity" and text[:1] in "<>=" else "="
        parts.append(f"{key}{sep}{text}")
    return " ".join(parts)
