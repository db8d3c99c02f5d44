"""`hotloop alerts claim|resolve|reopen KEY`: the card's actions from a terminal, for admins and scripts.

Each goes through the same action table as a click (`bot.actions.table.run_action`): the same guards,
the same form checks (an outcome or root cause not offered is refused with the card form's words), the
same event, thread line and card updates. The actor is `--as NAME` (default: the login name) on platform
"cli"; whoever can run this has the database and the secret key, so they act as an admin would.
Exit code 0 when done, 1 when refused (the reason on stderr).
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from hotloop.cli_common import fail, load_settings, with_context

OUTCOMES = "recovered|contacted_not_recovered|unreachable|no_action_needed"
AsName = Annotated[str | None, typer.Option("--as", help="Who acts (default: your login name)")]


def _actor_name(name: str | None) -> str:
    if name and name.strip():
        return name.strip()[:80]
    try:
        return getpass.getuser() or "cli"
    except (KeyError, OSError):  # no login name in a container: still someone
        return "cli"


def _run(action: str, key: str, name: str | None, args: dict[str, str]) -> None:
    from bot.action_ids import ActionId
    from bot.actions.table import ActionRequest, handle, mail_kit
    from bot.alerts.lifecycle import Actor
    from bot.domain import utcnow

    who = _actor_name(name)
    request = ActionRequest(ActionId(action), key.strip().upper(), Actor(id=who, name=who, platform="cli"),
                            args)

    async def work(ctx: Any) -> tuple[bool, str]:
        # `handle`, as `run_action` calls it, without its log line: stdout is the command's answer
        reply = await handle(request, sessions=ctx.sessions, config=await ctx.config.get(), now=utcnow(),
                             mail=mail_kit(ctx, request.action))
        return reply.ok, reply.message

    ok, message = with_context(load_settings(), work)
    if not ok:
        raise fail(message)
    typer.echo(message)


def alerts_claim(key: str, as_name: AsName = None) -> None:
    """Claim an alert."""
    _run("alert.claim", key, as_name, {})


def alerts_reopen(key: str, as_name: AsName = None) -> None:
    """Reopen a resolved alert."""
    _run("alert.reopen", key, as_name, {})


def alerts_resolve(
    key: str,
    outcome: Annotated[str, typer.Option(help=OUTCOMES)],
    root_cause: Annotated[str | None, typer.Option("--root-cause", help="product|service|staff|...")] = None,
    note: Annotated[str | None, typer.Option(help="What happened, what was done")] = None,
    follow_up: Annotated[bool, typer.Option("--follow-up", help="Send the customer a follow-up")] = False,
    as_name: AsName = None,
) -> None:
    """Resolve an alert with an outcome (and a root cause, a note, a follow-up to the customer)."""
    args = {"outcome": outcome.strip(), "root_cause": (root_cause or "").strip(), "note": note or "",
            "follow_up": "true" if follow_up else "false"}
    _run("alert.resolve", key, as_name, args)


def register(alerts: typer.Typer) -> None:
    alerts.command("claim")(alerts_claim)
    alerts.command("resolve")(alerts_resolve)
    alerts.command("reopen")(alerts_reopen)
