"""Prometheus metrics and structlog JSON logging with customer contact details redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

FEEDBACK_RECEIVED = Counter("hotloop_feedback_received_total", "Feedback accepted", ["source", "result"])
WEBHOOKS_REJECTED = Counter("hotloop_webhooks_rejected_total", "Webhooks refused", ["status"])
ALERTS_CREATED = Counter("hotloop_alerts_created_total", "Hot alerts raised", ["severity"])
DELIVERIES = Counter("hotloop_deliveries_total", "Outbox deliveries", ["platform", "kind", "result"])
OUTBOX_DEPTH = Gauge("hotloop_outbox_depth", "Pending outbox rows")
ACTIONS = Counter("hotloop_actions_total", "Alert actions from chat", ["platform", "action", "result"])
INGEST_SECONDS = Histogram("hotloop_ingest_seconds", "Webhook handling time")
SLA_BREACHES = Counter("hotloop_sla_breaches_total", "SLA breaches detected", ["kind"])
WEBHOOKS_IGNORED = Counter(
    "hotloop_webhooks_ignored_total", "Webhooks answered 2xx without being stored", ["source", "reason"]
)
DATABASE_UNAVAILABLE = Counter(
    "hotloop_database_unavailable_total", "Requests answered 503 because the database was unreachable"
)
SLACK_SOCKET_CONNECTED = Gauge("hotloop_slack_socket_mode_connected", "1 while Socket Mode is connected")
SLACK_SOCKET_RECONNECTS = Counter(
    "hotloop_slack_socket_mode_reconnects_total", "Socket Mode links lost or attempts failed", ["reason"]
)

_EMAIL = re.compile(r"[\w.+%-]+(@|%40)[\w-]+(\.[\w-]+)+")  # %40: an e-mail inside a form-encoded body
_PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")  # shaped like a phone number, but an address to keep
_SECRET_KEYS = ("secret", "token", "password", "authorization", "signature", "api_key")
_PII_KEYS = ("email", "phone", "customer_name", "comment")


def _phone_or_address(match: re.Match[str]) -> str:
    return match.group(0) if _IPV4.fullmatch(match.group(0)) else "[phone]"


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _PHONE.sub(_phone_or_address, _EMAIL.sub("[email]", value))
    if isinstance(value, dict):
        return {k: _redact_pair(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _redact_pair(key: str, value: Any) -> Any:
    lowered = str(key).lower()
    if any(word in lowered for word in _SECRET_KEYS) or any(word in lowered for word in _PII_KEYS):
        return "[redacted]"
    return _redact_value(value)


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log secrets or customer contact details, whatever a caller passes."""
    for key in list(event):
        if key in ("event", "level", "timestamp", "logger"):
            if key == "event":
                event[key] = _redact_value(event[key])
            continue
        event[key] = _redact_pair(key, event[key])
    return event


# Libraries log through the standard library, past `redact`: at DEBUG, aiosqlite prints SQL parameters
# and slack_sdk request bodies (customer details, comments, source secrets), and SQLAlchemy does so from
# INFO. Whatever HOTLOOP_LOG_LEVEL says, they log no lower than these floors.
LIBRARY_FLOORS = {
    "sqlalchemy": logging.WARNING,
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "botbuilder": logging.INFO,
    "botframework": logging.INFO,
    "msrest": logging.INFO,
    "msal": logging.INFO,
    "urllib3": logging.INFO,
}
# APScheduler says "Running job…" and "…executed successfully" at INFO on every run of every job (the
# SLA sweep runs every 5 s): routine, so they are DEBUG lines.
ROUTINE_AT_DEBUG = ("apscheduler.executors.default",)  # a logger filter does not see its children's records

# A library's own message may quote the request it choked on (Bolt logs the whole body when a Slack
# signature fails: a real click carries the card, so the customer's name and e-mail). Whatever follows
# `body:`/`payload=` is cut, and so is any long {…}/[…] blob.
_BODY_FIELD = re.compile(r"\b(raw_body|request_body|body|payload)\b\s*[:=].*", re.IGNORECASE | re.DOTALL)
_BLOB = re.compile(r"[{\[].{40,}[}\]]", re.DOTALL)


def scrub_foreign(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Cut request bodies out of a standard-library record's message (structlog's own events have
    fields, never a quoted body)."""
    message = event.get("event")
    if isinstance(message, str):
        message = _BODY_FIELD.sub(lambda m: f"{m.group(1)}=[redacted]", message)
        event["event"] = _BLOB.sub("[redacted]", message)
    event.pop("positional_args", None)
    return event


class _RoutineToDebug(logging.Filter):
    """Re-level a library's routine INFO records as DEBUG, and drop them unless DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def _numeric_level(level: str) -> int:
    numeric = logging.getLevelName(level.upper())
    return numeric if isinstance(numeric, int) else logging.INFO


def configure_logging(*, level: str = "info", json: bool = True) -> None:
    """One stream: structlog events and every library's standard-library records (uvicorn, Alembic,
    APScheduler, httpx, Bolt, botbuilder) go through the same processors and renderer to stderr."""
    numeric = _numeric_level(level)
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(numeric)  # whatever level a library's own logger has
    handler.addFilter(_LibraryFloors())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, scrub_foreign],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, redact, renderer],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    _route_libraries(numeric)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # printed, not through the standard library: Bolt sets the level of the stdlib logger named
        # after its app ("hotloop") when it starts, which would filter hotloop's own events
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class _LibraryFloors(logging.Filter):
    """LIBRARY_FLOORS for every record that reaches the handler, also from a library's child logger
    with a level of its own (Bolt gives each of its loggers the root's level when it creates them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, floor in LIBRARY_FLOORS.items():
            if record.name == name or record.name.startswith(name + "."):
                return record.levelno >= floor
        return True


def _route_libraries(numeric: int) -> None:
    for name, floor in LIBRARY_FLOORS.items():
        library = logging.getLogger(name)
        library.setLevel(max(floor, library.level, numeric))
    for name, existing in list(logging.root.manager.loggerDict.items()):
        if isinstance(existing, logging.Logger) and name.split(".")[0] in LIBRARY_FLOORS and "." in name:
            existing.setLevel(logging.NOTSET)  # follow the library's level set above
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "apscheduler"):
        library = logging.getLogger(name)  # no handler of their own: to the root's, in the same format
        library.handlers.clear()
        library.propagate = True
    for name in ROUTINE_AT_DEBUG:
        library = logging.getLogger(name)
        if not any(isinstance(f, _RoutineToDebug) for f in library.filters):
            library.addFilter(_RoutineToDebug())
