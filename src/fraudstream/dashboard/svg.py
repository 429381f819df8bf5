"""Small pieces the SVG charts share: escaping, number formats, axis ticks, time labels.

Charts are drawn on the server as inline SVG: no JavaScript charting library to ship or
vendor, nothing fetched from a CDN, and the page stays readable with scripts off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from markupsafe import Markup, escape

__all__ = [
    "OUTCOME_COLORS",
    "compact",
    "fmt_time",
    "nice_ticks",
    "svg",
    "text",
    "time_ticks",
]

OUTCOME_COLORS: Final = {
    "approve": "#2f9e6e",
    "review": "#e4a032",
    "block": "#d9443a",
    "none": "#98a2b3",
}
OUTCOME_ORDER: Final = ("approve", "review", "block", "none")
_TIME_STEPS: Final = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)


def svg(
    width: float,
    height: float,
    body: Iterable[str],
    label: str,
    cls: str = "chart",
    *,
    stretch: bool = False,
) -> Markup:
    """An ``<svg>`` scaled to its container (viewBox), with an accessible label.

    ``body`` is markup the chart functions built, escaping every text they put in (through
    :func:`text` and :func:`title`); nothing else may be passed here.
    """
    aspect = ' preserveAspectRatio="none"' if stretch else ""
    return Markup(  # noqa: S704 (see above: the parts are built from escaped text)
        f'<svg class="{cls}" viewBox="0 0 {width:g} {height:g}"{aspect} role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def text(
    x: float, y: float, content: object, cls: str = "", anchor: str = "start", extra: str = ""
) -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}{extra}>'
        f"{escape(str(content))}</text>"
    )


def title(content: object) -> str:
    """A native tooltip for the enclosing SVG element."""
    return f"<title>{escape(str(content))}</title>"


def compact(value: float | None, digits: int = 1) -> str:
    """12, 1.2k, 3.4M: short numbers for axes and tiles."""
    if value is None or not math.isfinite(value):
        return "–"
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.{digits}f}".rstrip("0").rstrip(".") + suffix
    if size >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering ``[low, high]`` (about ``count`` of them)."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low, low + 1]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def time_ticks(start: float, end: float, count: int = 6) -> list[float]:
    """Tick times at round UTC steps (seconds, minutes, hours, days) within [start, end]."""
    span = max(end - start, 1.0)
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, int(step))]


def fmt_time(epoch: float, span: float) -> str:
    """A tick label fit for an axis spanning ``span`` seconds (UTC)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if span <= 180:
        return moment.strftime("%H:%M:%S")
    if span <= 2 * 86400:
        return moment.strftime("%H:%M")
    return moment.strftime("%b %d")
