"""The configuration-as-code document (YAML): its strict model, validation with paths, load and dump.

`bot/config/io.py` reads and writes it to the database.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from bot.config.systemic import SystemicDoc
from bot.domain import Severity
from bot.durations import DurationError, format_duration, parse_duration
from bot.identity import canonical

SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_TEAM = "*"
NO_ALERT = "none"
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class ConfigError(ValueError):
    """An invalid configuration document; `problems` lists one `path: message` per error."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [message]


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value  # plain seconds
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 15m, 4h, 2d)")


def _severity(value: Any, *, allow_none: bool = False) -> str:
    allowed = (*SEVERITIES, NO_ALERT) if allow_none else SEVERITIES
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    raise ValueError(f"unknown severity {value!r} (one of {', '.join(allowed)})")


def _clock(value: Any) -> str:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValueError(f'not a time of day: {value!r} (write it quoted, e.g. "09:00")')
    return value


def _identities(values: list[str]) -> list[str]:
    """`slack:U…` / `teams:<id>`, or an unprefixed id whose shape tells the platform (bot/identity.py);
    written back qualified, so an export re-imports as the same people."""
    return [canonical(value) for value in values]  # IdentityError is a ValueError: reported with its path


def _iso_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValueError(f"not a date: {value!r} (write e.g. 2026-12-25)") from None


Duration = Annotated[int, BeforeValidator(_duration), PlainSerializer(format_duration)]
SeverityName = Annotated[str, BeforeValidator(_severity)]
RuleSeverity = Annotated[str, BeforeValidator(lambda v: _severity(v, allow_none=True))]
Clock = Annotated[str, BeforeValidator(_clock)]
IsoDate = Annotated[str, BeforeValidator(_iso_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BusinessHoursDoc(_Strict):
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKWEEK))
    start: Clock
    end: Clock
    holidays: list[IsoDate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _canonical(self) -> BusinessHoursDoc:
        self.days = sorted(set(self.days), key=WEEKDAYS.index)
        self.holidays = sorted(set(self.holidays))
        return self


ACK_POLICIES = ("contact_requests", "every_alert", "off")
MAIL_LANGUAGES = ("en", "de", "fr", "es")
_MAILBOX = re.compile(r"[^\r\n<>@]*<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+")


def _mailbox(value: str | None) -> str | None:
    if value is not None and not _MAILBOX.fullmatch(value.strip()):
        raise ValueError(
            f"not an e-mail address: {value!r} (e.g. support@example.com or Support <support@example.com>)"
        )
    return value.strip() if value is not None else None


class TeamMailDoc(_Strict):
    """E-mail to this team's customers (bot/mail): who it comes from, and the acknowledgement policy."""

    sender: str | None = Field(default=None, max_length=320)  # default: HOTLOOP_MAIL_FROM
    reply_to: str | None = Field(default=None, max_length=320)
    ack: Literal["contact_requests", "every_alert", "off"] = "contact_requests"
    ack_delay: Duration | None = None  # default: HOTLOOP_ACK_DELAY
    # "did we fix it?" after resolving (bot/mail/followup.py): `detractors` (default) asks when the resolver
    # ticked Follow-up or the customer is a detractor (NPS ≤ 6); `asked`: only when ticked; `off`: never
    follow_up: Literal["detractors", "asked", "off"] = "detractors"
    follow_up_delay: Duration | None = None  # default: HOTLOOP_FOLLOW_UP_DELAY
    language: Literal["en", "de", "fr", "es"] | None = None  # when neither the response nor the source says

    @field_validator("sender", "reply_to")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return _mailbox(value)


class TeamDoc(_Strict):
    name: str = Field(min_length=1, max_length=100)
    slack_channel: str | None = Field(default=None, min_length=1, max_length=64)
    teams_channel: str | None = Field(default=None, min_length=1, max_length=255)
    managers_slack_channel: str | None = Field(default=None, min_length=1, max_length=64)
    managers_teams_channel: str | None = Field(default=None, min_length=1, max_length=255)
    managers: list[str] = Field(default_factory=list)  # identities: slack:U… / teams:<object id>
    timezone: str = Field(default="UTC", max_length=64)
    business_hours: BusinessHoursDoc | None = None
    mail: TeamMailDoc | None = None
    systemic: SystemicDoc | None = None  # spike detection; default: HOTLOOP_SYSTEMIC_*

    @field_validator("managers")
    @classmethod
    def _managers(cls, value: list[str]) -> list[str]:
        return _identities(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == EVERY_TEAM or value != value.strip():
            raise ValueError(f"not a usable team name: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, UTC)") from None
        return value


class RouteDoc(_Strict):
    # the same values `route add` accepts: a string, a list of alternatives, severity comparisons
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    team: str
    priority: int | None = None  # None: position * 10, filled in by ConfigDoc

    @field_validator("match", mode="before")
    @classmethod
    def _match(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the strict dict check reports it
        for key, item in value.items():
            items = item if isinstance(item, list) else [item]
            if not items or not all(isinstance(i, str) for i in items):
                raise ValueError(f"value of {key!r} must be a quoted string or a list of them, got {item!r}")
        if "severity" in value:  # an exact severity or a comparison like ">=high", "<critical"
            options = value["severity"] if isinstance(value["severity"], list) else [value["severity"]]
            for option in options:
                _severity(option.strip().lstrip("<>="))
        return dict(sorted(value.items()))


class RuleDoc(_Strict):
    name: str = Field(min_length=1, max_length=100)
    when: dict[str, Any]
    severity: RuleSeverity  # "none" = matching feedback raises no alert
    priority: int | None = None
    enabled: bool = True

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        # a textual condition is kept verbatim for the rule engine to parse later
        return {"text": value} if isinstance(value, str) else value

    @field_serializer("when")
    def _when_out(self, when: dict[str, Any]) -> Any:
        text = when.get("text")
        return text if set(when) == {"text"} and isinstance(text, str) else when


class SlaDoc(_Strict):
    claim: Duration
    resolve: Duration


class StepDoc(_Strict):
    after: Duration = 0
    platform: Literal["slack", "teams"]
    to: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)


def sla_out(policies: dict[str, SlaDoc]) -> dict[str, Any]:
    return {sev: policies[sev].model_dump() for sev in SEVERITIES if sev in policies}


def priority_of(item: RouteDoc | RuleDoc) -> int:
    return item.priority or 0


def _duplicates(items: list[str]) -> list[str]:
    return sorted(item for item, count in Counter(items).items() if count > 1)


class ConfigDoc(_Strict):
    default_team: str | None = Field(default=None, min_length=1, max_length=100)
    teams: list[TeamDoc] = Field(default_factory=list)
    routes: list[RouteDoc] = Field(default_factory=list)
    rules: list[RuleDoc] = Field(default_factory=list)
    sla: dict[SeverityName, SlaDoc] = Field(default_factory=dict)
    team_sla: dict[str, dict[SeverityName, SlaDoc]] = Field(default_factory=dict)
    escalation: dict[str, list[StepDoc]] = Field(default_factory=dict)  # team name or "*"
    admins: list[str] = Field(default_factory=list)  # identities: slack:U… / teams:<object id>

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: list[str]) -> list[str]:
        return _identities(value)

    @model_validator(mode="after")
    def _references(self) -> ConfigDoc:
        problems = [f"teams: duplicate team name {n!r}" for n in _duplicates([t.name for t in self.teams])]
        problems += [f"rules: duplicate rule name {n!r}" for n in _duplicates([r.name for r in self.rules])]
        problems += [f"admins: duplicate admin {n!r}" for n in _duplicates(self.admins)]
        names = {t.name for t in self.teams}
        if self.default_team is not None and self.default_team not in names:
            self.teams.append(TeamDoc(name=self.default_team))  # the default team is created if absent
            names.add(self.default_team)
        for i, route in enumerate(self.routes):
            if route.team not in names:
                problems.append(f"routes[{i}].team: unknown team {route.team!r}")
        problems += [f"team_sla.{n}: unknown team {n!r}" for n in self.team_sla if n not in names]
        problems += [
            f"escalation.{n}: unknown team {n!r} (use '*' for every team)"
            for n in self.escalation
            if n != EVERY_TEAM and n not in names
        ]
        if problems:
            raise ValueError("\n".join(problems))
        for i, route in enumerate(self.routes):  # default priority: position * 10
            route.priority = (i + 1) * 10 if route.priority is None else route.priority
        for i, rule in enumerate(self.rules):
            rule.priority = (i + 1) * 10 if rule.priority is None else rule.priority
        return self

    def normalized(self) -> dict[str, Any]:
        """The canonical form `export_config` produces: defaults dropped, durations spelled, stable order."""
        escalation = sorted(self.escalation.items(), key=lambda kv: (kv[0] != EVERY_TEAM, kv[0]))
        return {
            "default_team": self.default_team,
            "teams": [t.model_dump(exclude_defaults=True) for t in sorted(self.teams, key=lambda t: t.name)],
            "routes": [r.model_dump() for r in sorted(self.routes, key=priority_of)],
            "rules": [r.model_dump(exclude_defaults=True) for r in sorted(self.rules, key=priority_of)],
            "sla": sla_out(self.sla),
            "team_sla": {n: sla_out(p) for n, p in sorted(self.team_sla.items()) if p},
            "escalation": {k: [s.model_dump(exclude_none=True) for s in v] for k, v in escalation if v},
            "admins": sorted(self.admins),
        }


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(data: Any) -> ConfigDoc:
    """Validate an already-parsed document; every problem is reported with its path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping (default_team:, teams:, routes: …)")
    try:
        return ConfigDoc.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors():
            path = _path(tuple(err["loc"]))
            message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            for line in message.removeprefix("Value error, ").split("\n"):
                problems.append(f"{path}: {line}" if path else line)
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems), problems) from None


def load_yaml(text: str) -> ConfigDoc:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}") from None
    return parse_config(data)


def dump_yaml(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)


