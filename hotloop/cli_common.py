"""What every `hotloop` command shares: settings, the database check, the context, one-line failures.

A command that cannot start says why in one line on stderr and exits 2 (configuration) or 1 (the
request itself was refused); it never prints a traceback for a mistake in the environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import typer

from bot.settings import Settings, SettingsError, build_settings

T = TypeVar("T")


def load_settings(**overrides: Any) -> Settings:
    try:
        return build_settings(**overrides)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def fail(message: str, *, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def run_on_database(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `work`; a bad HOTLOOP_DATABASE_URL, an unreachable database or a key that does not open the
    stored secrets ends the command with one line and exit code 2."""
    from bot.config.sources import SecretKeyMismatchError
    from storage.db import DatabaseConfigError

    try:
        return asyncio.run(work())
    except (DatabaseConfigError, SecretKeyMismatchError) as exc:
        raise fail(str(exc), code=2) from exc


def with_context(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Check the database, migrate it, and run `work(ctx)` on a fresh Context."""
    from bot.context import Context
    from storage.db import check_connection
    from storage.migrate import upgrade

    async def run() -> T:
        await check_connection(settings.effective_database_url)
        await upgrade(settings.effective_database_url)
        ctx = await Context.open(settings)
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    return run_on_database(run)


def preflight(settings: Settings) -> None:
    """Before `serve` starts anything: the database answers, and HOTLOOP_SECRET_KEY opens every stored
    source secret (or the command ends with one line saying so)."""
    from bot.config.sources import check_stored_secrets
    from bot.crypto import SecretBox
    from storage.db import check_connection

    async def check() -> None:
        await check_connection(settings.effective_database_url)
        await check_stored_secrets(settings.effective_database_url, SecretBox.from_settings(settings))

    run_on_database(check)
