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

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_SECRET_KEYS = ("secret", "token", "password", "authorization", "signature", "api_key")
_PII_KEYS = ("email", "phone", "customer_name", "comment")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _PHONE.sub("[phone]", _EMAIL.sub("[email]", value))
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


def configure_logging(*, level: str = "info", json: bool = True) -> None:
    numeric = logging.getLevelName(level.upper())
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=numeric, force=True)
    for name, floor in LIBRARY_FLOORS.items():
        library = logging.getLogger(name)
        library.setLevel(max(floor, library.level, numeric if isinstance(numeric, int) else logging.INFO))
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            numeric if isinstance(numeric, int) else logging.INFO
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
