"""`hotloop init`: a `.env` in the working directory holding a generated HOTLOOP_SECRET_KEY, owner-only.

Every command reads that file (bot/settings.py), so the key that seals the stored source secrets stays
the same from one start to the next. `replace_env_key` is what `hotloop secrets rekey --new-key` uses
to move the file to the new key once the database holds the secrets under it.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path

from pydantic import SecretStr

from bot.crypto import new_secret
from bot.settings import Settings

KEY_VARIABLE = "HOTLOOP_SECRET_KEY"
_KEY_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?HOTLOOP_SECRET_KEY[ \t]*=.*$", re.MULTILINE)
# defaults that read better than their stored values
_SHOWN_DEFAULTS = {
    "database_url": "sqlite+aiosqlite:///./hotloop.db",
    "public_url": "https://hotloop.example.com",  # an example: unset, only webhook paths are printed
}

_HEADER = """\
# hotloop settings, read by every `hotloop` command started in this folder; real environment variables
# win over this file. Keep it private (it is created owner-only): the key below seals the survey
# sources' signing secrets stored in the database, which cannot be read without it. Change the key
# only with `hotloop secrets rekey` (README, "Command line").
"""


class EnvFileError(RuntimeError):
    """The `.env` file cannot be written as asked."""


def holds_key(text: str) -> bool:
    return _KEY_LINE.search(text) is not None


def _default_text(name: str, settings_default: object) -> str:
    if name in _SHOWN_DEFAULTS:
        return _SHOWN_DEFAULTS[name]
    if isinstance(settings_default, SecretStr) or settings_default is None:
        return ""
    if isinstance(settings_default, bool):
        return str(settings_default).lower()
    if isinstance(settings_default, Enum):
        return str(settings_default.value)
    if isinstance(settings_default, list):
        return ",".join(str(item) for item in settings_default)
    return str(settings_default)


def env_template(key: str) -> str:
    """The new file: the key, then every other setting commented out with its default."""
    lines = [_HEADER + f"{KEY_VARIABLE}={key}", "",
             "# Other settings, commented out with their defaults (README, \"Configuration reference\"):"]
    for name, field in Settings.model_fields.items():
        if name == "secret_key":
            continue
        default = field.get_default(call_default_factory=True)
        lines.append(f"# HOTLOOP_{name.upper()}={_default_text(name, default)}")
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str, *, exclusive: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def init_env_file(path: Path) -> str:
    """Create `path` with a new key (or add one to an existing file without a key); returns what was
    done. Never replaces a key: the stored secrets are sealed with it."""
    key = new_secret()
    try:
        _write_private(path, env_template(key), exclusive=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise EnvFileError(f"cannot write {path}: {exc.strerror}") from exc
    else:
        return f"wrote {path} (owner-only) with a new {KEY_VARIABLE}"
    text = path.read_text(encoding="utf-8")
    if holds_key(text):
        raise EnvFileError(
            f"{path} already holds {KEY_VARIABLE}; not replacing it (the stored source secrets are "
            "sealed with it): `hotloop secrets rekey` changes it safely"
        )
    separator = "" if not text or text.endswith("\n") else "\n"
    _write_private(path, f"{text}{separator}{KEY_VARIABLE}={key}\n", exclusive=False)
    return f"added a new {KEY_VARIABLE} to {path} (now owner-only)"


def replace_env_key(path: Path, key: str) -> None:
    """Put `key` in place of the key line of `path`, atomically (a crash leaves the old file whole)."""
    text = path.read_text(encoding="utf-8")
    quoted = f"'{key}'"  # single quotes: dotenv reads the value literally (no '#' comment, no escapes)
    updated = _KEY_LINE.sub(lambda _match: f"{KEY_VARIABLE}={quoted}", text, count=1)
    staging = path.with_name(path.name + ".new")
    _write_private(staging, updated, exclusive=False)
    os.replace(staging, path)
