"""Which Microsoft Entra tenants may talk to this bot (PROTOCOLS "Teams tenants").

A valid Bot Framework token proves the activity came through the Bot Connector for this app id, not
that it came from the organisation hotloop serves: a multi-tenant bot registration can be added to
Teams in any tenant. Every activity is therefore checked against HOTLOOP_TEAMS_TENANT_ID and
HOTLOOP_TEAMS_ALLOWED_TENANTS before anything is read or written, with and without token checks.

    nothing configured, unauthenticated local mode   → every tenant (loopback tools, the emulator)
    nothing configured, with an app id               → refused at start (bot/settings.py)
    "*" in HOTLOOP_TEAMS_ALLOWED_TENANTS             → every tenant, on purpose
    otherwise                                        → only the listed tenants; no tenant → refused
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botbuilder.schema import Activity

from adapters.teams.translate import tenant_ids
from bot.settings import Settings

ANY_TENANT = "*"
ERROR_TYPE = "application/vnd.microsoft.error"
NO_TENANT = "the activity names no tenant, and this bot serves only its configured tenants"
OTHER_TENANT = "this bot does not serve your organization (tenant); nothing was done"


@dataclass(frozen=True)
class TenantPolicy:
    tenants: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> TenantPolicy:
        return cls(settings.teams_tenants)

    @property
    def open(self) -> bool:
        return not self.tenants or ANY_TENANT in self.tenants

    def refusal(self, activity: Activity) -> str | None:
        """Why this activity is refused, or None when its tenant is served."""
        if self.open:
            return None
        named = {tenant.strip().lower() for tenant in tenant_ids(activity)}
        if not named:
            return NO_TENANT
        # both places must name a served tenant: a body that disagrees with itself is not trusted
        return None if named <= self.tenants else OTHER_TENANT


def refusal_body(activity: Activity, reason: str) -> dict[str, Any]:
    """An invoke gets the Universal Actions error shape, which the Teams client shows to the user."""
    if activity.type == "invoke":
        return {"statusCode": 403, "type": ERROR_TYPE, "value": {"code": "Forbidden", "message": reason}}
    return {"error": reason}
