"""Run every benchmark, then write one report: bench/results/REPORT.md with PNG charts.

    /work/venv/bin/python bench/report.py            # run them all (short SLA sweep and crash test)
    /work/venv/bin/python bench/report.py --full     # the long variants too (PostgreSQL as well)
    /work/venv/bin/python bench/report.py --reuse    # no runs: re-render from bench/results/*.json

Each benchmark runs as a subprocess with a time limit (SIGINT, then SIGKILL of its process group, when
it is over); a failing or timed-out one is reported in REPORT.md, never fatal. Then the JSON results
are read (whatever is there: a benchmark that never ran is shown as missing) and rendered:

| area | from |
|---|---|
| ingest vs bare baseline | ingest.json (bench/ingest.py) |
| webhook → card at 100/s, button ack, Teams invoke, burst | chat.json (bench/chat.py) |
| SLA sweep scale | sla_sweep.json (bench/sla_sweep.py) |
| crash: lost / duplicates / 500s | crash.json, or crash-short/crash.json (the short variant) |

Charts (matplotlib, Agg): latency.png (percentiles per scenario), throughput.png (ingest vs baseline),
peak_rss.png (server peak RSS per scenario), steady_timeline.png (card latency by second of sending).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
CRASH_SHORT = RESULTS / "crash-short"
PY = sys.executable


@dataclass
class Run:
    name: str
    command: list[str]
    timeout: float
    status: str = "not run"
    returncode: int | None = None
    seconds: float = 0.0
    tail: str = ""


def plan(full: bool) -> list[Run]:
    crash = (
        [PY, str(BENCH / "crash.py")]
        if full
        else [
            PY,
            str(BENCH / "crash.py"),
            "--webhooks",
            "600",
            "--kills",
            "3",
            "--skip-leases",
            "--out-dir",
            str(CRASH_SHORT),
        ]
    )
    return [
        Run(
            "ingest",
            [PY, str(BENCH / "ingest.py"), *(["--db", "both"] if full else [])],
            1200 if full else 600,
        ),
        Run("chat", [PY, str(BENCH / "chat.py")], 900),
        Run(
            "sla_sweep",
            [PY, str(BENCH / "sla_sweep.py"), *([] if full else ["--quick"])],
            3600 if full else 900,
        ),
        Run("crash", crash, 2400 if full else 600),
    ]


def execute(run: Run, logdir: Path) -> None:
    """Run one benchmark in its own process group; a time limit → SIGINT (its cleanup runs), then SIGKILL."""
    log = logdir / f"{run.name}.log"
    print(f"[report] {run.name}: {' '.join(run.command[1:])} (limit {run.timeout:.0f} s) …", flush=True)
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            run.command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            run.returncode = proc.wait(timeout=run.timeout)
            run.status = "ok" if run.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            run.status = "timeout"
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            run.returncode = proc.returncode
    run.seconds = time.monotonic() - started
    lines = log.read_text(errors="replace").splitlines()
    run.tail = "\n".join(lines[-25:])
    print(f"[report] {run.name}: {run.status} in {run.seconds:.0f} s", flush=True)


# ---------------------------------------------------------------------------------------------
# Reading results


def load(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    data["_path"] = str(path.relative_to(REPO))
    data["_mtime"] = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return data


def crash_results(ran_short: bool) -> dict[str, Any] | None:
    full, short = RESULTS / "crash.json", CRASH_SHORT / "crash.json"
    if ran_short:
        return load(short)
    candidates = [p for p in (full, short) if p.exists()]
    return load(max(candidates, key=lambda p: p.stat().st_mtime)) if candidates else None


def num(value: Any, fmt: str = ".0f") -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "–"
    return format(value, fmt)


def mark(ok: Any) -> str:
    return "✅" if ok else "❌"


def row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def head(*names: str, left: int = 1) -> list[str]:
    return [row(*names), "|" + "---|" * left + "---:|" * (len(names) - left)]


def source_line(doc: dict[str, Any] | None, what: str) -> str:
    if doc is None:
        return f"_No results: {what} has not been run (or its JSON is unreadable)._"
    command = doc.get("command") or (doc.get("meta") or {}).get("command") or "?"
    return f"_From `{doc['_path']}` ({doc['_mtime']}); command: `{command}`._"


# ---------------------------------------------------------------------------------------------
# Sections


def ingest_section(doc: dict[str, Any] | None) -> list[str]:
    out = [
        "## Ingest: POST /webhooks vs a bare FastAPI + INSERT baseline",
        "",
        source_line(doc, "bench/ingest.py"),
    ]
    if doc is None:
        return [*out, ""]
    goals = doc.get("goals", {})
    rows = doc.get("results", [])
    base = {r["db"]: r for r in rows if r.get("role") is None}
    out += [
        "",
        *head(
            "db",
            "variant",
            "accepted/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "peak RSS MB",
            "ms CPU/req",
            "× baseline",
            left=2,
        ),
    ]
    for r in rows:
        b = base.get(r["db"])
        ratio = r["accepted_per_s"] / b["accepted_per_s"] if b and b["accepted_per_s"] else None
        out.append(
            row(
                r["db"],
                r["variant"],
                num(r["accepted_per_s"]),
                num(r["p50_ms"], ".1f"),
                num(r["p99_ms"], ".1f"),
                r["errors"],
                num(r["server_peak_rss_mb"]),
                num(r.get("server_cpu_per_req_ms"), ".2f"),
                num(ratio, ".2f") if r.get("role") else "1.00",
            )
        )
    out += [
        "",
        f"Goals: ≥ {goals.get('sqlite_accepted_per_s', 1000):,.0f} accepted/s on SQLite and ≥ "
        f"{goals.get('ratio_to_baseline', 0.5)} × the baseline. The load generator shares the machine "
        "with the server; `other CPU` in ingest.md shows what else was running.",
        "",
    ]
    return out


def chat_sections(doc: dict[str, Any] | None) -> list[str]:
    src = source_line(doc, "bench/chat.py")
    r = (doc or {}).get("results", {})
    out: list[str] = []
    # webhook → card
    out += ["## Webhook → card latency at a steady rate (open loop)", "", src, ""]
    steady = [r[n] for n in ("steady", "steady4") if n in r]
    if steady:
        out += head(
            "channels",
            "rate",
            "sent",
            "webhook p99 ms",
            "card p50 s",
            "card p90 s",
            "card p99 s",
            "card max s",
            "messages (digests)",
            "lost",
            "posted twice",
        )
        for d in steady:
            s = d["card_latency_s"]
            out.append(
                row(
                    d["channels"],
                    f"{d['rate_per_s']:g}/s × {d['seconds']:g} s",
                    d["sent"],
                    num(d["webhook_ms"]["p99"]),
                    num(s["p50"], ".2f"),
                    num(s["p90"], ".2f"),
                    num(s["p99"], ".2f"),
                    num(s["max"], ".2f"),
                    f"{d['messages']} ({d['digests']})",
                    d["lost"],
                    d["duplicates"],
                )
            )
        out += ["", "![card latency by second of sending](steady_timeline.png)", ""]
    # ack
    out += ["## Slack button ack latency (200 concurrent Claim clicks)", "", src, ""]
    if a := r.get("ack"):
        s = a["ack_ms"]
        out += head(
            "clicks",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "p99 < 300 ms",
            "all 200",
            "one owner each",
            "losers told",
            "claims applied after",
        )
        out.append(
            row(
                f"{a['clicks']} on {a['clicked_alerts']} alerts",
                num(s["p50"]),
                num(s["p90"]),
                num(s["p99"]),
                num(s["max"]),
                mark(a["meets_goal"]),
                mark(a["answer_statuses"].get("200") == a["clicks"]),
                mark(a["owners_ok"]),
                f"{a['losers_told']}/{a['racing_clicks']}",
                f"{a['claims_applied_s']:.1f} s",
            )
        )
        out.append("")
    # teams
    out += ["## Teams invoke round trip (Action.Execute)", "", src, ""]
    if c := r.get("teams"):
        s = c["latency_ms"]
        out += head(
            "invokes",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "answers",
            "all 200 + card/message",
            "one owner per claimed alert",
        )
        out.append(
            row(
                f"{c['invokes']} ({c['claims']} claims, {c['racing_claims']} races, {c['notes']} notes)",
                num(s["p50"]),
                num(s["p90"]),
                num(s["p99"]),
                num(s["max"]),
                json.dumps(c["answers"]),
                mark(c["all_ok"]),
                mark(c["one_owner_per_claimed_alert"]),
            )
        )
        out.append("")
    # burst
    out += ["## Burst to one rate-limited channel (chat.postMessage 1/s per channel)", "", src, ""]
    if b := r.get("burst"):
        out += head(
            "alerts",
            "all visible after",
            "≤ 10 s",
            "messages",
            "digests",
            "429s",
            "lost",
            "posted twice",
            "keys only in fallback text",
        )
        out.append(
            row(
                b["alerts"],
                f"{b['all_visible_s']:.1f} s",
                mark(b["meets_goal"]),
                b["messages"],
                b["digests"],
                b["rate_limited_429"],
                b["lost"],
                b["duplicates"],
                b["only_in_fallback_text"],
            )
        )
        out.append("")
    for name, error in (doc or {}).get("errors", {}).items():
        out += [f"**chat.py scenario `{name}` failed:**", "", "```", error[-1500:], "```", ""]
    return out


def sla_section(doc: dict[str, Any] | None) -> list[str]:
    out = ["## SLA sweep scale (10 % of N overdue)", "", source_line(doc, "bench/sla_sweep.py")]
    if doc is None:
        return [*out, ""]
    out += [
        "",
        *head(
            "backend",
            "N",
            "due",
            "batch mean ms",
            "batch p95 ms",
            "drain s",
            "alerts/s",
            "idle sweep ms",
            "peak RSS MB",
        ),
    ]
    for r in doc.get("results", []):
        out.append(
            row(
                r["backend"],
                f"{r['n']:,}",
                f"{r['due']:,}",
                num(r["batch_ms_mean"]),
                num(r["batch_ms_p95"]),
                num(r["drain_s"], ".1f"),
                num(r["alerts_per_s"]),
                num(r["idle_sweep_ms"], ".1f"),
                num(r["peak_rss_mb"]),
            )
        )
    return [*out, ""]


def crash_section(doc: dict[str, Any] | None) -> list[str]:
    out = ["## Crash test: SIGKILL during load", "", source_line(doc, "bench/crash.py")]
    if doc is None:
        return [*out, ""]
    out += [
        "",
        *head(
            "db",
            "webhooks",
            "kills",
            "accepted",
            "lost",
            "duplicate cards",
            "dup: kill after answer",
            "cards missing",
            "500s",
            "ok",
        ),
    ]
    for r in doc.get("runs", []):
        ok = (
            r["lost"] == 0
            and r["status_500"] == 0
            and r["cards_missing"] == 0
            and r["duplicates_unexplained"] == 0
            and not r.get("failed_rows")
            and not r.get("wrong_alerts")
        )
        out.append(
            row(
                r["db"],
                r["webhooks"],
                r["kills"],
                r["accepted"],
                r["lost"],
                r["duplicates"],
                r["duplicates_in_allowed_window"],
                r["cards_missing"],
                r["status_500"],
                mark(ok),
            )
        )
    return [*out, ""]


# ---------------------------------------------------------------------------------------------
# Charts


def _save(fig: Any, name: str) -> str:
    fig.tight_layout()
    fig.savefig(RESULTS / name, dpi=110)
    plt.close(fig)
    return name


def chart_latency(ingest: dict[str, Any] | None, chat: dict[str, Any] | None) -> str | None:
    """Left: HTTP answer latency (ms, log); right: time until the card is at Slack (s)."""
    http: list[tuple[str, list[float]]] = []
    for r in (ingest or {}).get("results", []):
        http.append((f"ingest\n{r['variant']}\n({r['db']})", [r["p50_ms"], r["p90_ms"], r["p99_ms"]]))
    r = (chat or {}).get("results", {})
    if a := r.get("ack"):
        http.append(("Slack ack\n(200 clicks)", [a["ack_ms"][k] for k in ("p50", "p90", "p99")]))
    if c := r.get("teams"):
        http.append(
            (f"Teams invoke\n({c['invokes']} at once)", [c["latency_ms"][k] for k in ("p50", "p90", "p99")])
        )
    cards: list[tuple[str, list[float]]] = []
    for name in ("steady", "steady4"):
        if d := r.get(name):
            label = f"{d['rate_per_s']:g}/s → {d['channels']} ch"
            cards.append((label, [d["card_latency_s"][k] for k in ("p50", "p90", "p99")]))
    if b := r.get("burst"):
        cards.append(
            (
                f"burst {b['alerts']}\n→ 1 ch (429)",
                [b["per_alert_visible_s"][k] for k in ("p50", "p90", "p99")],
            )
        )
    if not http and not cards:
        return None
    fig, axes = plt.subplots(
        1, 2, figsize=(15, 5.6), gridspec_kw={"width_ratios": [max(len(http), 1), max(len(cards), 2)]}
    )
    colors = ["#4c72b0", "#dd8452", "#c44e52"]
    for ax, data, unit, title in (
        (axes[0], http, "ms (log scale)", "HTTP answer latency"),
        (axes[1], cards, "seconds", "Webhook → card at Slack"),
    ):
        if not data:
            ax.set_visible(False)
            continue
        width = 0.26
        for i, pname in enumerate(("p50", "p90", "p99")):
            xs = [j + (i - 1) * width for j in range(len(data))]
            values = [max(v[i], 0.01) for _, v in data]
            bars = ax.bar(xs, values, width, label=pname, color=colors[i])
            for bar, value in zip(bars, values, strict=True):
                text = f"{value:.0f}" if value >= 10 else f"{value:.1f}"
                ax.annotate(
                    text,
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    xytext=(0, 1),
                    textcoords="offset points",
                )
        ax.set_xticks(range(len(data)), [label for label, _ in data], fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", ncols=3)
        ax.margins(y=0.12)
    if http:
        axes[0].set_yscale("log")
        axes[0].axhline(300, color="green", ls="--", lw=1)
        axes[0].text(-0.45, 300, "ack goal 300 ms", color="green", fontsize=8, ha="left", va="bottom")
        axes[0].axhline(3000, color="red", ls=":", lw=1)
        axes[0].text(-0.45, 3000, "Slack gives up: 3 s", color="red", fontsize=8, ha="left", va="bottom")
    if cards:
        axes[1].axhline(10, color="green", ls="--", lw=1)
        axes[1].text(-0.45, 10, "burst goal 10 s", color="green", fontsize=8, ha="left", va="bottom")
    return _save(fig, "latency.png")


def chart_throughput(ingest: dict[str, Any] | None) -> str | None:
    rows = (ingest or {}).get("results", [])
    if not rows:
        return None
    dbs = sorted({r["db"] for r in rows}, key=lambda d: (d != "sqlite", d))
    variants = [v for v in ("baseline", "hotloop-web", "hotloop-all") if any(r["variant"] == v for r in rows)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / max(len(variants), 1)
    palette = {"baseline": "#8c8c8c", "hotloop-web": "#4c72b0", "hotloop-all": "#55a868"}
    for i, variant in enumerate(variants):
        for j, db in enumerate(dbs):
            match = [r for r in rows if r["db"] == db and r["variant"] == variant]
            if not match:
                continue
            r = match[0]
            base = [b for b in rows if b["db"] == db and b["variant"] == "baseline"]
            x = j + (i - (len(variants) - 1) / 2) * width
            ax.bar(
                x, r["accepted_per_s"], width, color=palette.get(variant), label=variant if j == 0 else None
            )
            ratio = (
                f"\n{r['accepted_per_s'] / base[0]['accepted_per_s']:.2f}×"
                if base and variant != "baseline" and base[0]["accepted_per_s"]
                else ""
            )
            ax.annotate(
                f"{r['accepted_per_s']:,.0f}{ratio}",
                (x, r["accepted_per_s"]),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 1),
                textcoords="offset points",
            )
    goal = (ingest or {}).get("goals", {}).get("sqlite_accepted_per_s")
    if goal and "sqlite" in dbs:
        ax.axhline(goal, color="green", ls="--", lw=1)
        ax.text(
            len(dbs) - 0.5,
            goal,
            f"SQLite goal {goal:,.0f}/s",
            color="green",
            fontsize=8,
            ha="right",
            va="bottom",
        )
    ax.set_xticks(range(len(dbs)), dbs)
    ax.set_ylabel("accepted webhooks / s")
    ax.set_title("Ingest throughput vs bare baseline (ratio to baseline on the bars)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.margins(y=0.15)
    return _save(fig, "throughput.png")


def chart_rss(
    ingest: dict[str, Any] | None, chat: dict[str, Any] | None, sla: dict[str, Any] | None
) -> str | None:
    items: list[tuple[str, float, str]] = []
    for r in (ingest or {}).get("results", []):
        items.append((f"ingest {r['variant']} ({r['db']})", r["server_peak_rss_mb"], "#4c72b0"))
    for name, d in (chat or {}).get("results", {}).items():
        if "server_peak_rss_mb" in d:
            items.append((f"chat {name}", d["server_peak_rss_mb"], "#dd8452"))
    for r in (sla or {}).get("results", []):
        items.append((f"SLA sweep {r['backend']} N={r['n']:,}", r["peak_rss_mb"], "#55a868"))
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(items) + 1.4))
    labels = [label for label, _, _ in items]
    values = [value for _, value, _ in items]
    ax.barh(range(len(items)), values, color=[c for _, _, c in items])
    for i, value in enumerate(values):
        ax.text(value, i, f" {value:.0f}", va="center", fontsize=8)
    ax.set_yticks(range(len(items)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("peak RSS, MB (server process; SLA sweep: the sweeping process)")
    ax.set_title("Peak memory per scenario")
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.12)
    return _save(fig, "peak_rss.png")


def chart_timeline(chat: dict[str, Any] | None) -> str | None:
    r = (chat or {}).get("results", {})
    series = [(n, r[n]) for n in ("steady", "steady4") if n in r and r[n].get("timeline")]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    for _name, d in series:
        t = d["timeline"]
        label = f"{d['rate_per_s']:g}/s to {d['channels']} channel{'s' if d['channels'] > 1 else ''}"
        ax.plot([p["second"] for p in t], [p["p50_s"] for p in t], marker="o", ms=3, label=f"{label}: median")
        ax.plot([p["second"] for p in t], [p["max_s"] for p in t], ls=":", label=f"{label}: max")
    ax.set_xlabel("second of sending (open loop)")
    ax.set_ylabel("webhook → card at Slack, s")
    ax.set_title("Card latency by second of sending (a rising line = a growing backlog)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, "steady_timeline.png")


# ---------------------------------------------------------------------------------------------
# Goals


def goals(
    ingest: dict[str, Any] | None, chat: dict[str, Any] | None, crash: dict[str, Any] | None
) -> list[str]:
    out = ["## Against the goals", ""]
    for r in (ingest or {}).get("results", []):
        if r.get("role") is None:
            continue
        base = [b for b in ingest["results"] if b["db"] == r["db"] and b.get("role") is None]
        ratio = (
            r["accepted_per_s"] / base[0]["accepted_per_s"] if base and base[0]["accepted_per_s"] else None
        )
        rate_ok = r["db"] != "sqlite" or r["accepted_per_s"] >= ingest["goals"]["sqlite_accepted_per_s"]
        ratio_ok = ratio is not None and ratio >= ingest["goals"]["ratio_to_baseline"]
        out.append(
            f"- {mark(rate_ok and ratio_ok)} ingest {r['db']} {r['variant']}: {r['accepted_per_s']:,.0f}/s, "
            f"{num(ratio, '.2f')} × baseline"
        )
    r = (chat or {}).get("results", {})
    if a := r.get("ack"):
        out.append(
            f"- {mark(a['meets_goal'])} Slack ack p99 {a['ack_ms']['p99']:.0f} ms (goal < 300 ms, max "
            f"{a['ack_ms']['max']:.0f} ms vs Slack's 3 s)"
        )
        out.append(
            f"- {mark(a['owners_ok'])} exactly one owner per clicked alert, "
            f"{a['losers_told']} race losers told"
        )
    if b := r.get("burst"):
        out.append(
            f"- {mark(b['meets_goal'])} burst of {b['alerts']}: all visible after {b['all_visible_s']:.1f} s "
            f"(goal ≤ 10 s), {b['lost']} lost, {b['duplicates']} posted twice, {b['messages']} messages"
        )
        if b["only_in_fallback_text"]:
            out.append(
                f"- ❌ {b['only_in_fallback_text']} of {b['alerts']} burst alerts appear only in a digest's "
                'fallback text (cut from the blocks as "+N more": no row, no Claim button)'
            )
    if c := r.get("teams"):
        out.append(
            f"- {mark(c['all_ok'])} Teams invokes: all 200 with a card or a message; "
            f"p99 {c['latency_ms']['p99']:.0f} ms"
        )
    for name in ("steady", "steady4"):
        if d := r.get(name):
            t = d.get("timeline") or []
            growing = len(t) > 2 and t[-1]["p50_s"] > t[0]["p50_s"] + 2
            out.append(
                f"- {mark(not growing and d['lost'] == 0)} {d['rate_per_s']:g}/s to "
                f"{d['channels']} channel(s): "
                f"card p50 {d['card_latency_s']['p50']:.1f} s, p99 {d['card_latency_s']['p99']:.1f} s"
                + (" — latency grows with time: the delivery worker falls behind" if growing else "")
            )
    for run in (crash or {}).get("runs", []):
        ok = run["lost"] == 0 and run["status_500"] == 0 and run["duplicates_unexplained"] == 0
        out.append(
            f"- {mark(ok)} crash {run['db']}: {run['lost']} lost, {run['duplicates']} duplicate cards "
            f"({run['duplicates_unexplained']} unexplained), {run['status_500']} × 500"
        )
    return [*out, ""]


# ---------------------------------------------------------------------------------------------


def render(runs: list[Run], ran_short_crash: bool, reuse: bool) -> Path:
    ingest = load(RESULTS / "ingest.json")
    chat = load(RESULTS / "chat.json")
    sla = load(RESULTS / "sla_sweep.json")
    crash = crash_results(ran_short_crash)
    charts = {
        "latency": chart_latency(ingest, chat),
        "throughput": chart_throughput(ingest),
        "rss": chart_rss(ingest, chat, sla),
    }
    chart_timeline(chat)
    machine = (chat or ingest or {}).get("machine", {})
    out = [
        "# hotloop benchmark report",
        "",
        f"- rendered {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `python bench/report.py"
        f"{' --reuse' if reuse else ''}`"
        + (" (no benchmark run: figures from the existing JSON)" if reuse else ""),
        f"- machine: {machine.get('nproc', os.cpu_count())} CPUs ({machine.get('cpu', '?')}), "
        f"{machine.get('memory_gb', '?')} GB RAM, python {machine.get('python', '?')}",
        "- every server runs as a subprocess on loopback; load generators and fakes share the same CPUs, "
        "so absolute figures are lower than on a dedicated machine",
        "",
    ]
    if runs:
        out += ["## Runs", "", *head("benchmark", "command", "status", "seconds", left=3)]
        for run in runs:
            command = "python " + " ".join(Path(c).name if c.endswith(".py") else c for c in run.command[1:])
            out.append(row(run.name, f"`{command}`", run.status, f"{run.seconds:.0f}"))
        out.append("")
        for run in runs:
            if run.status != "ok":
                out += [
                    f"**{run.name}: {run.status}** (exit {run.returncode}); last lines:",
                    "",
                    "```",
                    run.tail,
                    "```",
                    "",
                ]
    out += goals(ingest, chat, crash)
    if charts["latency"]:
        out += ["![latency percentiles per scenario](latency.png)", ""]
    out += ingest_section(ingest)
    if charts["throughput"]:
        out += ["![throughput vs baseline](throughput.png)", ""]
    out += chat_sections(chat)
    out += sla_section(sla)
    out += crash_section(crash)
    if charts["rss"]:
        out += ["## Peak memory", "", "![peak RSS](peak_rss.png)", ""]
    path = RESULTS / "REPORT.md"
    path.write_text("\n".join(out))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--reuse", action="store_true", help="run nothing; re-render from bench/results/*.json")
    mode.add_argument(
        "--full", action="store_true", help="long variants (full SLA sweep and crash test, both dbs)"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated subset of ingest,chat,sla_sweep,crash to run"
    )
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    if not args.reuse:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        runs = [r for r in plan(args.full) if not wanted or r.name in wanted]
        with tempfile.TemporaryDirectory(prefix="hotloop-report-") as tmp:
            for run in runs:
                execute(run, Path(tmp))
    ran_short = any(r.name == "crash" and r.status != "not run" for r in runs) and not args.full
    path = render(runs, ran_short, args.reuse)
    print(f"wrote {path.relative_to(REPO)} and its charts in {RESULTS.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
