"""SLA sweep options and the small time rules it applies: quiet hours, the heads-up instant, and
which snooze pauses the resolve clock. Pure; `bot/sla_sweep.py` uses them, ingest schedules the
first heads-up with `heads_up_at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.business_hours import BusinessHours, deadline_fraction_at, in_quiet_hours
from bot.settings import Settings


@dataclass(frozen=True)
class SweepOptions:
    heads_up_fraction: float = 0.75
    nag_seconds: int = 1800
    nag_cap: int = 3
    quiet_hours: tuple[time, time] | None = None  # local [start, end), may wrap midnight
    quiet_timezone: str | None = None  # None: the team's business-hours zone, else UTC

    @classmethod
    def from_settings(cls, settings: Settings) -> SweepOptions:
        """The `HOTLOOP_SLA_*` settings; quiet hours written "22:00-07:00"."""
        return cls(
            heads_up_fraction=settings.sla_heads_up_fraction,
            nag_seconds=settings.sla_nag_seconds,
            nag_cap=settings.sla_nag_cap,
            quiet_hours=parse_quiet_hours(settings.sla_quiet_hours),
            quiet_timezone=settings.sla_quiet_timezone or None,
        )


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """'22:00-07:00' → (22:00, 07:00); empty → None. Raises ValueError with the expected form."""
    if not text or not str(text).strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in str(text).split("-"))
    except ValueError as exc:
        raise ValueError(f"quiet hours: write them as HH:MM-HH:MM, e.g. 22:00-07:00 (got {text!r})") from exc
    return start, end


def quiet_end(at: datetime, quiet: tuple[time, time] | None, timezone: str) -> datetime:
    """`at` itself when outside quiet hours, else the end of the quiet window it falls in (UTC)."""
    if quiet is None or not in_quiet_hours(at, quiet, timezone):
        return at
    local = at.astimezone(ZoneInfo(timezone))
    end = datetime.combine(local.date(), quiet[1], tzinfo=local.tzinfo)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet[1], tzinfo=local.tzinfo)
    return end.astimezone(UTC)


def heads_up_at(start: datetime, due: datetime, hours: BusinessHours | None, fraction: float = 0.75
                ) -> datetime:
    """When the heads-up for a clock running from `start` to `due` is due (business time)."""
    return deadline_fraction_at(start, due, fraction, hours) if start < due else due


def waiting_on_customer(reason: str | None) -> bool:
    return (reason or "").strip().lower().replace("_", " ").replace("-", " ") == "waiting on customer"
