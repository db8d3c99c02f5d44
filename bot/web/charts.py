"""Charts as inline SVG, drawn in Python: no JavaScript, no CDN, nothing fetched by the browser.

Each chart is accessible: `role="img"`, an `aria-label`, a `<title>` and a `<desc>` (what it shows and its
latest values), and a `DataTable` the page puts under it (the same numbers as text, for screen readers and
for anyone who prefers a table). Colours come from the Okabe–Ito palette (safe for the common colour-vision
deficiencies), and series also differ by marker shape and dash; `app.css` styles the classes. Every piece of
text (team, location and employee names, labels) is XML-escaped.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont

from bot.web.figures import FigureSeries

# Okabe & Ito (2008): blue, orange, bluish green, reddish purple, sky blue, vermillion, yellow, black
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
WIDTH, HEIGHT = 640, 260
SMALL_WIDTH, SMALL_HEIGHT = 320, 160
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40

Values = Sequence[float | None]
Format = Callable[[float], str]


@dataclass(frozen=True)
class DataTable:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    svg: str  # escaped, ready to put in the page as it is
    table: DataTable


def percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def count(value: float) -> str:
    return f"{value:.0f}"


def _fmt(value: float | None, fmt: Format) -> str:
    return "—" if value is None else fmt(value)


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value` (an axis that ends on a round number)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10.0 * power


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    top_value: float

    @property
    def plot_width(self) -> float:
        return self.width - LEFT - RIGHT

    @property
    def plot_height(self) -> float:
        return self.height - TOP - BOTTOM

    def x(self, index: int, count: int) -> float:
        return LEFT + self.plot_width * (index + 0.5) / max(count, 1)

    def y(self, value: float) -> float:
        return TOP + self.plot_height * (1 - value / self.top_value)


def _open(chart_id: str, title: str, desc: str, kind: str, width: int, height: int) -> list[str]:
    ident = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label={quoteattr(title)} '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]


def _axes(frame: _Frame, labels: Sequence[str], fmt: Format) -> list[str]:
    parts = ['<g class="axis" aria-hidden="true">']
    ends = {fmt(0.0), fmt(frame.top_value)}
    for fraction in (0.0, 0.5, 1.0):
        value = frame.top_value * fraction
        y = frame.y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{frame.width - RIGHT}" y2="{y:.1f}" '
                     'stroke="#d0d0d0"/>')
        if fraction == 0.5 and fmt(value) in ends:  # a count axis up to 1: "0.5" would print as 0 or 1
            continue
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt(value))}</text>')
    every = max(1, math.ceil(len(labels) / 6))  # at most ~6 week labels under a chart
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            x = frame.x(i, len(labels))
            parts.append(f'<text class="tick" x="{x:.1f}" y="{frame.height - BOTTOM + 16}" '
                         f'text-anchor="middle">{escape(_short(label))}</text>')
    parts.append("</g>")
    return parts


def _short(label: str) -> str:
    """ "2026-W49" → "W49" under the axis (the table keeps the whole label); names cut at 14."""
    if len(label) == 8 and label[4:6] == "-W":
        return label[5:]
    return label if len(label) <= 14 else label[:13] + "…"


def _legend(names: Sequence[str], width: int, kind: str) -> list[str]:
    parts = ['<g class="legend">']
    x = LEFT
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        if kind == "line":
            parts.append(f'<line class="series-{i}" x1="{x}" y1="8" x2="{x + 16}" y2="8" stroke="{colour}" '
                         f'stroke-width="3"{_dash(i)}/>')
        else:
            parts.append(f'<rect class="series-{i}" x="{x}" y="2" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 20}" y="12">{escape(name)}</text>')
        x += 28 + 7 * len(name)
        if x > width - 60:
            break
    parts.append("</g>")
    return parts


def _dash(i: int) -> str:
    dash = DASHES[i % len(DASHES)]
    return f' stroke-dasharray="{dash}"' if dash else ""


def _table(title: str, labels: Sequence[str], series: Sequence[tuple[str, Values]], fmt: Format) -> DataTable:
    rows = tuple((label, *(_fmt(values[i], fmt) for _, values in series)) for i, label in enumerate(labels))
    return DataTable(caption=title, headers=("", *(name for name, _ in series)), rows=rows)


def _latest(series: Sequence[tuple[str, Values]], labels: Sequence[str], fmt: Format) -> str:
    """The desc's last sentence: each series' latest value (the week a manager asks about)."""
    if not labels:
        return "No data."
    latest = "; ".join(f"{name} {_fmt(values[-1], fmt)}" for name, values in series)
    return f"{labels[-1]}: {latest}."


def line_chart(
    *, chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Values]],
    fmt: Format, small: bool = False,
) -> Chart:
    """Lines (e.g. median and p90 by week): a gap where a week has no value, a marker on each point."""
    width, height = (SMALL_WIDTH, SMALL_HEIGHT) if small else (WIDTH, HEIGHT)
    top = max((v for _, values in series for v in values if v is not None), default=0.0)
    frame = _Frame(width, height, nice_max(top))
    desc = f"Line chart by week of {', '.join(n for n, _ in series)}. {_latest(series, labels, fmt)}"
    parts = _open(chart_id, title, desc, "line", width, height) + _axes(frame, labels, fmt)
    for i, (name, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<g class="series series-{i}" aria-label={quoteattr(name)}>')
        for run in _runs(values):
            points = " ".join(f"{frame.x(j, len(labels)):.1f},{frame.y(v):.1f}" for j, v in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"'
                         f'{_dash(i)}/>')
        for j, value in enumerate(values):
            if value is not None:
                parts.append(_marker(i, frame.x(j, len(labels)), frame.y(value), colour,
                                     f"{labels[j]}: {name} {fmt(value)}"))
        parts.append("</g>")
    parts += [*_legend([name for name, _ in series], width, "line"), "</svg>"]
    return Chart(chart_id, title, "".join(parts), _table(title, labels, series, fmt))


def _runs(values: Values) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = [[]]
    for j, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((j, value))
    return [run for run in runs if run]


def _marker(i: int, x: float, y: float, colour: str, label: str) -> str:
    tip = f"<title>{escape(label)}</title>"
    if i % 2:
        return (f'<rect class="point" x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
                f'fill="{colour}">{tip}</rect>')
    return f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">{tip}</circle>'


def bar_chart(
    *, chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Values]],
    fmt: Format = count, rates: bool = False, small: bool = False,
) -> Chart:
    """Grouped bars: counts by week, or rates (0–100 %, `rates=True`) by week or by location."""
    width, height = (SMALL_WIDTH, SMALL_HEIGHT) if small else (WIDTH, HEIGHT)
    top = 1.0 if rates else nice_max(max((v for _, vs in series for v in vs if v is not None), default=0.0))
    frame = _Frame(width, height, top)
    kind = "rates" if rates else "bars"
    desc = f"Bar chart of {', '.join(n for n, _ in series)}. {_latest(series, labels, fmt)}"
    parts = _open(chart_id, title, desc, kind, width, height) + _axes(frame, labels, fmt)
    slot = frame.plot_width / max(len(labels), 1)
    bar = max(1.0, slot * 0.8 / max(len(series), 1))
    for i, (name, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<g class="series series-{i}" aria-label={quoteattr(name)}>')
        for j, value in enumerate(values):
            if value is None:
                continue
            x = LEFT + slot * j + slot * 0.1 + bar * i
            y = frame.y(min(value, top))
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{TOP + frame.plot_height - y:.1f}" fill="{colour}">'
                         f"<title>{escape(f'{labels[j]}: {name} {fmt(value)}')}</title></rect>")
        parts.append("</g>")
    parts += [*_legend([name for name, _ in series], width, "bar"), "</svg>"]
    return Chart(chart_id, title, "".join(parts), _table(title, labels, series, fmt))


# ---- the digest's picture: a PNG (chat platforms show images, not SVG) ------------------------------

PNG_SIZE = (800, 400)


def _png_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow ≥ 10.1 with FreeType: a scalable font
    except (TypeError, OSError):
        return ImageFont.load_default()


def _png_panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str, labels: Sequence[str],
               series: Sequence[tuple[str, Values]], fmt: Format, bars: bool) -> None:
    left, top, right, bottom = box
    font, small = _png_font(16), _png_font(12)
    draw.text((left, top), title, fill="#000000", font=font)
    plot = (left + 56, top + 44, right - 8, bottom - 24)
    peak = nice_max(max((v for _, vs in series for v in vs if v is not None), default=0.0))
    height, width = plot[3] - plot[1], plot[2] - plot[0]
    for fraction in (0.0, 0.5, 1.0):
        y = plot[3] - height * fraction
        draw.line((plot[0], y, plot[2], y), fill="#d0d0d0")
        if fraction == 0.5 and fmt(peak * fraction) in {fmt(0.0), fmt(peak)}:  # same as _axes
            continue
        draw.text((left, y - 7), fmt(peak * fraction), fill="#333333", font=small)
    slot = width / max(len(labels), 1)
    for j, label in enumerate(labels):
        if (len(labels) - 1 - j) % 2 == 0:  # every other week, counted back from the latest (always shown)
            draw.text((plot[0] + slot * j + 2, plot[3] + 6), _short(label), fill="#333333", font=small)
    for i, (name, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        draw.rectangle((plot[0] + 150 * i, top + 24, plot[0] + 150 * i + 10, top + 34), fill=colour)
        draw.text((plot[0] + 150 * i + 14, top + 22), name, fill="#000000", font=small)
        points = [(plot[0] + slot * (j + 0.5), plot[3] - height * min(v / peak, 1.0))
                  for j, v in enumerate(values) if v is not None]
        if bars:
            for x, y in points:
                draw.rectangle((x - slot * 0.35, y, x + slot * 0.35, plot[3]), fill=colour)
        elif points:
            draw.line(points, fill=colour, width=3)
            for x, y in points:
                draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colour)


def render_week_png(series: FigureSeries, *, title: str | None = None) -> bytes:
    """800×400: alerts and responded-to alerts per week (left), time to first contact, median and p90 in
    hours (right) — the picture the managers' digest carries."""
    image = Image.new("RGB", PNG_SIZE, "#ffffff")
    draw = ImageDraw.Draw(image)
    labels = [w.label for w in series.weeks]
    heading = title or f"{series.name} · last {len(labels)} weeks"
    draw.text((16, 10), heading, fill="#000000", font=_png_font(20))
    counts: list[tuple[str, Values]] = [("alerts", [float(w.alerts) for w in series.weeks]),
                                        ("responded", [float(w.responded) for w in series.weeks])]
    _png_panel(draw, (16, 44, 392, 392), "Alerts by week", labels, counts[:1], count, bars=True)
    hours: list[tuple[str, Values]] = [
        ("median", [None if w.first_contact.median is None else w.first_contact.median / 3600
                    for w in series.weeks]),
        ("p90", [None if w.first_contact.p90 is None else w.first_contact.p90 / 3600 for w in series.weeks]),
    ]
    _png_panel(draw, (408, 44, 792, 392), "Time to first contact (h)", labels, hours,
               lambda v: f"{v:.1f}", bars=False)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
