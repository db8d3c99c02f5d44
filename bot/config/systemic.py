"""A team's systemic-spike settings: HOTLOOP_SYSTEMIC_* with the team's own `systemic:` block on top.

The block is what `Team.systemic` stores, the YAML `teams: - systemic: {…}` holds and
`/hotloop systemic set` writes: {window: "2h", min_count: 3, sensitivity: 0.01, enabled: true}, each key
optional (a key left out follows the environment). The snapshot (bot/config/snapshot.py) gives each team
its effective `SystemicSettings`; bot/systemic/settings.py re-exports `systemic_settings` for the detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from bot.durations import DurationError, format_duration, parse_duration
from bot.settings import Settings

__all__ = [
    "SystemicConfigError", "SystemicDoc", "SystemicSettings", "defaults", "describe", "merged",
    "parse_systemic", "systemic_settings", "window_seconds",
]

log = structlog.get_logger("hotloop.systemic")

MIN_WINDOW = 60  # seconds: shorter windows hold too few alerts to tell a spike from chance
MAX_WINDOW = 7 * 86400  # the baseline is 28 days: a window must stay well inside it
MAX_MIN_COUNT = 10_000


@dataclass(frozen=True)
class SystemicSettings:
    """A team's effective detection settings (bot/systemic/detect.py reads them)."""

    window_seconds: int = 7200
    min_count: int = 3
    sensitivity: float = 0.01
    enabled: bool = True


class SystemicConfigError(ValueError):
    """A `systemic:` block that does not validate; the message names the key."""


def window_seconds(value: Any) -> int:
    """A window as seconds: "2h", "90m", or plain seconds; between 1m and 7d."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r} (write e.g. 30m, 2h)")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
    else:
        raise ValueError(f"not a duration: {value!r} (write e.g. 30m, 2h)")
    if not MIN_WINDOW <= seconds <= MAX_WINDOW:
        raise ValueError(f"the window must be between 1m and 7d, got {format_duration(seconds)}")
    return seconds


Window = Annotated[int, BeforeValidator(window_seconds), PlainSerializer(format_duration)]


class SystemicDoc(BaseModel):
    """A team's `systemic:` block; a value left out (None) is the HOTLOOP_SYSTEMIC_* one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    window: Window | None = None
    min_count: int | None = Field(default=None, ge=1, le=MAX_MIN_COUNT)
    sensitivity: float | None = Field(default=None, gt=0, lt=1)
    enabled: bool = True

    def stored(self) -> dict[str, Any]:
        """The `Team.systemic` JSON: only what the team sets (window spelled like "2h")."""
        return self.model_dump(mode="json", exclude_defaults=True)


def parse_systemic(data: Mapping[str, Any]) -> SystemicDoc:
    """Validate a block; SystemicConfigError names each bad key."""
    try:
        return SystemicDoc.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "systemic"
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{where}: {message.removeprefix('Value error, ')}")
        raise SystemicConfigError("; ".join(problems)) from None


def defaults(settings: Settings) -> SystemicSettings:
    """The environment's settings (HOTLOOP_SYSTEMIC_WINDOW, _MIN_COUNT, _SENSITIVITY)."""
    return SystemicSettings(
        window_seconds=settings.systemic_window,
        min_count=settings.systemic_min_count,
        sensitivity=settings.systemic_sensitivity,
        enabled=True,
    )


def merged(base: SystemicSettings, team_systemic: Mapping[str, Any] | None) -> SystemicSettings:
    """`base` with a team's stored block on top. A stored block that no longer validates (edited by
    hand in the database) is logged and ignored: detection keeps running on the defaults."""
    if not team_systemic:
        return base
    try:
        doc = parse_systemic(team_systemic)
    except SystemicConfigError as exc:
        log.error("systemic.settings_unusable", error=str(exc))
        return base
    return SystemicSettings(
        window_seconds=doc.window if doc.window is not None else base.window_seconds,
        min_count=doc.min_count if doc.min_count is not None else base.min_count,
        sensitivity=doc.sensitivity if doc.sensitivity is not None else base.sensitivity,
        enabled=doc.enabled,
    )


def systemic_settings(settings: Settings, team_systemic: Mapping[str, Any] | None) -> SystemicSettings:
    """A team's effective settings: the environment's, with the team's `systemic:` block on top."""
    return merged(defaults(settings), team_systemic)


def describe(effective: SystemicSettings) -> str:
    """One line for chat answers: "on: window 2h, min 3, sensitivity 0.01"."""
    state = "on" if effective.enabled else "off"
    return (
        f"{state}: window {format_duration(effective.window_seconds)}, min {effective.min_count}, "
        f"sensitivity {effective.sensitivity:g}"
    )
