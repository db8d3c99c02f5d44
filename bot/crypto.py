"""Source secrets are encrypted at rest with a key derived from HOTLOOP_SECRET_KEY (Fernet)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

from bot.settings import Mode, Settings

_DEMO_KEY = "hotloop-demo-key-not-secret"


class UndecryptableSecretError(ValueError):
    """A stored secret was sealed under another key than the current HOTLOOP_SECRET_KEY."""


class SecretBox:
    def __init__(self, key_material: str) -> None:
        digest = hashlib.sha256(key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(_key_material(settings))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UndecryptableSecretError(
                "cannot decrypt a stored secret: was HOTLOOP_SECRET_KEY changed?"
            ) from exc

    def opens(self, token: str) -> bool:
        """Whether `token` was sealed under this key."""
        try:
            self.open(token)
        except UndecryptableSecretError:
            return False
        return True


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _key_material(settings: Settings) -> str:
    key = settings.secret_key.get_secret_value()
    if not key and settings.mode is not Mode.PRODUCTION:
        key = _DEMO_KEY
    return key


def purpose_key(settings: Settings, purpose: str) -> bytes:
    """A key for one purpose only (e.g. signing the links in e-mails), derived from HOTLOOP_SECRET_KEY:
    a leaked link signature says nothing about the key that seals source secrets."""
    return hmac.new(_key_material(settings).encode(), f"hotloop/{purpose}".encode(), hashlib.sha256).digest()
