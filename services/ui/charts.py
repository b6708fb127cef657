"""Small hand-written SVG charts (bars, stacked bars, horizontal bars, lines): no scripts, nothing fetched."""
from __future__ import annotations

import math
from html import escape

from common.exercises import CATALOGUE, NONE


NONE_COLOR = "#9aa4b2"
FALLBACK_COLORS = ["#3b6ef5", "#f08a24", "#1fa463", "#8e4fd6", "#e0474c", "#1aa3c4"]
FONT = 'font-family="system-ui, sans-serif"'


def color_of(exercise: str, index: int = 0) -> str:
    entry = CATALOGUE.get(exercise)
    if entry is not None:
        return entry.colour
    return NONE_COLOR if exercise == NONE else FALLBACK_COLORS[index % len(FALLBACK_COLORS)]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 to at least `top` (1, 2 or 5 times a power of ten apart)."""
    if not math.isfinite(top) or top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


def _fmt(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return f"{int(round(value))}"
    return f"{value:.1f}"


def _frame(width: int, height: int, title: str, body: list[str], max_width: int | None = None) -> str:
    # Never drawn larger than its own size: the text stays the size it was written for.
    style = f' style="max-width: {max_width or width}px"'
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%"{style} role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" {FONT}>'
            f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _y_axis(ticks: list[float], left: int, right: int, top: int, bottom: int, unit: str) -> tuple[list[str], float]:
    body = []
    scale = (bottom - top) / ticks[-1]
    for t in ticks:
        y = bottom - t * scale
        body.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ee" stroke-width="1"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end" fill="#6b7585">'
                    f'{_fmt(t)}</text>')
    if unit:
        body.append(f'<text x="{left - 6}" y="{top - 8}" font-size="11" text-anchor="end" fill="#6b7585">'
                    f'{escape(unit)}</text>')
    return body, scale


def _empty(width: int, height: int, title: str, message: str) -> str:
    return _frame(width, height, title, [
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="8" fill="#f5f7fa"/>',
        f'<text x="{width / 2}" y="{height / 2 + 5}" font-size="14" text-anchor="middle" fill="#6b7585">'
        f'{escape(message)}</text>'])


def bar_chart(values: list[tuple[str, float]], *, title: str, unit: str = "", color: str = "#3b6ef5",
              colors: list[str] | None = None, width: int = 440, height: int = 220, empty: str = "No data yet",
              label_every: int = 1) -> str:
    """Vertical bars with their value on top; `colors` overrides the colour bar by bar."""
    if not values or not any(v for _, v in values):
        return _empty(width, height, title, empty)
    left, right, top, bottom = 44, width - 10, 24, height - 28
    ticks = nice_ticks(max(v for _, v in values))
    body, scale = _y_axis(ticks, left, right, top, bottom, unit)
    slot = (right - left) / len(values)
    bar = max(2.0, min(48.0, slot * 0.7))
    for i, (label, value) in enumerate(values):
        x = left + i * slot + (slot - bar) / 2
        h = max(0.0, value * scale)
        fill = colors[i] if colors else color
        body.append(f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="3" '
                    f'fill="{fill}"><title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></rect>')
        if value and slot >= 18:
            body.append(f'<text x="{x + bar / 2:.1f}" y="{bottom - h - 5:.1f}" font-size="12" text-anchor="middle" '
                        f'fill="#2b3340">{_fmt(value)}</text>')
        if i % label_every == 0:
            body.append(f'<text x="{x + bar / 2:.1f}" y="{bottom + 17}" font-size="11" text-anchor="middle" '
                        f'fill="#6b7585">{escape(label)}</text>')
    return _frame(width, height, title, body)


def stacked_bars(labels: list[str], series: list[tuple[str, str, list[float]]], *, title: str, unit: str = "",
                 width: int = 440, height: int = 220, empty: str = "No data yet", label_every: int = 1) -> str:
    """Bars made of one segment per series [(name, colour, values)], with a legend."""
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty(width, height, title, empty)
    left, right, top, bottom = 44, width - 10, 30, height - 28
    ticks = nice_ticks(max(totals))
    body, scale = _y_axis(ticks, left, right, top, bottom, unit)
    slot = (right - left) / len(labels)
    bar = max(2.0, min(40.0, slot * 0.7))
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar) / 2
        y = bottom
        for name, colour, values in series:
            h = values[i] * scale
            if h <= 0:
                continue
            y -= h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                        f'<title>{escape(label)} · {escape(name)}: {_fmt(values[i])} {escape(unit)}</title></rect>')
        if i % label_every == 0:
            body.append(f'<text x="{x + bar / 2:.1f}" y="{bottom + 17}" font-size="11" text-anchor="middle" '
                        f'fill="#6b7585">{escape(label)}</text>')
    lx = left
    for name, colour, values in series:
        if not any(values):
            continue
        body.append(f'<rect x="{lx}" y="6" width="10" height="10" rx="2" fill="{colour}"/>'
                    f'<text x="{lx + 14}" y="15" font-size="12" fill="#2b3340">{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    return _frame(width, height, title, body)


def hbar_chart(values: list[tuple[str, float]], *, title: str, unit: str = "", color: str = "#e0474c",
               width: int = 600, empty: str = "Nothing to show") -> str:
    """Horizontal bars, longest first, label above each bar: readable on a phone."""
    if not values:
        return _empty(width, 80, title, empty)
    values = sorted(values, key=lambda kv: -kv[1])
    row = 38
    height = 10 + row * len(values)
    top_value = max(v for _, v in values) or 1
    body = []
    for i, (label, value) in enumerate(values):
        y = 8 + i * row
        w = (width - 60) * value / top_value
        body.append(f'<text x="0" y="{y + 11}" font-size="13" fill="#2b3340">{escape(label)}</text>')
        body.append(f'<rect x="0" y="{y + 16}" width="{max(w, 2):.1f}" height="14" rx="3" fill="{color}"/>')
        body.append(f'<text x="{max(w, 2) + 6:.1f}" y="{y + 28}" font-size="12" fill="#2b3340">'
                    f'{_fmt(value)}{(" " + escape(unit)) if unit else ""}</text>')
    return _frame(width, height, title, body)


def line_chart(values: list[float | None], labels: list[str], *, title: str, unit: str = "",
               color: str = "#3b6ef5", y_max: float | None = None, width: int = 440, height: int = 200,
               empty: str = "No data yet", label_every: int = 1) -> str:
    """Points joined by a line; None leaves a gap (a rep without a score)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    if not points:
        return _empty(width, height, title, empty)
    left, right, top, bottom = 44, width - 16, 24, height - 28
    ticks = nice_ticks(y_max if y_max else max(v for _, v in points))
    body, scale = _y_axis(ticks, left, right, top, bottom, unit)
    step = (right - left) / max(1, len(values) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return (left + i * step if len(values) > 1 else (left + right) / 2), bottom - v * scale

    path, previous = [], None
    for i, v in points:
        x, y = xy(i, v)
        path.append(("L" if previous == i - 1 else "M") + f"{x:.1f},{y:.1f}")
        previous = i
    body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2.5" '
                f'stroke-linejoin="round"/>')
    for i, v in points:
        x, y = xy(i, v)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" stroke="{color}" stroke-width="2">'
                    f'<title>{escape(labels[i] if i < len(labels) else str(i + 1))}: {_fmt(v)} {escape(unit)}'
                    f'</title></circle>')
    for i, label in enumerate(labels):
        if i % label_every == 0:
            x, _ = xy(i, 0)
            body.append(f'<text x="{x:.1f}" y="{bottom + 17}" font-size="11" text-anchor="middle" '
                        f'fill="#6b7585">{escape(label)}</text>')
    return _frame(width, height, title, body)
