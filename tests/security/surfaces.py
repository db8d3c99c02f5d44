"""Every inbound surface, with one authentic request and the forged ones each must refuse (401).

A `Surface` builds, from a body that WOULD change the database if accepted, the authentic request
(the positive control) and a dict of named attacks: missing, wrong, another secret, stale, future,
a fresh timestamp on an old signature (replay), a body altered after signing, header case/whitespace
and parsing tricks, duplicated signature headers. Signing uses each module's own `sign()`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization

from adapters.sources import delighted, formbricks, generic, qualtrics, surveymonkey, typeform
from tests.adapters.slack.slackapp import SIGNING_SECRET
from tests.adapters.slack.slackapp import sign as slack_sign
from tests.adapters.sources import test_qualtrics as q
from tests.adapters.sources import test_surveymonkey as sm
from tests.adapters.sources.conftest import dumps, payload
from tests.adapters.teams.test_auth import KID, OTHER_KEY, SIGNING_KEY, token
from tests.security.conftest import SECRETS, SOURCE_NAMES

OTHER = "another-secret-entirely-0123456789"
# every timestamped scheme allows 300 s; a minute more, so the request is still outside the window
# however long the matrix takes to send (the server's clock moves on, "future" comes closer)
WINDOW_PLUS = 360
Headers = list[tuple[str, str | bytes]]


@dataclass(frozen=True)
class Attempt:
    body: bytes
    headers: Headers  # duplicates allowed, sent in this order


@dataclass(frozen=True)
class Surface:
    name: str
    path: str
    content_type: str
    timestamped: bool
    good: Callable[[int], Attempt]  # the authentic request, signed at `now`
    attacks: Callable[[int], dict[str, Attempt]]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _mac(secret: str | bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def spaced(value: str) -> str:
    """Whitespace inside a header value (HTTP strips it at the ends): after its first `=` or `,`."""
    for mark in ("=", ","):
        if mark in value:
            head, _, tail = value.partition(mark)
            return f"{head}{mark} \t {tail}"
    return f"{value[:4]} \t {value[4:]}"


def _altered(body: bytes) -> bytes:
    """The same request with one value changed after signing (a bigger NPS, another user…)."""
    for old, new in ((b'"nps": 2', b'"nps": 9'), (b"U0ADMIN", b"U0EVILX"), (b"R_1xyz", b"R_2xyz")):
        if old in body:
            return body.replace(old, new, 1)
    return body + b" "


# ---- the survey sources ------------------------------------------------------------------------


def generic_surface(body: bytes) -> Surface:
    secret = SECRETS["generic"]
    name = "x-hotloop-signature"

    def digest(ts: int, key: str = secret, raw: bytes = body) -> str:
        return generic.sign(key, raw, ts).split("v1=", 1)[1]

    def attacks(now: int) -> dict[str, Attempt]:
        old, forged = now - 3600, "0" * 64
        other_body = body.replace(b"r-sig", b"r-other")

        def a(*values: str | bytes, raw: bytes = body, header: str = name) -> Attempt:
            return Attempt(raw, [(header, v) for v in values])

        return {
            "missing": a(),
            "wrong": a(f"t={now},v1={forged}"),
            "another secret": a(generic.sign(OTHER, body, now)),
            "stale": a(generic.sign(secret, body, now - WINDOW_PLUS)),
            "future": a(generic.sign(secret, body, now + WINDOW_PLUS)),
            "replay: fresh t, old v1": a(f"t={now},v1={digest(old)}"),
            "altered body": a(generic.sign(secret, body, now), raw=_altered(body)),
            "trick: capitals and inner whitespace": a(
                spaced(generic.sign(OTHER, body, now).upper()), header="X-HOTLOOP-SIGNATURE"
            ),
            "trick: fresh t smuggled after the signed one": a(f"t={old},v1={digest(old)},t={now}"),
            "trick: empty v1": a(f"t={now},v1="),
            "trick: non-ASCII digit timestamp": a(f"t=²,v1={forged}".encode("latin-1")),
            "trick: v1 of another body": a(f"t={now},v1={digest(now, raw=other_body)}"),
            "duplicated: stale authentic, then fresh forged": a(
                generic.sign(secret, body, old), f"t={now},v1={forged}"
            ),
            "duplicated: fresh forged, then stale authentic": a(
                f"t={now},v1={forged}", generic.sign(secret, body, old)
            ),
            "duplicated: two wrong": a(generic.sign(OTHER, body, now), f"t={now},v1=deadbeef"),
        }

    return Surface(
        "generic",
        f"/webhooks/{SOURCE_NAMES['generic']}",
        "application/json",
        True,
        lambda now: Attempt(body, [(name, generic.sign(secret, body, now))]),
        attacks,
    )


def _digest_surface(
    kind: str,
    name: str,
    body: bytes,
    sign: Callable[[str, bytes], str],
    forge: Callable[[bytes], str],
    scheme: str,
) -> Surface:
    """Typeform / Delighted / SurveyMonkey: an HMAC of the raw body in one header, no timestamp."""
    secret = SECRETS[kind]

    def attacks(now: int) -> dict[str, Attempt]:
        other_body = _altered(body)

        def a(*values: str, raw: bytes = body, header: str = name) -> Attempt:
            return Attempt(raw, [(header, v) for v in values])

        wrong = scheme + forge(b"\0" * 32)
        return {
            "missing": a(),
            "wrong": a(wrong),
            "another secret": a(sign(OTHER, body)),
            "altered body": a(sign(secret, body), raw=other_body),
            "trick: capitals and inner whitespace": a(spaced(sign(OTHER, body)) + "\t=", header=name.upper()),
            "trick: upper-case scheme, another secret": a(sign(OTHER, body).upper()),
            "trick: empty digest": a(scheme),
            "trick: algorithm confusion (HMAC-SHA1/SHA256 swapped)": a(
                scheme + forge(_mac(secret, body, "sha1" if kind != "surveymonkey" else "sha256"))
            ),
            "trick: signature of another body": a(sign(secret, other_body)),
            "duplicated: another secret, then wrong": a(sign(OTHER, body), wrong),
            "duplicated: wrong, then another body's": a(wrong, sign(secret, other_body)),
        }

    return Surface(
        kind,
        f"/webhooks/{SOURCE_NAMES[kind]}",
        "application/json",
        False,
        lambda now: Attempt(body, [(name, sign(secret, body))]),
        attacks,
    )


def typeform_surface() -> Surface:
    body = dumps(payload("typeform_form_response.json"))
    return _digest_surface(
        "typeform", "typeform-signature", body, typeform.sign, lambda raw: _b64(raw), "sha256="
    )


def delighted_surface() -> Surface:
    body = dumps(payload("delighted_survey_response_updated.json"))
    return _digest_surface(
        "delighted", "x-delighted-webhook-signature", body, delighted.sign, lambda raw: raw.hex(), "sha256="
    )


def surveymonkey_surface() -> Surface:
    return _digest_surface(
        "surveymonkey", "sm-signature", sm.BODY, surveymonkey.sign, lambda raw: _b64(raw), ""
    )


def formbricks_surface() -> Surface:
    secret = SECRETS["formbricks"]
    other = "whsec_" + _b64(b"another-formbricks-key")
    body = dumps(payload("formbricks_responseFinished.json"))

    def signed(ts: int, *, key: str = secret, msg_id: str = "msg-1", raw: bytes = body) -> str:
        return formbricks.sign(key, raw, msg_id=msg_id, timestamp=ts)

    def a(
        ts: str | bytes,
        *signatures: str,
        msg_id: str | None = "msg-1",
        raw: bytes = body,
        extra: Sequence[tuple[str, str | bytes]] = (),
    ) -> Attempt:
        headers: Headers = [("webhook-id", msg_id)] if msg_id else []
        headers += [("webhook-timestamp", ts)] if ts else []
        headers += [("webhook-signature", s) for s in signatures]
        return Attempt(raw, headers + list(extra))

    def attacks(now: int) -> dict[str, Attempt]:
        old, wrong = now - 3600, "v1," + _b64(b"\0" * 32)
        return {
            "missing signature": a(str(now)),
            "missing id": a(str(now), signed(now), msg_id=None),
            "wrong": a(str(now), wrong),
            "another secret": a(str(now), signed(now, key=other)),
            "stale": a(str(now - WINDOW_PLUS), signed(now - WINDOW_PLUS)),
            "future": a(str(now + WINDOW_PLUS), signed(now + WINDOW_PLUS)),
            "replay: fresh timestamp, old signature": a(str(now), signed(old)),
            "altered body": a(str(now), signed(now), raw=_altered(body)),
            "altered webhook-id": a(str(now), signed(now), msg_id="msg-2"),
            "trick: capitals and inner whitespace": Attempt(
                body,
                [
                    ("WEBHOOK-ID", "msg-1"),
                    ("Webhook-Timestamp", str(now)),
                    ("WEBHOOK-SIGNATURE", spaced(signed(now, key=other)) + " \t v1,"),
                ],
            ),
            "trick: non-ASCII digit timestamp": a("²".encode("latin-1"), wrong),
            "trick: 20-digit timestamp": a("9" * 20, wrong),
            "trick: unknown versions only": a(str(now), f"v2,{signed(now).split(',', 1)[1]} v1a,xyz"),
            "trick: signature for another id": a(str(now), signed(now, msg_id="msg-9")),
            "duplicated: timestamps old then fresh, signed old": a(
                str(old), signed(old), extra=[("webhook-timestamp", str(now))]
            ),
            "duplicated: timestamps fresh then old, signed old": a(
                str(now), signed(old), extra=[("webhook-timestamp", str(old))]
            ),
            "duplicated: two wrong signatures": a(str(now), wrong, signed(now, key=other)),
        }

    return Surface(
        "formbricks",
        f"/webhooks/{SOURCE_NAMES['formbricks']}",
        "application/json",
        True,
        lambda now: a(str(now), signed(now)),
        attacks,
    )


def qualtrics_surface() -> Surface:
    """The HMAC travels in the form body (field `HMAC` over field `MSG`): the tricks are on fields."""
    secret = SECRETS["qualtrics"]
    msg = q.MSG
    evil = msg.replace("R_1xyz", "R_666")

    def form(*fields: tuple[str, str]) -> Attempt:
        return Attempt(urlencode(list(fields)).encode(), [])

    def attacks(now: int) -> dict[str, Attempt]:
        wrong = "0" * 128
        return {
            "missing": form(("Topic", q.TOPIC), ("MSG", msg)),
            "missing MSG": form(("Topic", q.TOPIC), ("HMAC", qualtrics.sign(secret, msg))),
            "wrong": form(("Topic", q.TOPIC), ("MSG", msg), ("HMAC", wrong)),
            "another secret": form(("Topic", q.TOPIC), ("MSG", msg), ("HMAC", qualtrics.sign(OTHER, msg))),
            "altered body": form(("Topic", q.TOPIC), ("MSG", evil), ("HMAC", qualtrics.sign(secret, msg))),
            "trick: field name in lower case": form(
                ("Topic", q.TOPIC), ("MSG", msg), ("hmac", qualtrics.sign(OTHER, msg))
            ),
            "trick: capitals and padding": form(
                ("Topic", q.TOPIC), ("MSG", msg), ("HMAC", f"  {qualtrics.sign(OTHER, msg).upper()} ")
            ),
            "trick: algorithm confusion (HMAC-SHA256)": form(
                ("Topic", q.TOPIC), ("MSG", msg), ("HMAC", _mac(secret, msg.encode()).hex())
            ),
            "duplicated: forged MSG first, signed MSG second": form(
                ("Topic", q.TOPIC), ("MSG", evil), ("MSG", msg), ("HMAC", qualtrics.sign(secret, msg))
            ),
            "duplicated: two wrong HMACs": form(
                ("Topic", q.TOPIC), ("MSG", msg), ("HMAC", wrong), ("HMAC", qualtrics.sign(OTHER, msg))
            ),
        }

    good = form(("Topic", q.TOPIC), ("MSG", msg), ("HMAC", qualtrics.sign(secret, msg)))
    return Surface(
        "qualtrics",
        f"/webhooks/{SOURCE_NAMES['qualtrics']}",
        "application/x-www-form-urlencoded",
        False,
        lambda now: good,
        attacks,
    )


def source_surfaces(generic_body: bytes) -> dict[str, Surface]:
    return {
        "generic": generic_surface(generic_body),
        "typeform": typeform_surface(),
        "formbricks": formbricks_surface(),
        "delighted": delighted_surface(),
        "qualtrics": qualtrics_surface(),
        "surveymonkey": surveymonkey_surface(),
    }


# ---- Slack -------------------------------------------------------------------------------------


def slack_surface(name: str, body: bytes, content_type: str) -> Surface:
    def headers(ts: int | str, signature: str) -> Headers:
        return [("x-slack-request-timestamp", str(ts)), ("x-slack-signature", signature)]

    def sig(ts: int, *, secret: str = SIGNING_SECRET, raw: bytes = body) -> str:
        return slack_sign(raw, timestamp=ts, secret=secret)["x-slack-signature"]

    def attacks(now: int) -> dict[str, Attempt]:
        old, wrong = now - 3600, "v0=" + "0" * 64
        return {
            "missing signature": Attempt(body, [("x-slack-request-timestamp", str(now))]),
            "missing timestamp": Attempt(body, [("x-slack-signature", sig(now))]),
            "wrong": Attempt(body, headers(now, wrong)),
            "another secret": Attempt(body, headers(now, sig(now, secret=OTHER))),
            "stale": Attempt(body, headers(now - WINDOW_PLUS, sig(now - WINDOW_PLUS))),
            "future": Attempt(body, headers(now + WINDOW_PLUS, sig(now + WINDOW_PLUS))),
            "replay: fresh timestamp, old signature": Attempt(body, headers(now, sig(old))),
            "altered body": Attempt(_altered(body), headers(now, sig(now))),
            "trick: capitals and inner whitespace": Attempt(
                body,
                [
                    ("X-SLACK-REQUEST-TIMESTAMP", str(now)),
                    ("X-Slack-Signature", spaced(sig(now, secret=OTHER))),
                ],
            ),
            "trick: version confusion (v1=)": Attempt(body, headers(now, "v1=" + sig(now).split("=", 1)[1])),
            "trick: non-ASCII digit timestamp": Attempt(
                body, [("x-slack-request-timestamp", "²".encode("latin-1")), ("x-slack-signature", wrong)]
            ),
            "duplicated: timestamps old then fresh, signed old": Attempt(
                body, [*headers(old, sig(old)), ("x-slack-request-timestamp", str(now))]
            ),
            "duplicated: timestamps fresh then old, signed old": Attempt(
                body, [*headers(now, sig(old)), ("x-slack-request-timestamp", str(old))]
            ),
            "duplicated: a valid timestamp then a non-ASCII one": Attempt(
                body, [*headers(now, wrong), ("x-slack-request-timestamp", "²".encode("latin-1"))]
            ),
            "duplicated: two wrong signatures": Attempt(
                body, [*headers(now, wrong), ("x-slack-signature", sig(now, secret=OTHER))]
            ),
        }

    return Surface(
        name, "/slack/events", content_type, True, lambda now: Attempt(body, headers(now, sig(now))), attacks
    )


# ---- Teams -------------------------------------------------------------------------------------


def _segments(raw: str) -> list[str]:
    return raw.split(".")


def _b64url(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(service_url: str, **extra: Any) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token(service_url, **extra), options={"verify_signature": False})
    return claims


def teams_surface(activity: dict[str, Any], service_url: str) -> Surface:
    """Bot Framework JWTs in `Authorization: Bearer`: the token binds the issuer, audience, lifetime
    and serviceUrl; the body itself is not signed, so "altered" means a serviceUrl the token was not
    issued for, or claims changed after signing."""
    body = json.dumps(activity).encode()

    def bearer(value: str) -> Headers:
        return [("authorization", f"Bearer {value}")]

    def attacks(now: int) -> dict[str, Attempt]:
        fresh = token(service_url)
        expired = token(service_url, exp=now - 600, nbf=now - 7200, iat=now - 7200)
        header, claims, _ = _segments(fresh)
        spliced = f"{header}.{claims}.{_segments(expired)[2]}"
        evil_claims = _b64url({**_claims(service_url), "aud": "00000000-0000-0000-0000-000000000000"})
        none = f"{_b64url({'alg': 'none', 'typ': 'JWT', 'kid': KID})}.{_b64url(_claims(service_url))}."
        pem = SIGNING_KEY.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        hs_input = f"{_b64url({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{_b64url(_claims(service_url))}"
        hs256 = f"{hs_input}.{_b64url(_mac(pem, hs_input.encode()))}"
        other_url = json.dumps({**activity, "serviceUrl": "https://smba.trafficmanager.net/evil/"}).encode()
        return {
            "missing": Attempt(body, []),
            "wrong": Attempt(body, bearer("abc.def.ghi")),
            "another key": Attempt(body, bearer(token(service_url, key=OTHER_KEY))),
            "stale (expired)": Attempt(body, bearer(expired)),
            "future (not yet valid)": Attempt(body, bearer(token(service_url, nbf=now + 600, iat=now + 600))),
            "replay: fresh claims, old signature": Attempt(body, bearer(spliced)),
            "altered body: serviceUrl the token was not issued for": Attempt(other_url, bearer(fresh)),
            "altered token: audience changed after signing": Attempt(
                body, bearer(f"{header}.{evil_claims}.{_segments(fresh)[2]}")
            ),
            "trick: alg none": Attempt(body, bearer(none)),
            "trick: HS256 keyed with the RSA public key": Attempt(body, bearer(hs256)),
            "trick: lower-case scheme and inner whitespace, another key": Attempt(
                body, [("AUTHORIZATION", f"bearer \t  {token(service_url, key=OTHER_KEY)}")]
            ),
            "duplicated: two bad tokens": Attempt(
                body, [*bearer(expired), *bearer(token(service_url, key=OTHER_KEY))]
            ),
            "duplicated: a bad token before a valid one": Attempt(body, [*bearer(spliced), *bearer(fresh)]),
        }

    return Surface(
        "teams",
        "/api/messages",
        "application/json",
        True,
        lambda now: Attempt(body, bearer(token(service_url))),
        attacks,
    )


def now() -> int:
    return int(time.time())
