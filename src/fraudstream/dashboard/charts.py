"""The dashboard's charts as inline SVG (see :mod:`fraudstream.dashboard.svg` for why).

Each function takes plain numbers and returns markup ready for a template. Colours carry
meaning only through the outcome palette (approve green, review amber, block red), and every
mark has a tooltip with its exact numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from fraudstream.dashboard.svg import (
    OUTCOME_COLORS,
    OUTCOME_ORDER,
    compact,
    fmt_time,
    nice_ticks,
    svg,
    text,
    time_ticks,
    title,
)

__all__ = [
    "Bar",
    "donut",
    "empty",
    "hbars",
    "line_chart",
    "roc_curve",
    "score_histogram",
    "sparkline",
    "stacked_columns",
]

W, H = 640.0, 230.0
LEFT, RIGHT, TOP, BOTTOM = 46.0, 12.0, 14.0, 26.0


def empty(message: str, height: float = 120.0) -> Markup:
    """A placeholder with the same footprint as a chart."""
    return svg(W, height, [text(W / 2, height / 2, message, "muted", "middle")], message)


def _y_axis(ticks: Sequence[float], y_of: Fn, fmt: Fmt, width: float = W) -> list[str]:
    out = []
    for tick in ticks:
        y = y_of(tick)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(text(LEFT - 6, y + 4, fmt(tick), "axis", "end"))
    return out


def _x_time_axis(start: float, end: float, x_of: Fn, height: float = H) -> list[str]:
    span = end - start
    out = [
        f'<line class="axisline" x1="{LEFT}" x2="{W - RIGHT}" y1="{height - BOTTOM}" '
        f'y2="{height - BOTTOM}"/>'
    ]
    for tick in time_ticks(start, end):
        x = x_of(tick)
        out.append(text(x, height - BOTTOM + 16, fmt_time(tick, span), "axis", "middle"))
    return out


class Fn:
    """A linear map from data to pixels (typed callable for the axis helpers)."""

    def __init__(self, d0: float, d1: float, p0: float, p1: float) -> None:
        self.d0, self.p0 = d0, p0
        self.k = (p1 - p0) / (d1 - d0) if d1 != d0 else 0.0

    def __call__(self, value: float) -> float:
        return self.p0 + (value - self.d0) * self.k


class Fmt:
    def __init__(self, unit: str = "", scale: float = 1.0, digits: int = 1) -> None:
        self.unit, self.scale, self.digits = unit, scale, digits

    def __call__(self, value: float) -> str:
        return compact(value * self.scale, self.digits) + self.unit


def stacked_columns(
    start: float,
    end: float,
    bucket: float,
    columns: Mapping[float, Mapping[str, float]],
    *,
    label: str,
    colors: Mapping[str, str] = OUTCOME_COLORS,
    order: Sequence[str] = OUTCOME_ORDER,
    unit: str = "",
) -> Markup:
    """Columns per time bucket (``columns``: bucket start -> {series: value}), stacked."""
    if not columns:
        return empty("no decisions in this range", H)
    top = max(sum(v.values()) for v in columns.values()) or 1.0
    ticks = nice_ticks(0, top)
    x_of = Fn(start, end, LEFT, W - RIGHT)
    y_of = Fn(0, ticks[-1], H - BOTTOM, TOP)
    body = _y_axis(ticks, y_of, Fmt(unit))
    width = max(x_of(start + bucket) - x_of(start) - 1.0, 1.0)
    for at, values in sorted(columns.items()):
        x = x_of(at) + 0.5
        if x + width < LEFT or x > W - RIGHT:
            continue
        base = 0.0
        tip = ", ".join(f"{k} {compact(values[k])}" for k in order if values.get(k))
        for key in [*order, *(k for k in values if k not in order)]:
            value = values.get(key, 0.0)
            if not value:
                continue
            y0, y1 = y_of(base), y_of(base + value)
            color = colors.get(key, "#5b6b82")
            body.append(
                f'<rect x="{x:.1f}" y="{y1:.1f}" width="{width:.1f}" height="{y0 - y1:.2f}" '
                f'fill="{color}">{title(f"{fmt_time(at, 3600)}: {tip}")}</rect>'
            )
            base += value
    body += _x_time_axis(start, end, x_of)
    return svg(W, H, body, label)


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float | None]]
    color: str
    dashed: bool = False


def line_chart(
    start: float,
    end: float,
    series: Sequence[Series],
    *,
    label: str,
    unit: str = "",
    scale: float = 1.0,
    y_max: float | None = None,
    digits: int = 1,
    height: float = H,
) -> Markup:
    """Lines over time; ``None`` values break a line. A legend names each series."""
    values = [v for s in series for _, v in s.points if v is not None and math.isfinite(v)]
    if not values:
        return empty("no data in this range", height)
    ticks = nice_ticks(0, y_max if y_max is not None else (max(values) or 1.0))
    x_of = Fn(start, end, LEFT, W - RIGHT)
    y_of = Fn(0, ticks[-1], height - BOTTOM, TOP + 10)
    fmt = Fmt(unit, scale, digits)
    body = _y_axis(ticks, y_of, fmt)
    for s in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for t, v in s.points:
            if v is None or not math.isfinite(v):
                runs.append([])
            else:
                runs[-1].append((x_of(t), y_of(v)))
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        for run in runs:
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(f'<polyline class="line" points="{path}" stroke="{s.color}"{dash}/>')
        for t, v in s.points:
            if v is not None and math.isfinite(v):
                body.append(
                    f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="2.2" fill="{s.color}">'
                    f"{title(f'{s.name} {fmt_time(t, 3600)}: {fmt(v)}')}</circle>"
                )
    x = W - RIGHT
    for s in reversed(series):
        label_width = 8 + 6.4 * len(s.name)
        x -= label_width + 14
        body.append(f'<rect x="{x:.1f}" y="3" width="10" height="10" rx="2" fill="{s.color}"/>')
        body.append(text(x + 14, 12, s.name, "legend"))
    body += _x_time_axis(start, end, x_of, height)
    return svg(W, height, body, label)


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart: stacked ``segments`` (key, value) and a note."""

    label: str
    segments: Sequence[tuple[str, float]]
    note: str = ""
    href: str | None = None
    tooltip: str = ""
    colors: Mapping[str, str] = field(default_factory=lambda: OUTCOME_COLORS)


def hbars(rows: Sequence[Bar], *, label: str, width: float = W, empty_text: str = "") -> Markup:
    """Horizontal bars, longest scaled to the width; labels left, notes right."""
    if not rows:
        return empty(empty_text or "nothing to show", 90)
    row_h, gap = 22.0, 6.0
    label_w = min(max(7.0 * max(len(r.label) for r in rows) + 16, 50.0), 260.0)
    note_w = min(max(6.4 * max(len(r.note) for r in rows) + 12, 40.0), 280.0)
    height = len(rows) * (row_h + gap) + 4
    top = max(sum(v for _, v in r.segments) for r in rows) or 1.0
    span = width - label_w - note_w - 10
    body: list[str] = []
    for i, row in enumerate(rows):
        y = 2 + i * (row_h + gap)
        name = escape(row.label)
        if row.href:
            name = Markup('<a href="{}">{}</a>').format(row.href, name)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 15:.1f}" text-anchor="end" class="barlabel">'
            f"{name}</text>"
        )
        body.append(
            f'<rect x="{label_w}" y="{y:.1f}" width="{span:.1f}" height="{row_h}" class="track"/>'
        )
        x = label_w
        for key, value in row.segments:
            w = span * value / top
            if w <= 0:
                continue
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 1.5):.1f}" height="{row_h}" '
                f'fill="{row.colors.get(key, "#3d6fb6")}">'
                f"{title(row.tooltip or f'{row.label}: {key} {compact(value, 2)}')}</rect>"
            )
            x += w
        body.append(text(width - note_w + 4, y + 15, row.note, "barnote"))
    return svg(width, height, body, label)


def donut(values: Mapping[str, float], *, label: str, center: str, sub: str) -> Markup:
    """A ring of the outcome split with the total in the middle and a legend beside."""
    total = sum(values.values())
    size, r, thick = 220.0, 78.0, 26.0
    cx, cy = 96.0, size / 2
    body: list[str] = []
    if not total:
        body.append(
            f'<circle cx="{cx}" cy="{cy}" r="{r}" class="ring-empty" '
            f'stroke-width="{thick}" fill="none"/>'
        )
    angle = -math.pi / 2
    keys = [k for k in OUTCOME_ORDER if values.get(k)] + [
        k for k in values if k not in OUTCOME_ORDER and values[k]
    ]
    for key in keys:
        share = values[key] / total
        sweep = share * 2 * math.pi
        color = OUTCOME_COLORS.get(key, "#5b6b82")
        tip = title(f"{key}: {compact(values[key])} ({share:.1%})")
        if share >= 0.9999:
            body.append(
                f'<circle cx="{cx}" cy="{cy}" r="{r}" stroke="{color}" stroke-width="{thick}" '
                f'fill="none">{tip}</circle>'
            )
        else:
            x0, y0 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x1 = cx + r * math.cos(angle + sweep)
            y1 = cy + r * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            body.append(
                f'<path d="M{x0:.2f},{y0:.2f} A{r},{r} 0 {large} 1 {x1:.2f},{y1:.2f}" '
                f'stroke="{color}" stroke-width="{thick}" fill="none">{tip}</path>'
            )
        angle += sweep
    body.append(text(cx, cy + 2, center, "donut-total", "middle"))
    body.append(text(cx, cy + 22, sub, "muted", "middle"))
    y = cy - 14 * len(OUTCOME_ORDER) / 2 - 4
    for key in OUTCOME_ORDER:
        value = values.get(key, 0.0)
        if key == "none" and not value:
            continue
        share = value / total if total else 0.0
        body.append(
            f'<rect x="208" y="{y:.1f}" width="12" height="12" rx="2" '
            f'fill="{OUTCOME_COLORS[key]}"/>'
        )
        body.append(text(226, y + 10.5, key, "legend"))
        body.append(text(380, y + 10.5, f"{compact(value)}  {share:.1%}", "legend-num", "end"))
        y += 26
    return svg(390, size, body, label)


def _round_125(value: float) -> float:
    """The nearest of 0, 1, 2, 5, 10, 20, 50... (round tick labels on a square-root axis)."""
    if value < 0.5:
        return 0.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return float(min((m * magnitude for m in (1, 2, 5, 10)), key=lambda c: abs(c - value)))


def score_histogram(
    bins: Sequence[tuple[float, float, Mapping[str, int]]],
    *,
    thresholds: Sequence[tuple[float, str]] = (),
    label: str,
) -> Markup:
    """Decisions per score bin stacked by outcome, on a square-root scale so the rare high
    scores stay visible next to the mass of low ones; dashed lines mark rule thresholds."""
    if not bins:
        return empty("no scored decisions in this range", H)
    top = max(sum(b[2].values()) for b in bins) or 1
    root_ticks = nice_ticks(0, math.sqrt(top), 4)
    x_of = Fn(0, 1000, LEFT, W - RIGHT)
    y_of = Fn(0, root_ticks[-1], H - BOTTOM, TOP)
    body = []
    for count in sorted({_round_125(t * t) for t in root_ticks}):
        y = y_of(math.sqrt(count))
        body.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(text(LEFT - 6, y + 4, compact(count), "axis", "end"))
    for low, high, outcomes in bins:
        x0, x1 = x_of(low) + 0.5, x_of(min(high, 1000)) - 0.5
        base = 0.0
        total = sum(outcomes.values())
        for key in [*OUTCOME_ORDER, *(k for k in outcomes if k not in OUTCOME_ORDER)]:
            count = outcomes.get(key, 0)
            if not count:
                continue
            ya, yb = y_of(math.sqrt(base)), y_of(math.sqrt(base + count))
            tip = f"score {low:g}–{high:g}: {total:,} ({key} {count:,})"
            body.append(
                f'<rect x="{x0:.1f}" y="{yb:.1f}" width="{max(x1 - x0, 1):.1f}" '
                f'height="{ya - yb:.2f}" fill="{OUTCOME_COLORS.get(key, "#5b6b82")}">'
                f"{title(tip)}</rect>"
            )
            base += count
    for i, (value, name) in enumerate(sorted(thresholds)):
        x = x_of(value)
        body.append(
            f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}"/>'
        )
        body.append(text(x - 4, TOP + 10 + 14 * i, f"{name} ≥ {value:g}", "threshold-label", "end"))
    body.append(
        f'<line class="axisline" x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" y2="{H - BOTTOM}"/>'
    )
    for tick in range(0, 1001, 100):
        body.append(text(x_of(tick), H - BOTTOM + 16, tick, "axis", "middle"))
    return svg(W, H, body, label)


def roc_curve(
    points: Sequence[tuple[float, float, float]],
    *,
    marks: Sequence[tuple[float, str]] = (),
    auc: float | None = None,
    label: str,
) -> Markup:
    """TPR against FPR from a threshold table (``(threshold, fpr, tpr)`` rows); ``marks``
    label the points of chosen thresholds (the rules' review and block scores)."""
    size, pad = 330.0, 40.0
    axis = Fn(0, 1, pad, size - 12)
    yaxis = Fn(0, 1, size - pad + 10, 12)
    body = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            f'<line class="grid" x1="{axis(0):.1f}" x2="{axis(1):.1f}" '
            f'y1="{yaxis(tick):.1f}" y2="{yaxis(tick):.1f}"/>'
        )
        body.append(text(axis(0) - 5, yaxis(tick) + 4, f"{tick:g}", "axis", "end"))
        body.append(text(axis(tick), yaxis(0) + 15, f"{tick:g}", "axis", "middle"))
    body.append(
        f'<line class="diagonal" x1="{axis(0)}" y1="{yaxis(0)}" x2="{axis(1)}" y2="{yaxis(1)}"/>'
    )
    curve = sorted({(fpr, tpr) for _, fpr, tpr in points} | {(0.0, 0.0), (1.0, 1.0)})
    path = " ".join(f"{axis(f):.1f},{yaxis(t):.1f}" for f, t in curve)
    area = f"{axis(0):.1f},{yaxis(0):.1f} {path} {axis(1):.1f},{yaxis(0):.1f}"
    body.append(f'<polygon class="roc-area" points="{area}"/>')
    body.append(f'<polyline class="line roc" points="{path}"/>')
    by_threshold = {t: (f, r) for t, f, r in points}
    placed: list[tuple[float, float, str, str]] = []
    for value, name in marks:
        nearest = min(by_threshold, key=lambda t: abs(t - value), default=None)
        if nearest is None:
            continue
        fpr, tpr = by_threshold[nearest]
        tip = f"{name} ≥ {nearest:g}: TPR {tpr:.1%}, FPR {fpr:.2%}"
        placed.append((axis(fpr), yaxis(tpr), f"{name} ≥ {nearest:g}", tip))
    label_y = -1e9
    for x, y, name, tip in sorted(placed, key=lambda p: p[1]):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" class="roc-mark">{title(tip)}</circle>'
        )
        label_y = max(y + 4, label_y + 15)
        body.append(
            f'<line class="leader" x1="{x + 5:.1f}" y1="{y:.1f}" x2="{x + 22:.1f}" '
            f'y2="{label_y - 4:.1f}"/>'
        )
        body.append(text(x + 25, label_y, name, "legend"))
    if auc is not None:
        body.append(text(axis(1) - 4, yaxis(0) - 10, f"AUC {auc:.3f}", "roc-auc", "end"))
    body.append(text(axis(0.5), size - 2, "false positive rate", "axis", "middle"))
    body.append(
        f'<text class="axis" text-anchor="middle" transform="translate(10,{yaxis(0.5):.1f}) '
        f'rotate(-90)">true positive rate (recall)</text>'
    )
    return svg(size, size, body, label, "chart roc-chart")


def sparkline(values: Sequence[float | None], *, label: str, color: str = "#3d6fb6") -> Markup:
    """A tiny trend line for a headline tile (no axes)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    width, height = 200.0, 22.0
    if len(points) < 2:
        return svg(width, height, [], label, "spark")
    top = max(v for _, v in points) or 1.0
    x_of = Fn(0, max(len(values) - 1, 1), 1, width - 1)
    y_of = Fn(0, top, height - 2, 2)
    path = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in points)
    line = (
        f'<polyline class="line" points="{path}" stroke="{color}" '
        'vector-effect="non-scaling-stroke"/>'
    )
    return svg(width, height, [line], label, "spark", stretch=True)


def class_histogram(
    classes: Mapping[str, Sequence[int]], colors: Mapping[str, str], *, label: str
) -> Markup:
    """Grouped columns of each class's share per score bin (0-1000 in equal bins), so a rare
    class (fraud) is as visible as the common one."""
    shares = {
        name: [c / (sum(counts) or 1) for c in counts] for name, counts in classes.items() if counts
    }
    if not shares:
        return empty("no score histogram recorded", H)
    bins = max(len(v) for v in shares.values())
    ticks = nice_ticks(0, max(max(v) for v in shares.values()) or 1.0)
    x_of = Fn(0, 1000, LEFT, W - RIGHT)
    y_of = Fn(0, ticks[-1], H - BOTTOM, TOP + 10)
    body = _y_axis(ticks, y_of, Fmt("%", 100.0, 0))
    step = 1000 / bins
    width = (x_of(step) - x_of(0) - 2) / len(shares)
    for i in range(bins):
        for j, (name, values) in enumerate(shares.items()):
            if i >= len(values) or not values[i]:
                continue
            x = x_of(i * step) + 1 + j * width
            y = y_of(values[i])
            tip = f"{name}, score {i * step:g}–{(i + 1) * step:g}: {values[i]:.1%} of {name}"
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{H - BOTTOM - y:.1f}" fill="{colors.get(name, "#5b6b82")}">'
                f"{title(tip)}</rect>"
            )
    body.append(
        f'<line class="axisline" x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" y2="{H - BOTTOM}"/>'
    )
    for tick in range(0, 1001, 100):
        body.append(text(x_of(tick), H - BOTTOM + 16, tick, "axis", "middle"))
    x = W - RIGHT
    for name in reversed(list(shares)):
        x -= 8 + 6.4 * len(name) + 14
        body.append(
            f'<rect x="{x:.1f}" y="3" width="10" height="10" rx="2" '
            f'fill="{colors.get(name, "#5b6b82")}"/>'
        )
        body.append(text(x + 14, 12, name, "legend"))
    return svg(W, H, body, label)
