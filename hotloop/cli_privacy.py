"""`hotloop privacy erase|export --email X`: a customer's right to erasure and to a copy of their data
(bot/privacy). Both are audited without the address; neither prints more than it must."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hotloop.cli_common import fail, load_settings, with_context

privacy_app = typer.Typer(help="A customer's personal data: erase it, or export what is held.",
                          no_args_is_help=True)

EmailOption = Annotated[str, typer.Option("--email", help="the customer's e-mail address")]
AsOption = Annotated[str, typer.Option("--as", help="who asks (recorded in the audit trail)")]


def _settings() -> Any:
    """Settings, with logging to stderr: the audit line goes to the log, stdout stays the answer."""
    from bot.telemetry import configure_logging

    settings = load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    return settings


def _actor(name: str) -> Any:
    from bot.alerts.lifecycle import Actor

    return Actor(id=name, name=name, platform="cli")


@privacy_app.command("erase")
def erase(email: EmailOption, as_name: AsOption = "cli") -> None:
    """Remove every stored trace of the customer; their cards in Slack and Teams show [erased]."""
    from bot.domain import utcnow
    from bot.privacy.erase import PrivacyError, erase_customer, erasure_text

    async def work(ctx: Any) -> str:
        erasure = await erase_customer(ctx.sessions, email=email, actor=_actor(as_name), now=utcnow())
        return erasure_text(erasure)

    try:
        typer.echo(with_context(_settings(), work))
    except PrivacyError as exc:
        raise fail(str(exc)) from exc
    typer.echo("The card updates go out with the next delivery run of a hotloop worker.")


@privacy_app.command("export")
def export(email: EmailOption, as_name: AsOption = "cli") -> None:
    """Print (JSON) everything hotloop holds about the customer."""
    from bot.domain import utcnow
    from bot.privacy.erase import PrivacyError
    from bot.privacy.export import export_customer

    async def work(ctx: Any) -> dict[str, Any]:
        return await export_customer(ctx.sessions, email=email, actor=_actor(as_name), now=utcnow())

    try:
        held = with_context(_settings(), work)
    except PrivacyError as exc:
        raise fail(str(exc)) from exc
    typer.echo(json.dumps(held, indent=2, ensure_ascii=False))
