"""`hotloop` command line (Typer). Every command builds settings with `build_settings()`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.settings import Role, Settings, SettingsError, build_settings

T = TypeVar("T")
app = typer.Typer(help="hotloop: close the loop on customer feedback from Slack and Microsoft Teams.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
source_app = typer.Typer(help="Survey sources (webhook senders).", no_args_is_help=True)
alerts_app = typer.Typer(help="Hot alerts.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration as code (YAML).", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules.", no_args_is_help=True)
teams_app = typer.Typer(help="Microsoft Teams app package.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (source_app, "source"), (alerts_app, "alerts"), (config_app, "config"),
                  (rules_app, "rules"), (teams_app, "teams")):
    app.add_typer(sub, name=name)


def _settings(**overrides: Any) -> Settings:
    try:
        return build_settings(**overrides)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def _with_context(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from bot.context import Context
    from storage.migrate import upgrade

    async def run() -> T:
        await upgrade(settings.effective_database_url)
        ctx = await Context.open(settings)
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    return asyncio.run(run())


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@app.command(
    help="Run hotloop (HOTLOOP_DATABASE_URL picks the database; "
    "SQLite file in the working directory by default)."
)
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    role: Annotated[
        Role, typer.Option(help="web: HTTP only; worker: delivery + schedules; all: both")
    ] = Role.ALL,
) -> None:
    import uvicorn

    from adapters.web import create_app
    from bot.telemetry import configure_logging
    from storage.migrate import upgrade

    settings = _settings()
    configure_logging(level=settings.log_level, json=settings.log_json)

    async def migrate(s: Settings) -> None:
        await upgrade(s.effective_database_url)

    uvicorn.run(create_app(settings, role=role, prepare_schema=migrate), host=host, port=port,
                log_level=settings.log_level, access_log=False, lifespan="on")


@app.command()
def demo(
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Keep serving after the demo")] = False,
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port)")] = 0,
) -> None:
    """Run the real server on a throw-away SQLite file and send it realistic signed feedback."""
    from bot.demo import run_demo
    from bot.telemetry import configure_logging

    configure_logging(level="warning", json=False)
    asyncio.run(run_demo(echo=typer.echo, keep_running=keep_running, port=port or None))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations."""
    from storage.migrate import upgrade

    settings = _settings()
    asyncio.run(upgrade(settings.effective_database_url, revision))
    typer.echo(f"database at {revision}")


@source_app.command("add")
def source_add(
    name: str,
    kind: Annotated[
        str, typer.Option(help="generic|typeform|formbricks|delighted|qualtrics|surveymonkey")
    ] = "generic",
    secret: Annotated[
        str | None,
        typer.Option(help="Signing secret as the platform defines it (generated if omitted)"),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="API base URL, for platforms that send only ids")
    ] = None,
    api_token: Annotated[str | None, typer.Option(help="API token, for platforms that send only ids")] = None,
) -> None:
    """Register a survey source; prints its webhook path and secret."""
    from bot.sources import SourceConfigError, add_source

    settings = _settings()
    try:
        created = _with_context(settings, lambda ctx: add_source(
            ctx.sessions, ctx.secrets, name=name, kind=kind, secret=secret, api_url=api_url,
            api_token=api_token))
    except SourceConfigError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"source {created.name} ({created.kind})\n"
               f"  webhook: {settings.public_url.rstrip('/')}{created.path}\n"
               f"  secret:  {created.secret}")


@source_app.command("list")
def source_list() -> None:
    """List sources (secrets are never shown)."""
    from bot.sources import list_sources

    rows = _with_context(_settings(), lambda ctx: list_sources(ctx.sessions))
    for row in rows:
        typer.echo(f"{row.name:<20} {row.kind:<13} /webhooks/{row.name}")
    if not rows:
        typer.echo("no sources yet: hotloop source add NAME --kind generic")


@source_app.command("rotate-secret")
def source_rotate(name: str, secret: Annotated[str | None, typer.Option()] = None) -> None:
    """Replace a source's signing secret; prints the new one."""
    from bot.sources import SourceConfigError, rotate_secret

    try:
        new = _with_context(
            _settings(), lambda ctx: rotate_secret(ctx.sessions, ctx.secrets, name=name, secret=secret)
        )
    except SourceConfigError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"new secret for {name}: {new}")


@source_app.command("map")
def source_map(
    name: str, pairs: Annotated[list[str], typer.Argument(help="nps=QID1 contact=QID5 attr.location=StoreID")]
) -> None:
    """Override which question or field carries NPS, contact request, comment or an attribute."""
    from bot.sources import SourceConfigError, set_mapping

    mapping: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"expected key=value, got {pair!r}")
        if key.startswith("attr."):
            mapping.setdefault("attributes", {})[key[5:]] = value
        else:
            mapping[key] = value
    try:
        _with_context(_settings(), lambda ctx: set_mapping(ctx.sessions, name=name, mapping=mapping))
    except SourceConfigError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"mapping for {name} updated: {json.dumps(mapping)}")


@alerts_app.command("list")
def alerts_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    status: Annotated[str | None, typer.Option(help="open|claimed|snoozed|resolved")] = None,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """Recent alerts, newest first."""
    from storage import queries

    async def work(ctx: Any) -> list[dict[str, Any]]:
        async with ctx.sessions() as session:
            teams = {t.id: t.name for t in await queries.list_teams(session)}
            alerts = await queries.list_alerts(session, status=status, limit=limit)
        return [{"key": a.key, "severity": a.severity, "status": a.status, "team": teams.get(a.team_id),
                 "owner": a.owner_name, "created_at": a.created_at.isoformat(), "reasons": a.reasons,
                 "default_route": a.routed_by_default} for a in alerts]

    for row in _with_context(_settings(), work):
        if as_json:
            typer.echo(json.dumps(row))
        else:
            typer.echo(f"{row['key']:<9} {row['severity']:<9} {row['status']:<9} {row['team'] or '-':<14} "
                       f"{row['owner'] or '-':<14} {'; '.join(row['reasons'])}")


@config_app.command("export")
def config_export(
    out: Annotated[Path | None, typer.Option("--out", help="File (stdout if omitted)")] = None,
) -> None:
    """Teams, routes, rules, SLAs, escalation and admins as YAML."""
    from bot.config_io import dump_yaml, export_config

    text = dump_yaml(_with_context(_settings(), lambda ctx: export_config(ctx.sessions)))
    if out:
        out.write_text(text)
    else:
        typer.echo(text, nl=False)


@config_app.command("import")
def config_import(file: Path) -> None:
    """Replace the configuration with FILE.yaml, all or nothing."""
    from bot.config_io import ConfigError, import_config, load_yaml

    try:
        doc = load_yaml(file.read_text())
        summary = _with_context(_settings(), lambda ctx: import_config(ctx.sessions, doc))
    except (ConfigError, OSError) as exc:
        raise _fail(f"nothing imported: {exc}") from exc
    typer.echo(f"imported {file}: {summary}")


@rules_app.command("test")
def rules_test(
    file: Path, source: Annotated[str, typer.Option(help="Source name the rules see")] = "generic"
) -> None:
    """Show which rule fires for a generic-webhook JSON body, and why."""
    from bot.config_snapshot import load_snapshot
    from bot.generic_body import GenericBodyError, feedback_from_generic
    from bot.rules import evaluate, explain

    try:
        item = feedback_from_generic(json.loads(file.read_bytes()))
    except (GenericBodyError, OSError, ValueError) as exc:
        raise _fail(f"cannot read {file}: {exc}") from exc
    settings = _settings()
    config = _with_context(settings, lambda ctx: load_snapshot(ctx.sessions))
    decision = evaluate(item, rules=config.rules, alarming_words=settings.alarming_words, source=source)
    typer.echo(explain(decision))


@app.command()
def stats(
    days: Annotated[int, typer.Option(help="Window in days")] = 7,
    team: Annotated[str | None, typer.Option(help="Only this team")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Response rate, median time to claim and resolve, open and breached counts per team."""
    from bot.domain import utcnow
    from bot.metrics import format_rate, format_seconds, loop_figures

    rows = _with_context(_settings(), lambda ctx: loop_figures(ctx.sessions, now=utcnow(),
                                                               window=timedelta(days=days), team=team))
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row.as_dict()))
            continue
        typer.echo(f"{row.team:<16} raised {row.raised:<5} responded {format_rate(row.response_rate):<6} "
                   f"claim {format_seconds(row.median_claim):<8} "
                   f"resolve {format_seconds(row.median_resolve):<8} "
                   f"open {row.open:<4} breached {row.breached}")


@teams_app.command("package")
def teams_package(
    out: Annotated[Path, typer.Option(help="Zip to write")] = Path("hotloop-teams.zip"),
    bot_id: Annotated[str | None, typer.Option(help="Entra app id (default HOTLOOP_TEAMS_APP_ID)")] = None,
) -> None:
    """Write the Teams app package (manifest.json + icons) to upload in Teams."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from manifest.teams_package import build_teams_package

    settings = _settings(mode="demo") if bot_id else _settings()
    path = build_teams_package(out, bot_id=bot_id or settings.teams_app_id or None)
    typer.echo(f"wrote {path}")


def main() -> None:
    app()
