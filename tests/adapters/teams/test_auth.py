"""POST /api/messages with authentication ON: our own OpenID metadata + JWKS on loopback, tokens
signed with PyJWT. A valid token is served; every bad one is a 401 (never a 500) that changes nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.settings import Role
from storage import queries
from tests.adapters.teams.activities import DETRACTOR, TENANT, execute, message, row_counts
from tests.appserver import AppServer, AppWithChats
from tests.fakes.bot_connector import FakeBotConnector

APP_ID = "8a1f0c2e-3b4d-4e5f-9a6b-7c8d9e0f1a2b"
ISSUER = "https://api.botframework.com"
KID = "hotloop-test-key"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _key()
OTHER_KEY = _key()


class KeyServer:
    """OpenID metadata at /.well-known/openidconfiguration and the JWKS at /keys, on 127.0.0.1."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.hits += 1
                if self.path == "/.well-known/openidconfiguration":
                    body: dict[str, Any] = {
                        "issuer": ISSUER,
                        "jwks_uri": f"{server.url}/keys",
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                elif self.path == "/keys":
                    body = {"keys": server.keys}
                else:
                    self.send_error(404)
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> KeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def jwk(key: rsa.RSAPrivateKey, kid: str, endorsements: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256", "endorsements": endorsements}


def token(service_url: str, *, key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str = KID, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": APP_ID,
        "serviceurl": service_url,
        "nbf": now - 60,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid}
    )


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    published = [jwk(SIGNING_KEY, KID, ["msteams", "webchat"]), jwk(OTHER_KEY, "slack-only", ["slack"])]
    with KeyServer(published) as server:
        yield server


@pytest.fixture
async def server(app_with_chats: AppWithChats, keys: KeyServer) -> AsyncIterator[AppServer]:
    async with app_with_chats(
        role=Role.WEB,  # no delivery worker: row counts stay still
        teams_app_id=APP_ID,
        teams_app_password="pw-0123456789abcdef",
        teams_tenant_id=TENANT,
        teams_openid_metadata_url=f"{keys.url}/.well-known/openidconfiguration",
    ) as app:
        yield app


async def new_alert(server: AppServer) -> str:
    reply = await server.post_feedback(DETRACTOR)
    assert reply.status_code == 202
    key: str = reply.json()["alert"]
    return key


async def status_of(server: AppServer, key: str) -> str:
    async with server.ctx.sessions() as session:
        alert = await queries.get_alert(session, key=key)
    assert alert is not None
    return alert.status


async def test_a_valid_token_is_served(
    server: AppServer, fake_teams: FakeBotConnector, keys: KeyServer
) -> None:
    key = await new_alert(server)
    reply = await server.client.post(
        "/api/messages",
        json=execute(fake_teams.url, "alert.claim", key),
        headers={"Authorization": f"Bearer {token(fake_teams.url)}"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["type"] == "application/vnd.microsoft.card.adaptive"
    assert await status_of(server, key) == "claimed"
    assert keys.hits >= 2  # metadata and keys came from our loopback server


def _bad_headers(url: str) -> dict[str, dict[str, str]]:
    now = int(time.time())
    bearer = {
        "wrong audience": token(url, aud="00000000-0000-0000-0000-000000000000"),
        "no audience": token(url, aud=None),
        "wrong issuer": token(url, iss="https://evil.example"),
        "emulator issuer": token(url, iss="https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"),
        "expired": token(url, exp=now - 3600, nbf=now - 7200),
        "not yet valid": token(url, nbf=now + 3600),
        "other serviceurl": token(url, serviceurl="https://smba.trafficmanager.net/evil/"),
        "no serviceurl": token(url, serviceurl=None),
        "unknown kid": token(url, kid="who-knows"),
        "wrong key for kid": token(url, key=OTHER_KEY),
        "key not endorsed for msteams": token(url, key=OTHER_KEY, kid="slack-only"),
        "not a jwt": "not-a-jwt",
    }
    headers = {name: {"Authorization": f"Bearer {value}"} for name, value in bearer.items()}
    headers["no header"] = {}
    headers["empty header"] = {"Authorization": ""}
    headers["basic scheme"] = {"Authorization": "Basic dXNlcjpwYXNz"}
    headers["bearer without token"] = {"Authorization": "Bearer"}
    return headers


CASES = list(_bad_headers("http://x/"))


@pytest.mark.parametrize("case", CASES)
async def test_bad_tokens_are_401_and_change_nothing(
    server: AppServer, fake_teams: FakeBotConnector, case: str
) -> None:
    key = await new_alert(server)
    before = await row_counts(server)
    headers = _bad_headers(fake_teams.url)[case]
    for activity in (execute(fake_teams.url, "alert.claim", key), message(fake_teams.url, "help")):
        reply = await server.client.post("/api/messages", json=activity, headers=headers)
        assert reply.status_code == 401, (case, reply.text)
        assert reply.json()["error"]
    assert await status_of(server, key) == "open"
    assert await row_counts(server) == before
    assert fake_teams.calls() == []
