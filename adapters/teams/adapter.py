"""`CloudAdapter`: botbuilder's `CloudAdapterBase` with the per-turn outbound clients built once.

Upstream `CloudAdapterBase.process_activity` builds a `ConnectorClient` and a `UserTokenClient` for
every turn. Each builds an msrest `Configuration` whose `ClientRetryPolicy` scans a 500-item list 999
times: about 15 ms of CPU per client, 30 ms per turn, which was most of an `Action.Execute`'s cost
(100 simultaneous invokes waited 2.0 s at p99). Hotloop never sends through these clients (replies
and card updates go through `TeamsChat`, adapters/teams/connector.py); botbuilder only needs them in
the turn state. Like the old `BotFrameworkAdapter`'s connector cache, they are kept per app id,
audience and service URL in a small LRU. Authentication is unchanged: `process_activity` still gets
the result of checking this request's own token (adapters/teams/auth.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.cloud_adapter_base import CloudAdapterBase
from botbuilder.schema import Activity
from botframework.connector import ConnectorClient
from botframework.connector.auth import AuthenticationConstants, BotFrameworkAuthentication, ClaimsIdentity
from botframework.connector.auth.authenticate_request_result import AuthenticateRequestResult
from botframework.connector.auth.user_token_client import UserTokenClient

CLIENT_CACHE_SIZE = 32  # service URLs come from activities: bounded, the oldest goes first


class _Lru(OrderedDict[tuple[str, ...], Any]):
    def remember(self, key: tuple[str, ...], value: Any) -> None:
        self[key] = value
        while len(self) > CLIENT_CACHE_SIZE:
            self.popitem(last=False)

    def recall(self, key: tuple[str, ...]) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


def _app_id(identity: ClaimsIdentity) -> str:
    """The bot's app id as botbuilder reads it: `aud` for channel tokens, `appid` for the emulator."""
    claims = identity.claims or {}
    value = claims.get(AuthenticationConstants.AUDIENCE_CLAIM)
    if value is None:
        value = claims.get(AuthenticationConstants.APP_ID_CLAIM)
    return str(value or "")


class CloudAdapter(CloudAdapterBase):  # type: ignore[misc]
    """`CloudAdapterBase` (upstream's `CloudAdapter` only adds aiohttp plumbing), caching its clients."""

    def __init__(self, auth: BotFrameworkAuthentication) -> None:
        super().__init__(auth)
        self._connectors = _Lru()
        self._token_clients = _Lru()

    async def process_activity(
        self,
        auth_header_or_authenticate_request_result: str | AuthenticateRequestResult,
        activity: Activity,
        logic: Callable[[TurnContext], Awaitable[Any]],
    ) -> InvokeResponse | None:
        """Upstream's turn, step for step, with the connector and token clients from the caches."""
        result = auth_header_or_authenticate_request_result
        if isinstance(result, str):
            result = await self.bot_framework_authentication.authenticate_request(activity, result)
        activity.caller_id = result.caller_id
        connector = await self._connector(result, activity.service_url)
        if connector is None:
            raise RuntimeError("Unable to extract ConnectorClient from turn context.")
        token_client = await self._token_client(result.claims_identity)
        context = self._create_turn_context(
            activity, result.claims_identity, result.audience, connector, token_client, logic,
            result.connector_factory,
        )
        await self.run_pipeline(context, logic)
        response: InvokeResponse | None = self._process_turn_results(context)
        return response

    async def _connector(self, result: AuthenticateRequestResult, service_url: str) -> ConnectorClient | None:
        if not result.connector_factory:
            return None
        key = (_app_id(result.claims_identity), str(result.audience or ""), str(service_url or ""))
        client: ConnectorClient | None = self._connectors.recall(key)
        if client is None:
            client = await result.connector_factory.create(service_url, result.audience)
            self._connectors.remember(key, client)
        return client

    async def _token_client(self, identity: ClaimsIdentity) -> UserTokenClient:
        key = (_app_id(identity),)
        client: UserTokenClient | None = self._token_clients.recall(key)
        if client is None:
            client = await self.bot_framework_authentication.create_user_token_client(identity)
            self._token_clients.remember(key, client)
        return client
