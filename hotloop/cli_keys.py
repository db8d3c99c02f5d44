"""`hotloop init` and `hotloop secrets rekey`: the key that seals the stored source secrets.

    hotloop init                                     .env here, with a new HOTLOOP_SECRET_KEY
    hotloop secrets rekey --old-key OLD              secrets sealed with OLD → the current key
    hotloop secrets rekey --new-key NEW              the current key → NEW (and .env, when it holds the key)
    hotloop secrets rekey --old-key OLD --new-key NEW

Rekeying is one transaction: every source secret and API token is re-sealed, or none is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from hotloop.cli_common import fail, load_settings, with_context

secrets_app = typer.Typer(help="The key that seals stored secrets (HOTLOOP_SECRET_KEY).",
                          no_args_is_help=True)
_PLAIN_KEY = re.compile(r"^[^\s'\"\\#]+$")  # writable unquoted in a shell and quoted in .env


def init() -> None:
    """Write .env here with a new HOTLOOP_SECRET_KEY (owner-only); every command started here reads it."""
    from bot.settings import ENV_FILE
    from hotloop.first_run import EnvFileError, init_env_file

    try:
        done = init_env_file(Path.cwd() / ENV_FILE)
    except EnvFileError as exc:
        raise fail(str(exc)) from exc
    typer.echo(done)
    if os.environ.get("HOTLOOP_SECRET_KEY"):
        typer.echo("note: HOTLOOP_SECRET_KEY is also set in the environment, and wins over .env", err=True)
    typer.echo("next: hotloop serve (the other settings are listed, commented out, in .env)")


def _checked_new_key(new_key: str) -> str:
    from bot.settings import MIN_SECRET_KEY_LENGTH, weak_secret_key

    if weak_secret_key(new_key):
        raise fail(f"--new-key must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters "
                   "(e.g. python3 -c 'import secrets;print(secrets.token_urlsafe(32))')", code=2)
    if not _PLAIN_KEY.match(new_key):
        raise fail("--new-key must not contain spaces, quotes, backslashes or #", code=2)
    return new_key


@secrets_app.command("rekey")
def rekey(
    old_key: Annotated[str | None, typer.Option(
        "--old-key", envvar="HOTLOOP_OLD_SECRET_KEY",
        help="The key the stored secrets were sealed with (default: HOTLOOP_SECRET_KEY)")] = None,
    new_key: Annotated[str | None, typer.Option(
        "--new-key", envvar="HOTLOOP_NEW_SECRET_KEY",
        help="The key to seal them with (default: HOTLOOP_SECRET_KEY); .env is updated when it holds the key")
    ] = None,
) -> None:
    """Re-seal every stored source secret and API token under another key, all or nothing."""
    from bot.config.sources import rekey_secrets
    from bot.crypto import SecretBox

    if old_key is None and new_key is None:
        raise fail("give --old-key (the key the secrets were sealed with) and/or --new-key", code=2)
    settings = load_settings()
    current, current_key = SecretBox.from_settings(settings), settings.secret_key.get_secret_value()
    if new_key is not None:
        _checked_new_key(new_key)
    if (old_key or current_key) == (new_key or current_key):
        raise fail("the old and the new key are the same: nothing to do", code=2)
    old = SecretBox(old_key) if old_key is not None else current
    new = SecretBox(new_key) if new_key is not None else current
    moved, stored = with_context(settings, lambda ctx: rekey_secrets(ctx.sessions, old=old, new=new))
    typer.echo(f"re-sealed {moved} of the {stored} stored secrets under the new key")
    if new_key is not None:
        _move_env_to(new_key)


def _move_env_to(new_key: str) -> None:
    """Point .env at the new key when that is where the key came from; otherwise say what to do."""
    from bot.settings import ENV_FILE
    from hotloop.first_run import holds_key, replace_env_key

    env_file = Path.cwd() / ENV_FILE
    if "HOTLOOP_SECRET_KEY" not in os.environ and env_file.is_file() and holds_key(env_file.read_text()):
        try:
            replace_env_key(env_file, new_key)
        except OSError as exc:
            raise fail(f"the secrets are sealed under the new key, but {env_file} could not be updated "
                       f"({exc.strerror}): set HOTLOOP_SECRET_KEY to the new key there yourself") from exc
        typer.echo(f"{env_file} now holds the new key: restart hotloop")
        return
    typer.echo("now set HOTLOOP_SECRET_KEY to the new key where it is configured, and restart hotloop")
