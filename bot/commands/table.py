"""The admin command grammar shared by Slack's `/hotloop …` and the same words sent to the bot in Teams.

ONE table (`COMMANDS`) maps a command path (`("route", "add")`) to its handler, usage line, summary
and whether only admins may run it. `run_command` finds the entry, checks the caller, runs the
handler and always answers with a `CommandReply` (it never raises). Handlers live in
bot/command_handlers*.py; a successful configuration change answers `changed_config=True` and the
dispatcher then drops the cached config snapshot.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import structlog

from bot.commands import access, privacy, web
from bot.commands import coach as people
from bot.commands import destinations as where
from bot.commands import policy as policy
from bot.commands import reports as info
from bot.commands import systemic as spikes
from bot.commands.base import (
    Caller,
    CommandError,
    CommandReply,
    Handler,
    UsageError,
    is_admin,
)
from bot.context import Context

__all__ = ["COMMANDS", "Caller", "Command", "CommandReply", "command_names", "run_command"]

log = structlog.get_logger("hotloop.commands")
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Command:
    handler: Handler
    usage: str
    summary: str
    admin: bool = False
    example: str | None = None


async def _help(args: str, *, caller: Caller, ctx: Context) -> CommandReply:
    return help_text(args.split())


_A = True  # admin-only, for legibility in the table below

COMMANDS: dict[tuple[str, ...], Command] = {
    ("help",): Command(
        _help, "help [command]", "list the commands, or explain one", example="help route add"
    ),
    ("route", "add"): Command(
        where.route_add,
        "route add <match> team <name> [priority N]",
        "send alerts matching every condition to a team (severity may be compared: severity>=high)",
        _A,
        "route add location=042 severity>=high team store-042 priority 10",
    ),
    ("route", "list"): Command(where.route_list, "route list", "show the routes in the order they are tried"),
    ("route", "remove"): Command(
        where.route_remove, "route remove <id>", "delete a route (ids: route list)", _A, "route remove 3"
    ),
    ("route", "here"): Command(
        where.route_here,
        "route here <match> [priority N]",
        "route matching alerts to this channel's team (a team named after the channel is created if needed)",
        _A,
        "route here region=north",
    ),
    ("team", "add"): Command(
        where.team_add,
        "team add <name> [channel <channel>]",
        "create a team",
        _A,
        "team add store-042 channel #store-042",
    ),
    ("team", "list"): Command(where.team_list, "team list", "show teams, their channels, managers and hours"),
    ("team", "managers"): Command(
        where.team_managers,
        "team managers <name> add|remove <user>",
        "choose who may manage a team's alerts (reassign, resolve, reopen)",
        _A,
        "team managers store-042 add @dana",
    ),
    ("team", "hours"): Command(
        where.team_hours,
        "team hours <name> <timezone> <days> <start>-<end> | team hours <name> off",
        "business hours: SLA clocks only run while the team is open",
        _A,
        "team hours store-042 Europe/Paris mon-fri 09:00-18:00",
    ),
    ("link", "team"): Command(
        where.link_team,
        "link team <name>",
        "make this channel the team's alert channel (on this platform)",
        _A,
        "link team store-042",
    ),
    ("link", "managers"): Command(
        where.link_managers,
        "link managers <name>",
        "make this channel where the team's managers get escalations and nags",
        _A,
        "link managers store-042",
    ),
    ("sla", "set"): Command(
        policy.sla_set,
        "sla set <severity> claim <duration> resolve <duration> [team <name>]",
        "deadlines to claim and resolve alerts of a severity (for every team, or one)",
        _A,
        "sla set critical claim 15m resolve 4h team store-042",
    ),
    ("sla", "list"): Command(policy.sla_list, "sla list", "show the SLA deadlines"),
    ("rule", "add"): Command(
        policy.rule_add,
        "rule add <name> <condition> then <severity|none> [priority N]",
        "decide which responses alert, and how severely, before the built-in rules",
        _A,
        "rule add vip attr.tier=vip and nps<=8 then critical priority 10",
    ),
    ("rule", "list"): Command(
        policy.rule_list, "rule list", "show the custom rules in the order they are tried"
    ),
    ("rule", "remove"): Command(
        policy.rule_remove, "rule remove <name>", "delete a custom rule", _A, "rule remove vip"
    ),
    ("rule", "test"): Command(
        policy.rule_test,
        "rule test [source <name>] <generic JSON body>",
        "show what the rules decide for a response, and why",
        example='rule test {"nps": 3, "comment": "rude staff"}',
    ),
    ("escalation", "set"): Command(
        policy.escalation_set,
        "escalation set <team|*> <level> after <duration> to <slack|teams>:<destination>",
        "who is pulled in, and when, after an alert breaches its SLA ('*' = every team)",
        _A,
        "escalation set store-042 1 after 30m to slack:#store-managers",
    ),
    ("escalation", "list"): Command(
        policy.escalation_list, "escalation list [team]", "show escalation steps", _A
    ),
    ("escalation", "clear"): Command(
        policy.escalation_clear,
        "escalation clear <team|*>",
        "delete a team's escalation steps",
        _A,
        "escalation clear store-042",
    ),
    ("source", "add"): Command(
        access.source_add,
        "source add <name> <kind> [secret]",
        "accept webhooks at /webhooks/<name> (kinds: generic, typeform, formbricks, delighted, qualtrics, "
        "surveymonkey); the reply shows the signing secret to you only",
        _A,
        "source add web generic",
    ),
    ("source", "list"): Command(
        access.source_list, "source list", "show the sources and their webhook URLs", _A
    ),
    ("source", "rotate-secret"): Command(
        access.source_rotate_secret,
        "source rotate-secret <name>",
        "replace a source's signing secret (shown to you only)",
        _A,
        "source rotate-secret web",
    ),
    ("admin", "add"): Command(
        access.admin_add,
        "admin add <user>",
        "let someone change hotloop's configuration",
        _A,
        "admin add @dana",
    ),
    ("admin", "remove"): Command(
        access.admin_remove,
        "admin remove <user>",
        "take admin rights away (not the last)",
        _A,
        "admin remove @dana",
    ),
    ("admin", "list"): Command(access.admin_list, "admin list", "show who the admins are"),
    ("erase",): Command(
        privacy.erase,
        "erase <email>",
        "erase every stored trace of a customer (responses, events, e-mails); their cards show [erased]",
        _A,
        "erase dana@example.com",
    ),
    ("mine",): Command(info.mine, "mine", "your open, claimed and snoozed alerts with their deadlines"),
    ("stats",): Command(
        info.stats,
        "stats [7d|30d] [team]",
        "closed-loop figures: response rate, time to claim and resolve, SLA breaches",
        example="stats 30d store-042",
    ),
    ("status",): Command(
        info.status, "status", "chat delivery health: sent, failed and waiting cards, the failures", _A
    ),
    ("web",): Command(
        web.web_link, "web", "a sign-in link to the dashboard, for you only (works once, for 5 minutes)"
    ),
    ("systemic", "set"): Command(
        spikes.systemic_set,
        "systemic set <team|*> [window 2h] [min 3] [sensitivity 0.01] [on|off] | systemic set <team|*> reset",
        "tune systemic-spike detection for a team ('*' = every team); reset follows HOTLOOP_SYSTEMIC_*",
        _A,
        "systemic set store-042 window 4h min 5",
    ),
    ("systemic", "show"): Command(
        spikes.systemic_show, "systemic show [team]", "show each team's systemic-spike detection settings"
    ),
    ("coach",): Command(
        people.coach,
        "coach <name>",
        "a frontline employee's alerts, outcomes, recovery and scores by week (managers and admins)",
        example="coach Jessica C",
    ),
    ("config", "export"): Command(
        info.config_export, "config export", "the whole configuration as YAML (shown to you only)", _A
    ),
}


def command_names() -> list[str]:
    """The top-level command words, e.g. for app manifests."""
    return sorted({path[0] for path in COMMANDS})


def _group(word: str) -> list[tuple[tuple[str, ...], Command]]:
    return [(path, command) for path, command in COMMANDS.items() if path[0] == word]


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), options, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def help_text(words: list[str]) -> CommandReply:
    words = [w.lower() for w in words]
    if not words:
        lines = ["hotloop commands (* = admins only); 'help <command>' explains one:"]
        lines += [f"  {c.usage}{'  *' if c.admin else ''}" for c in COMMANDS.values()]
        return CommandReply("\n".join(lines))
    command = COMMANDS.get(tuple(words[:2])) or COMMANDS.get(tuple(words[:1]))
    if command is not None:
        lines = [f"Usage: {command.usage}", command.summary[:1].upper() + command.summary[1:] + "."]
        if command.example:
            lines.append(f"Example: {command.example}")
        lines.append("Only hotloop admins can run it." if command.admin else "Anyone can run it.")
        return CommandReply("\n".join(lines))
    group = _group(words[0])
    if group:
        lines = [f"'{words[0]}' commands:", *(f"  {c.usage}  — {c.summary}" for _, c in group)]
        return CommandReply("\n".join(lines))
    hint = _suggest(words[0], command_names())
    return CommandReply(f"No command {words[0]!r}.{hint} Type 'help' for the list.", ok=False)


def _clean(text: str) -> str:
    """Undo what chat clients do to typed text: Slack's &lt; &gt; &amp; and "smart" quotes."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    for fancy, plain in (("“", '"'), ("”", '"'), ("„", '"'), ("‘", "'"), ("’", "'")):
        text = text.replace(fancy, plain)
    text = text.strip()
    first, _, rest = text.partition(" ")
    if first.lower() in ("/hotloop", "hotloop", "@hotloop"):  # the command name typed again in Teams
        text = rest.strip()
    return text


def _find(text: str) -> tuple[tuple[str, ...], Command, str] | CommandReply:
    parts = text.split(maxsplit=2)
    words = [p.lower() for p in parts[:2]]
    if len(words) == 2 and tuple(words) in COMMANDS:
        return tuple(words), COMMANDS[tuple(words)], parts[2] if len(parts) > 2 else ""
    if (words[0],) in COMMANDS:
        rest = text.split(maxsplit=1)
        return (words[0],), COMMANDS[(words[0],)], rest[1] if len(rest) > 1 else ""
    group = _group(words[0])
    if not group:
        hint = _suggest(words[0], command_names())
        return CommandReply(f"Unknown command {parts[0]!r}.{hint} Type 'help' for the list.", ok=False)
    subs = [path[1] for path, _ in group]
    asked = f"{words[1]!r} is not a {words[0]!r} command." if len(words) > 1 else f"'{words[0]}' needs more."
    hint = _suggest(words[1], subs) if len(words) > 1 else ""
    usages = "\n".join(f"  {command.usage}" for _, command in group)
    return CommandReply(f"{asked}{hint} Usage:\n{usages}", ok=False)


async def _refusal(path: tuple[str, ...], caller: Caller, ctx: Context) -> CommandReply | None:
    admin, anyone = await is_admin(ctx, caller)
    if admin:
        return None
    # who the admins are is not told to whoever was refused
    who = "ask a hotloop admin" if anyone else "nobody is an admin yet (set HOTLOOP_ADMINS)"
    return CommandReply(f"Only hotloop admins can use '{' '.join(path)}'; {who}.", ok=False)


async def _dispatch(text: str, *, caller: Caller, ctx: Context) -> CommandReply:
    if len(text) > MAX_TEXT or "\x00" in text:
        return CommandReply(f"That command is too long or has a NUL character (limit {MAX_TEXT}).", ok=False)
    if not text:
        return help_text([])
    found = _find(text)
    if isinstance(found, CommandReply):
        return found
    path, command, args = found
    if command.admin and (refused := await _refusal(path, caller, ctx)) is not None:
        return refused
    try:
        return await command.handler(args, caller=caller, ctx=ctx)
    except UsageError as exc:
        return CommandReply(f"{exc.message}\nUsage: {command.usage}", ok=False)
    except CommandError as exc:
        return CommandReply(exc.message, ok=False)


async def run_command(text: str, *, caller: Caller, ctx: Context) -> CommandReply:
    """Run one command line for `caller`; always answers, never raises."""
    try:
        reply = await _dispatch(_clean(text), caller=caller, ctx=ctx)
    except Exception:
        # the text may hold a secret (source add … <secret>) or an address (erase <email>): neither is logged
        words = [w for w in text.split()[:2] if "@" not in w]
        log.exception("command failed", command=words, user=caller.actor.id)
        ctx.config.invalidate()
        return CommandReply("Something went wrong running that command; the error has been logged.", ok=False)
    if reply.changed_config:
        ctx.config.invalidate()
    return reply
