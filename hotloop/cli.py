"""`hotloop` command line (Typer). Every command builds settings with `build_settings()`, which also
reads `.env` in the working directory (`hotloop init` writes it)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.settings import Role, Settings
from hotloop.cli_alerts import register as _register_alert_actions
from hotloop.cli_common import fail as _fail
from hotloop.cli_common import load_settings as _settings
from hotloop.cli_common import preflight as _preflight
from hotloop.cli_common import run_on_database as _run_on_database
from hotloop.cli_common import with_context as _with_context
from hotloop.cli_keys import init, secrets_app
from hotloop.cli_privacy import privacy_app

app = typer.Typer(help="hotloop: close the loop on customer feedback from Slack and Microsoft Teams.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
source_app = typer.Typer(help="Survey sources (webhook senders).", no_args_is_help=True)
alerts_app = typer.Typer(help="Hot alerts.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration as code (YAML).", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules.", no_args_is_help=True)
teams_app = typer.Typer(help="Microsoft Teams app package.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (source_app, "source"), (alerts_app, "alerts"), (config_app, "config"),
                  (rules_app, "rules"), (teams_app, "teams"), (secrets_app, "secrets"),
                  (privacy_app, "privacy")):
    app.add_typer(sub, name=name)
app.command("init")(init)
_register_alert_actions(alerts_app)  # claim | resolve | reopen KEY (hotloop/cli_alerts.py)


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
    from adapters.server import PortError, bind_socket, build_server, run_server
    from bot.telemetry import configure_logging
    from hotloop.app import create_app
    from storage.migrate import upgrade

    settings = _settings()
    try:  # before the database is checked or migrated: a port in use is said at once, in one line
        listener = bind_socket(host, port)
    except PortError as exc:
        raise _fail(str(exc)) from exc
    _preflight(settings)  # a bad database URL or a key that cannot open the stored secrets: one line, exit 2
    configure_logging(level=settings.log_level, json=settings.log_json)

    async def migrate(s: Settings) -> None:
        await upgrade(s.effective_database_url)

    run_server(build_server(create_app(settings, role=role, prepare_schema=migrate), settings), listener)


@app.command()
def demo(
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Keep serving after the demo")] = False,
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port)")] = 0,
) -> None:
    """Run the real server on a throw-away SQLite file and send it realistic signed feedback."""
    from bot.telemetry import configure_logging
    from hotloop.demo import DemoError, run_demo

    configure_logging(level="warning", json=False)
    try:
        completed = asyncio.run(run_demo(echo=typer.echo, keep_running=keep_running, port=port or None))
    except DemoError as exc:
        raise _fail(str(exc)) from exc
    if not completed:
        raise typer.Exit(130)  # Ctrl-C, as a shell reports it


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations."""
    from storage.db import check_connection
    from storage.migrate import upgrade

    url = _settings().effective_database_url

    async def migrate() -> None:
        await check_connection(url)
        await upgrade(url, revision)

    _run_on_database(migrate)
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
    from bot.config.sources import SourceConfigError, add_source

    settings = _settings()
    try:
        created = _with_context(settings, lambda ctx: add_source(
            ctx.sessions, ctx.secrets, name=name, kind=kind, secret=secret, api_url=api_url,
            api_token=api_token))
    except SourceConfigError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"source {created.name} ({created.kind})\n"
               f"  webhook: {_webhook_url(settings, created.path)}\n"
               f"  secret:  {created.secret}")


def _webhook_url(settings: Settings, path: str) -> str:
    """The full URL only when HOTLOOP_PUBLIC_URL says it: this command cannot know where (host, port,
    proxy) `hotloop serve` is reached."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + path
    return (f"http://<host>:<port>{path}  (where `hotloop serve` listens; "
            "set HOTLOOP_PUBLIC_URL to print the full URL)")


@source_app.command("list")
def source_list() -> None:
    """List sources (secrets are never shown)."""
    from bot.config.sources import list_sources

    settings = _settings()
    rows = _with_context(settings, lambda ctx: list_sources(ctx.sessions))
    base = settings.public_url.rstrip("/")
    for row in rows:
        typer.echo(f"{row.name:<20} {row.kind:<13} {base}/webhooks/{row.name}")
    if not rows:
        typer.echo("no sources yet: hotloop source add NAME --kind generic")


@source_app.command("rotate-secret")
def source_rotate(
    name: str,
    secret: Annotated[str | None, typer.Option(help="The new signing secret (generated if omitted)")] = None,
    api_token: Annotated[str | None, typer.Option(help="Also replace the source's API token")] = None,
) -> None:
    """Replace a source's signing secret (sealed under the current key); prints the new one."""
    from bot.config.sources import SourceConfigError, rotate_secret

    try:
        new = _with_context(_settings(), lambda ctx: rotate_secret(
            ctx.sessions, ctx.secrets, name=name, secret=secret, api_token=api_token))
    except SourceConfigError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"new secret for {name}: {new}")


@source_app.command("map")
def source_map(
    name: str, pairs: Annotated[list[str], typer.Argument(help="nps=QID1 contact=QID5 attr.location=StoreID")]
) -> None:
    """Override which question or field carries NPS, contact request, comment or an attribute."""
    from bot.config.sources import SourceConfigError, set_mapping

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

    rows = _with_context(_settings(), work)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    if not rows:
        typer.echo(f"no {status} alerts" if status else "no alerts yet")
        return
    typer.echo(_alert_line("KEY", "SEVERITY", "STATUS", "TEAM", "OWNER", "WHY"))
    for row in rows:
        typer.echo(_alert_line(row["key"], row["severity"], row["status"], row["team"] or "-",
                               row["owner"] or "-", "; ".join(row["reasons"])))


def _alert_line(key: str, severity: str, status: str, team: str, owner: str, why: str) -> str:
    return f"{key:<9} {severity:<9} {status:<9} {team:<14} {owner:<14} {why}"


@config_app.command("export")
def config_export(
    out: Annotated[Path | None, typer.Option("--out", help="File (stdout if omitted)")] = None,
) -> None:
    """Teams, routes, rules, SLAs, escalation and admins as YAML."""
    from bot.config.io import dump_yaml, export_config

    text = dump_yaml(_with_context(_settings(), lambda ctx: export_config(ctx.sessions)))
    if out:
        out.write_text(text)
    else:
        typer.echo(text, nl=False)


@config_app.command("import")
def config_import(file: Path) -> None:
    """Replace the configuration with FILE.yaml, all or nothing."""
    from bot.config.io import ConfigError, import_config, load_yaml

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
    from bot.config.snapshot import load_snapshot
    from bot.ingest.generic_body import GenericBodyError, feedback_from_generic
    from bot.rules.evaluate import evaluate, explain

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
    by: Annotated[str | None, typer.Option(
        help="Break the figures down by location, region, product, source, topic or employee")] = None,
    since: Annotated[str | None, typer.Option(
        help="With --by: the window, e.g. 28d (default), 7d, 12h")] = None,
    top: Annotated[int, typer.Option(help="With --by: at most this many values (0 = all)")] = 25,
    weekly: Annotated[bool | None, typer.Option("--weekly/--no-weekly", help=(
        "With --by: one line per ISO week under each value (the default for employee)"))] = None,
) -> None:
    """Response rate, median time to claim and resolve, open and breached counts per team; time to first
    contact, acknowledgement coverage, follow-up answers and confirmed recoveries (issue 14). With --by:
    the same per location, product, topic, employee… (hotloop/cli_stats.py)."""
    if by is not None:
        from hotloop.cli_stats import stats_by

        stats_by(by=by, since=since or "28d", team=team, as_json=as_json, top=top, weekly=weekly)
        return
    from bot.domain import utcnow
    from bot.metrics import customer_loop_lines, format_rate, format_seconds, loop_figures

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
        typer.echo("  " + "; ".join(f"{label.lower()} {value}" for label, value in customer_loop_lines(row)))


@teams_app.command("package")
def teams_package(
    out: Annotated[Path, typer.Option(help="Zip to write")] = Path("hotloop-teams.zip"),
    bot_id: Annotated[str | None, typer.Option(help="Entra app id (default HOTLOOP_TEAMS_APP_ID)")] = None,
) -> None:
    """Write the Teams app package (manifest.json + icons) to upload in Teams."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from manifest.teams_package import PackageError, build_teams_package

    # demo mode: packaging reads HOTLOOP_TEAMS_APP_ID and HOTLOOP_PUBLIC_URL only (the tab's address),
    # and needs none of the secrets serve needs
    settings = _settings(mode="demo")
    try:
        path = build_teams_package(out, bot_id=bot_id or settings.teams_app_id or None,
                                   public_url=settings.public_url or None)
    except PackageError as exc:
        raise _fail(str(exc), code=2) from exc
    typer.echo(f"wrote {path}")


def main() -> None:
    app()
