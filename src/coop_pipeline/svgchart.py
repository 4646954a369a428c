"""Tiny inline-SVG charts for the data-quality page: bars, stacked bars and lines, no JavaScript.

Each function returns one self-contained `<svg>` element (a `viewBox`, so it scales with the page)
with a `<title>` on every mark, so hovering a bar shows its exact value. Empty input gives a small
"no data" panel instead of an empty plot, so the page reads the same on a fresh dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
FONT = 'font-family="inherit" font-size="12"'


def _fmt(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{int(value):,}"


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">{body}</svg>'
    )


def empty(label: str, message: str = "no data yet", width: int = 480, height: int = 90) -> str:
    """A placeholder panel for a chart with nothing to draw."""
    body = (
        f'<rect class="empty" x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#f5f7fa" stroke="{GRID}"/>'
        f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" fill="{MUTED}" {FONT}>{escape(message)}</text>'
    )
    return _svg(width, height, body, label)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 x 10^k)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def hbar(items: Sequence[tuple[str, float | None]], label: str, color: str = PALETTE[0], width: int = 480, percent: bool = False, markers: Sequence[float | None] | None = None, colors: Sequence[str] | None = None) -> str:
    """Horizontal bars, one per (label, value), in the order given; a None value reads "no rows".

    `percent` draws values in [0, 1] on a 0-100 % axis; `markers` puts a threshold tick on each bar;
    `colors` overrides the colour bar by bar (e.g. a rate above its threshold).
    """
    items = list(items)
    if not items:
        return empty(label)
    left, right, row, top = 150, 56, 24, 6
    height = top + row * len(items) + 6
    top_value = 1.0 if percent else _nice_max(max(v or 0 for _, v in items))
    span = width - left - right
    parts = []
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = max(0.0, span * (value or 0) / top_value)
        shown = "no rows" if value is None else f"{value * 100:.0f} %" if percent else _fmt(value)
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" fill="{INK}" {FONT}>{escape(_short(name, 22))}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{span}" height="{row - 8}" rx="3" fill="#f0f2f5"/>')
        parts.append(f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{colors[i] if colors else color}"><title>{escape(name)}: {shown}</title></rect>')
        tick = markers[i] if markers is not None else None
        if tick is not None:
            x = left + span * min(tick, top_value) / top_value
            tip = f"{tick * 100:.0f} %" if percent else _fmt(tick)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + row - 3}" stroke="{INK}" stroke-width="2"><title>threshold {tip}</title></line>')
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" fill="{MUTED}" {FONT}>{shown}</text>')
    return _svg(width, height, "".join(parts), label)


def stacked_hbar(rows: Sequence[str], series: Sequence[str], values: dict[tuple[str, str], float], label: str, width: int = 480) -> str:
    """Horizontal bars split by series (e.g. event type x status), with a legend."""
    rows = [r for r in rows if sum(values.get((r, s), 0) for s in series) > 0]
    if not rows:
        return empty(label)
    left, right, row, top = 150, 56, 24, 30
    height = top + row * len(rows) + 6
    totals = {r: sum(values.get((r, s), 0) for s in series) for r in rows}
    top_value = _nice_max(max(totals.values()))
    span = width - left - right
    parts = [_legend(series, left, 8)]
    for i, name in enumerate(rows):
        y, x = top + i * row, float(left)
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" fill="{INK}" {FONT}>{escape(_short(name, 22))}</text>')
        for j, s in enumerate(series):
            v = values.get((name, s), 0)
            if v <= 0:
                continue
            w = span * v / top_value
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)} / {escape(s)}: {_fmt(v)}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" fill="{MUTED}" {FONT}>{_fmt(totals[name])}</text>')
    return _svg(width, height, "".join(parts), label)


def vbar(items: Sequence[tuple[str, float]], label: str, color: str = PALETTE[0], width: int = 480, height: int = 200) -> str:
    """Vertical bars over ordered categories (months); only some x labels are written when crowded."""
    items = list(items)
    if not items:
        return empty(label)
    left, right, top, bottom = 40, 10, 10, 36
    top_value = _nice_max(max(v for _, v in items))
    span_x, span_y = width - left - right, height - top - bottom
    step = span_x / len(items)
    every = max(1, int(len(items) / 8 + 0.999))
    parts = _y_axis(top_value, left, width - right, top, span_y)
    for i, (name, value) in enumerate(items):
        h = span_y * value / top_value
        x = left + i * step
        parts.append(f'<rect class="bar" x="{x + step * 0.12:.1f}" y="{top + span_y - h:.1f}" width="{max(step * 0.76, 1):.1f}" height="{h:.1f}" rx="2" fill="{color}"><title>{escape(name)}: {_fmt(value)}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" fill="{MUTED}" {FONT}>{escape(name)}</text>')
    return _svg(width, height, "".join(parts), label)


def lines(x_labels: Sequence[str], series: dict[str, Sequence[float]], label: str, width: int = 480, height: int = 220) -> str:
    """One line per series over the same x positions (runs), with dots and a legend."""
    if not x_labels or not series:
        return empty(label)
    left, right, top, bottom = 48, 16, 30, 36
    top_value = _nice_max(max((v for vs in series.values() for v in vs), default=0))
    span_x, span_y = width - left - right, height - top - bottom
    n = len(x_labels)
    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (span_x * i / (n - 1) if n > 1 else span_x / 2)
        return x, top + span_y - span_y * v / top_value
    parts = [_legend(list(series), left, 8)] + _y_axis(top_value, left, width - right, top, span_y)
    every = max(1, int(n / 6 + 0.999))
    for i, name in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            x, _ = xy(i, 0)
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"  # stay inside
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" fill="{MUTED}" {FONT}>{escape(name)}</text>')
    for j, (name, values) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        points = [xy(i, v) for i, v in enumerate(values)]
        path = " ".join(("M" if i == 0 else "L") + f"{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
        parts.append(f'<path class="line" d="{path}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>')
        for (x, y), v, xl in zip(points, values, x_labels):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(name)} {escape(xl)}: {_fmt(v)}</title></circle>')
    return _svg(width, height, "".join(parts), label)


def _y_axis(top_value: float, x0: float, x1: float, top: float, span_y: float) -> list[str]:
    parts = []
    # whole-number ticks for small counts (0, 1, 2), else five or four even steps
    n = int(top_value) if top_value.is_integer() and 1 <= top_value <= 5 else 5 if top_value % 5 == 0 else 4
    for k in range(n + 1):
        v = top_value * k / n
        y = top + span_y - span_y * k / n
        parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}" {FONT}>{_fmt(v)}</text>')
    return parts


def _legend(names: Sequence[str], x: float, y: float) -> str:
    parts = []
    for j, name in enumerate(names):
        parts.append(f'<rect x="{x:.0f}" y="{y}" width="10" height="10" rx="2" fill="{PALETTE[j % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14:.0f}" y="{y + 9}" fill="{INK}" {FONT}>{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
