"""Readable terminal output: metric tables, decision summaries, progress bars, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def metrics_table(metrics: dict[str, Any], title: str = "Validation metrics") -> Table:
    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("AUC", f"{metrics['auc']:.4f}")
    table.add_row("PR-AUC", f"{metrics['pr_auc']:.4f}")
    for fpr, recall in metrics["recall_at_fpr"].items():
        table.add_row(f"recall at {fpr} FPR", f"{recall:.3f}")
    table.add_row("validation events", f"{metrics['events']:,}")
    table.add_row("fraud events", f"{metrics['fraud_events']:,}")
    if "trees" in metrics:
        table.add_row("trees", str(metrics["trees"]))
    return table


def threshold_table(rows: list[dict[str, float]], title: str = "Score thresholds") -> Table:
    table = Table(title=title)
    for name in ("score >=", "TPR (recall)", "FPR", "precision"):
        table.add_column(name, justify="right")
    for row in rows:
        if row["threshold"] < 500:
            continue
        table.add_row(
            f"{row['threshold']:.0f}",
            f"{row['tpr']:.3f}",
            f"{row['fpr']:.4f}",
            f"{row['precision']:.3f}",
        )
    return table


def importance_table(importance: dict[str, float], top: int = 12) -> Table:
    table = Table(title=f"Top {top} features by gain")
    table.add_column("feature")
    table.add_column("share", justify="right")
    for name, share in list(importance.items())[:top]:
        table.add_row(name, f"{share:.1%}")
    return table


class Steps:
    """One rich progress bar per named step; ``update`` matches the trainer's callback."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def update(self, step: str, done: int, total: int) -> None:
        if step not in self._tasks:
            self._tasks[step] = self._progress.add_task(step, total=total)
        self._progress.update(self._tasks[step], completed=done, total=total)


@contextmanager
def progress_steps() -> Iterator[Steps]:
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        yield Steps(progress)
