"""Which language a customer is written to, and dates as that language writes them.

The response says it first (Formbricks `language`, Qualtrics `userLanguage`, a `language`/`locale`
attribute), then the source (a `language` key in its mapping), then the team (`mail.language`), then
English. Only languages with templates count; anything else falls through to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

SUPPORTED = ("en", "de", "fr", "es")
DEFAULT = "en"
RESPONSE_KEYS = ("language", "lang", "locale", "userLanguage", "user_language", "language_code")

_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}
_PATTERNS = {
    "en": "{weekday} {day} {month}, {hh}:{mm} ({zone})",
    "de": "{weekday}, {day}. {month}, {hh}:{mm} Uhr ({zone})",
    "fr": "{weekday} {day} {month} à {hh} h {mm} ({zone})",
    "es": "{weekday} {day} de {month} a las {hh}:{mm} ({zone})",
}


def language_code(value: object) -> str | None:
    """`de-DE`, `DE`, `de_AT` → `de`; None for anything without templates."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED else None


def pick_language(
    *, attributes: Mapping[str, str], source_mapping: Mapping[str, object], team_language: str | None
) -> str:
    for key in RESPONSE_KEYS:
        code = language_code(attributes.get(key))
        if code:
            return code
    return language_code(source_mapping.get("language")) or language_code(team_language) or DEFAULT


def format_when(moment: datetime, *, language: str, timezone: str) -> str:
    """A deadline as the customer reads it, in the team's time zone ("Dienstag, 24. November, 14:30 Uhr
    (CET)")."""
    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (ValueError, KeyError, OSError):  # an unknown zone name: UTC rather than no mail
        local = moment.astimezone(ZoneInfo("UTC"))
    lang = language if language in SUPPORTED else DEFAULT
    return _PATTERNS[lang].format(
        weekday=_WEEKDAYS[lang][local.weekday()], day=local.day, month=_MONTHS[lang][local.month - 1],
        hh=f"{local.hour:02d}", mm=f"{local.minute:02d}", zone=local.tzname() or timezone,
    )
