"""Jinja2 templates (autoescaped) and the filters that format numbers and times for people."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from fraudstream.dashboard.config import PREFIX
from fraudstream.dashboard.svg import OUTCOME_COLORS, compact

__all__ = ["LOGO_SVG", "environment"]

#: The logo, inline (a page needs no extra file; the favicon is a data: URI of it).
LOGO_SVG: Final = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#14213d"/>'
    '<path d="M16 5 26 10v7c0 5.5-4.2 9.3-10 11-5.8-1.7-10-5.5-10-11v-7z" fill="#3d6fb6"/>'
    '<path d="m11 16 3.5 3.5L21.5 12" stroke="#fff" stroke-width="2.6" fill="none" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>'
)
FAVICON: Final = "data:image/svg+xml;base64," + base64.b64encode(LOGO_SVG.encode()).decode()


def fmt_time(epoch: float | None, seconds: bool = True) -> str:
    if epoch is None:
        return "–"
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def fmt_num(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def fmt_money(value: float | None, currency: str | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("fraudstream.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Any] = {
        "time": fmt_time,
        "num": fmt_num,
        "pct": fmt_pct,
        "ms": fmt_ms,
        "money": fmt_money,
        "compact": compact,
    }
    env.filters.update(filters)
    logo = Markup(LOGO_SVG)  # noqa: S704 (a constant of this module, no outside text)
    env.globals.update(prefix=PREFIX, outcome_colors=OUTCOME_COLORS, logo=logo, favicon=FAVICON)
    return env
