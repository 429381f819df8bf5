"""A live snapshot turned into what the page shows: headline tiles and chart markup."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from fraudstream.dashboard import charts
from fraudstream.dashboard.charts import Bar, Series
from fraudstream.dashboard.live import LiveSnapshot
from fraudstream.dashboard.svg import compact
from fraudstream.dashboard.usmap import state_map
from fraudstream.sinks import Group

__all__ = ["Tile", "live_panels"]

_P_COLORS = {50.0: "#3d6fb6", 90.0: "#8f6cc7", 99.0: "#d9443a"}


@dataclass(frozen=True)
class Tile:
    """One headline number: ``key`` names it for tests and scripts (``data-kpi``)."""

    key: str
    label: str
    value: str
    sub: str = ""
    tone: str = ""
    spark: Markup | None = None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def tiles(snap: LiveSnapshot) -> list[Tile]:
    t = snap.totals
    block = t.by_outcome.get("block")
    review = t.by_outcome.get("review")
    blocked, blocked_amt = (block.count, block.amount) if block else (0, 0.0)
    q = snap.quality_block
    truth = "simulator truth" if snap.truth == "simulator" else "analyst labels"
    p = snap.latency.percentiles if snap.latency else {}
    lag = snap.lag
    lag_value = "–" if lag is None or lag.total is None else f"{lag.total:,}"
    if lag is None:
        lag_sub = "start the API with --metrics-url"
    elif lag.total is None:
        lag_sub = "processor metrics unreachable"
    else:
        lag_sub = "messages behind (processors)"
    return [
        Tile(
            "rate",
            "Throughput",
            "–" if snap.rate is None else f"{snap.rate:,.1f}/s",
            "decisions into the store (wall clock)",
            spark=charts.sparkline(list(snap.rate_history), label="throughput trend"),
        ),
        Tile("count", "Transactions", f"{t.count:,}", f"amount {compact(t.amount, 2)}"),
        Tile(
            "blocked",
            "Blocked",
            f"{blocked:,}",
            f"amount {compact(blocked_amt, 2)} · {blocked / t.count:.1%}" if t.count else "",
            "bad",
        ),
        Tile(
            "review",
            "In review",
            f"{review.count if review else 0:,}",
            "held for an analyst",
            "warn",
        ),
        Tile(
            "precision",
            "Precision",
            _pct(q.precision),
            f"block vs {truth} ({q.labelled:,})",
        ),
        Tile("recall", "Recall", _pct(q.recall), f"{q.tp:,} of {q.tp + q.fn:,} fraud"),
        Tile(
            "latency",
            snap.latency_label.title,
            _ms(p.get(50.0)),
            f"p50 · p99 {_ms(p.get(99.0))} · {snap.latency_label.field}",
        ),
        Tile(
            "lag",
            "Consumer lag",
            lag_value,
            lag_sub,
            spark=charts.sparkline(
                [r.total for r in snap.lag_history], label="lag trend", color="#8f6cc7"
            )
            if lag is not None
            else None,
        ),
    ]


def _group_bars(groups: Sequence[Group], limit: int) -> list[Bar]:
    ranked = sorted(groups, key=lambda g: (-(g.blocked + g.reviewed), -g.count, g.value or ""))
    return [
        Bar(
            label=g.value or "unknown",
            segments=[("block", float(g.blocked)), ("review", float(g.reviewed))],
            note=f"{g.blocked:,} blocked · {g.reviewed:,} review / {g.count:,}",
            tooltip=(
                f"{g.value}: {g.count:,} transactions ({compact(g.amount, 2)}), "
                f"{g.blocked:,} blocked, {g.reviewed:,} in review"
            ),
        )
        for g in ranked[:limit]
    ]


def live_panels(snap: LiveSnapshot, thresholds: Sequence[tuple[float, str]]) -> dict[str, Markup]:
    """Every chart of the live page, by the name the template uses."""
    by_outcome = {k: float(v.count) for k, v in snap.totals.by_outcome.items()}
    columns: dict[float, dict[str, float]] = defaultdict(dict)
    for point in snap.series:
        columns[point.start][point.key or "none"] = float(point.count)
    latency = [
        Series(
            f"p{q:g}",
            [(lp.start or 0.0, lp.percentiles.get(q)) for lp in snap.latency_series],
            _P_COLORS[q],
        )
        for q in (50.0, 90.0, 99.0)
    ]
    quality = [
        Series(
            "precision", [(p.start, p.quality.precision) for p in snap.quality_series], "#3d6fb6"
        ),
        Series("recall", [(p.start, p.quality.recall) for p in snap.quality_series], "#2f9e6e"),
    ]
    bins = [(b.low, b.high, b.by_outcome) for b in snap.scores]
    return {
        "outcomes": charts.donut(
            by_outcome,
            label="outcome split",
            center=compact(snap.totals.count),
            sub="decisions",
        ),
        "timeline": charts.stacked_columns(
            snap.start,
            snap.end,
            snap.bucket,
            columns,
            label="decisions over time by outcome",
        ),
        "currencies": charts.hbars(
            _group_bars(snap.currencies, 8),
            label="blocked and reviewed by currency",
            empty_text="no decisions in this range",
        ),
        "categories": charts.hbars(
            _group_bars(snap.categories, 10),
            label="blocked and reviewed by category",
            empty_text="no decisions in this range",
        ),
        "map": state_map(snap.states, label="transactions by billing state"),
        "scores": charts.score_histogram(
            bins, thresholds=thresholds, label="score distribution by outcome"
        ),
        "latency": charts.line_chart(
            snap.start,
            snap.end,
            latency,
            label=f"{snap.latency_label.span} latency percentiles",
            unit=" ms",
        ),
        "quality": charts.line_chart(
            snap.start,
            snap.end,
            quality,
            label="precision and recall over time",
            unit="%",
            scale=100.0,
            y_max=1.0,
            digits=0,
        ),
    }
