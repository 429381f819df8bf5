"""Transactions by billing state as a tile-grid map of the United States.

The store aggregates by ``billing_state`` (the simulator's customers are US card holders), so
the map shows one equal-sized tile per state, placed roughly where the state is: every state
stays readable, however small. A tile's colour is its outcome mix: the share of its
decisions that were reviewed or blocked; its tooltip gives the exact split.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Final

from markupsafe import Markup

from fraudstream.dashboard.svg import compact, svg, text, title
from fraudstream.sinks import Group

__all__ = ["GRID", "SHARE_STOPS", "flagged_color", "state_map"]

#: (row, column) of each state in an 8 x 11 grid (the common NPR-style layout).
GRID: Final[dict[str, tuple[int, int]]] = {
    "AK": (0, 0), "ME": (0, 10),
    "VT": (1, 9), "NH": (1, 10),
    "WA": (2, 0), "ID": (2, 1), "MT": (2, 2), "ND": (2, 3), "MN": (2, 4), "IL": (2, 5),
    "WI": (2, 6), "MI": (2, 7), "NY": (2, 8), "RI": (2, 9), "MA": (2, 10),
    "OR": (3, 0), "NV": (3, 1), "WY": (3, 2), "SD": (3, 3), "IA": (3, 4), "IN": (3, 5),
    "OH": (3, 6), "PA": (3, 7), "NJ": (3, 8), "CT": (3, 9),
    "CA": (4, 0), "UT": (4, 1), "CO": (4, 2), "NE": (4, 3), "MO": (4, 4), "KY": (4, 5),
    "WV": (4, 6), "VA": (4, 7), "MD": (4, 8), "DE": (4, 9),
    "AZ": (5, 1), "NM": (5, 2), "KS": (5, 3), "AR": (5, 4), "TN": (5, 5), "NC": (5, 6),
    "SC": (5, 7), "DC": (5, 8),
    "OK": (6, 3), "LA": (6, 4), "MS": (6, 5), "AL": (6, 6), "GA": (6, 7),
    "HI": (7, 0), "TX": (7, 3), "FL": (7, 8),
}  # fmt: skip
#: Flagged share -> colour; between stops the colour is interpolated.
SHARE_STOPS: Final[tuple[tuple[float, str], ...]] = (
    (0.0, "#d7eee1"),
    (0.02, "#bfe3cf"),
    (0.05, "#f3dc8c"),
    (0.10, "#f0a458"),
    (0.20, "#d9443a"),
)
_EMPTY: Final = "#eef1f5"
_TILE, _GAP = 50.0, 4.0


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def flagged_color(share: float) -> str:
    """The tile colour for a share of reviewed-or-blocked decisions."""
    if share <= SHARE_STOPS[0][0]:
        return SHARE_STOPS[0][1]
    for (s0, c0), (s1, c1) in itertools.pairwise(SHARE_STOPS):
        if share <= s1:
            f = (share - s0) / (s1 - s0)
            a, b = _rgb(c0), _rgb(c1)
            return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))
    return SHARE_STOPS[-1][1]


def state_map(groups: Sequence[Group], *, label: str) -> Markup:
    """The tile map of ``breakdown("billing_state")`` groups, with a colour legend."""
    by_state: Mapping[str, Group] = {g.value: g for g in groups if g.value}
    width = 11 * (_TILE + _GAP)
    height = 8 * (_TILE + _GAP) + 34
    body: list[str] = []
    for state, (row, col) in GRID.items():
        x, y = col * (_TILE + _GAP), row * (_TILE + _GAP)
        group = by_state.get(state)
        if group is None or not group.count:
            fill, tip, cls = _EMPTY, f"{state}: no transactions", "tile-empty"
        else:
            flagged = group.reviewed + group.blocked
            share = flagged / group.count
            fill, cls = flagged_color(share), "tile"
            approved = group.count - flagged
            tip = (
                f"{state}: {group.count:,} transactions, {compact(group.amount)} amount\n"
                f"approve/other {approved:,} · review {group.reviewed:,} · "
                f"block {group.blocked:,} ({share:.1%} flagged)"
            )
        body.append(
            f'<g class="{cls}" data-state="{state}">'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{_TILE}" height="{_TILE}" rx="5" '
            f'fill="{fill}">{title(tip)}</rect>'
            + text(x + _TILE / 2, y + 21, state, "tile-code", "middle")
            + (
                text(x + _TILE / 2, y + 38, compact(group.count), "tile-count", "middle")
                if group is not None and group.count
                else ""
            )
            + "</g>"
        )
    others = [g for g in groups if g.value not in GRID]
    y = 8 * (_TILE + _GAP) + 12
    x = 0.0
    for share, _ in SHARE_STOPS:
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="34" height="12" rx="2" '
            f'fill="{flagged_color(share)}"/>'
        )
        body.append(text(x + 17, y + 25, f"{share:.0%}", "axis", "middle"))
        x += 38
    body.append(text(x + 6, y + 10, "share reviewed or blocked", "legend"))
    if others:
        count = sum(g.count for g in others)
        body.append(text(width - 4, y + 10, f"+ {count:,} outside the map", "muted", "end"))
    return svg(width, height, body, label, "chart map")
