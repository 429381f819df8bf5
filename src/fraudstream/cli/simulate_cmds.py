"""``fraudstream simulate``: a labelled history as AFD's training CSV (what `train` reads)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from fraudstream.cli.main import friendly_errors
from fraudstream.cli.output import console
from fraudstream.simulate import generate_history, write_afd_csv
from fraudstream.simulate.history import DEFAULT_DAYS, DEFAULT_END, DEFAULT_FRAUD_RATE


@click.command()
@click.argument("csv", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--events", default=100_000, show_default=True, help="Transactions to generate.")
@click.option(
    "--customers",
    type=int,
    default=None,
    help="Population size (default: about one customer per hundred events).",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same history.")
@click.option("--fraud-rate", default=DEFAULT_FRAUD_RATE, show_default=True)
@click.option("--days", default=DEFAULT_DAYS, show_default=True, help="Length of the history.")
@click.option(
    "--end",
    default=DEFAULT_END.strftime("%Y-%m-%dT%H:%M:%SZ"),
    show_default=True,
    help="When the history ends (ISO 8601).",
)
@friendly_errors
def simulate(
    csv: Path,
    events: int,
    customers: int | None,
    seed: int,
    fraud_rate: float,
    days: float,
    end: str,
) -> None:
    """Write a simulated, labelled transaction history to CSV in AFD's training format."""
    started = time.perf_counter()
    with console.status(f"simulating {events:,} transactions"):
        history = generate_history(
            events, n_customers=customers, seed=seed, fraud_rate=fraud_rate, end=end, days=days
        )
        write_afd_csv(history, csv)
    table = Table(title=f"{csv} ({time.perf_counter() - started:.1f} s)")
    table.add_column("fraud kind")
    table.add_column("events", justify="right")
    for kind, count in sorted(history.kind_counts().items()):
        table.add_row(kind, f"{count:,}")
    table.add_row("[bold]all fraud[/]", f"{int(history.is_fraud.sum()):,}")
    table.add_row("[bold]all events[/]", f"{len(history):,}")
    console.print(table)


COMMANDS = (simulate,)
