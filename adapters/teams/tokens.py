"""Bot → Connector access tokens (OAuth client credentials over httpx, cached until shortly before expiry).

MultiTenant bots get their token from the `botframework.com` tenant, SingleTenant bots from their own
tenant, UserAssignedMSI bots from the instance metadata service. Without an app id there is no token
(loopback tests and `teams_allow_unauthenticated`).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import httpx

from adapters.teams.auth import BotConfig
from bot.chat.port import ChatError

LOGIN_URL = "https://login.microsoftonline.com"
SCOPE = "https://api.botframework.com/.default"
AUTH_TENANT = "botframework.com"  # MultiTenant bots
IMDS_URL = "http://169.254.169.254/metadata/identity/oauth2/token"
EARLY_REFRESH_SECONDS = 300.0


class BotTokenProvider:
    """`await provider()` → a bearer token for the Bot Connector (an empty string when unauthenticated)."""

    def __init__(self, config: BotConfig, *, login_url: str = LOGIN_URL, timeout: float = 10.0) -> None:
        self.config = config
        self.login_url = login_url.rstrip("/")
        self.timeout = timeout
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def tenant(self) -> str:
        if self.config.APP_TYPE.lower() == "singletenant" and self.config.APP_TENANTID:
            return self.config.APP_TENANTID
        return AUTH_TENANT

    async def __call__(self) -> str:
        if not self.config.APP_ID:
            return ""
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:
            if not self._token or time.monotonic() >= self._expires_at:
                token, lifetime = await self._fetch()
                self._token = token
                self._expires_at = time.monotonic() + max(60.0, lifetime - EARLY_REFRESH_SECONDS)
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                if self.config.APP_TYPE.lower() == "userassignedmsi":
                    response = await client.get(
                        IMDS_URL,
                        params={
                            "api-version": "2019-08-01",
                            "resource": SCOPE.removesuffix("/.default"),
                            "client_id": self.config.APP_ID,
                        },
                        headers={"Metadata": "true"},
                    )
                else:
                    response = await client.post(
                        f"{self.login_url}/{quote(self.tenant, safe='')}/oauth2/v2.0/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": self.config.APP_ID,
                            "client_secret": self.config.APP_PASSWORD,
                            "scope": SCOPE,
                        },
                    )
        except httpx.HTTPError as exc:
            raise ChatError(f"teams token endpoint unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            # retryable even for 401: fixing the credentials should let queued messages go out
            raise ChatError(f"teams token endpoint HTTP {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
            return str(data["access_token"]), float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise ChatError("teams token endpoint answered without an access token") from exc
