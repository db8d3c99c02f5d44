"""A real OpenID Connect provider on loopback, for the dashboard's OIDC sign-in tests.

    with OidcProvider(client_id="hotloop-web", client_secret="…") as provider:
        provider.claims = {"tid": TENANT, "oid": OID, "name": "Megan"}
        provider.tamper = {"aud": "another-app"}  # what the next ID token gets wrong

A `ThreadingHTTPServer` on 127.0.0.1 (port 0) in a daemon thread serving what a provider serves: the
discovery document, a JWKS with one RSA key, an authorization endpoint that signs the user in at once
(302 back with a code) and a token endpoint that checks the client's secret (HTTP Basic), the code
(once), the redirect URI and the PKCE verifier (S256), then issues an RS256 ID token (PyJWT) carrying
the request's nonce. Every authorization request's parameters are kept in `authorizations`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "test-key-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    used: bool = False


@dataclass
class OidcProvider:
    client_id: str
    client_secret: str
    claims: dict[str, Any] = field(default_factory=dict)  # the signed-in user's claims (besides iss, aud…)
    tamper: dict[str, Any] = field(default_factory=dict)  # overrides for the next ID tokens (None: drop)
    signing_key: rsa.RSAPrivateKey | None = None  # another key than the published one: a forged token
    issuer_override: str | None = None  # the discovery document names another issuer
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self.key = new_key()
        self.grants: dict[str, Grant] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_override or self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str]]:
        self.authorizations.append(params)
        if params.get("response_type") != "code" or params.get("client_id") != self.client_id:
            return 400, {}
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return 400, {}
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.grants[code] = Grant(self.client_id, params["redirect_uri"], params.get("nonce"),
                                      params["code_challenge"])
        back = {"code": code, "state": params.get("state", "")}
        return 302, {"Location": f"{params['redirect_uri']}?{urlencode(back)}"}

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client"}
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.used:
                return 400, {"error": "invalid_grant"}
            grant.used = True
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if challenge != grant.challenge or form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant"}
        access_token = secrets.token_urlsafe(24)
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600,
                     "id_token": self.id_token(grant)}

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "sub": secrets.token_hex(8), "aud": grant.client_id,
                                  "iat": now, "exp": now + 600, "nonce": grant.nonce, **self.claims}
        for name, value in self.tamper.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, self.signing_key or self.key, algorithm="RS256", headers={"kid": KID})


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif parts.path == "/jwks":
                self._send(200, provider.jwks())
            elif parts.path == "/authorize":
                status, headers = provider.authorize(dict(parse_qsl(parts.query)))
                self._send(status, None, headers)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            if urlsplit(self.path).path != "/token":
                self._send(404, {"error": "not_found"})
                return
            status, body = provider.token(form, self.headers.get("Authorization", ""))
            self._send(status, body, {"Cache-Control": "no-store"})

    return Handler
