"""Engine commands: train, evaluate, predict, rules check, detector versions."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np
import orjson
from rich.table import Table

from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.output import (
    console,
    importance_table,
    metrics_table,
    progress_steps,
    threshold_table,
)
from fraudstream.detector import Engine
from fraudstream.detector.defaults import DETECTOR_ID, EVENT_TYPE, install_default_detector
from fraudstream.detector.event_store import EventStore
from fraudstream.detector.features import MemoryStateStore
from fraudstream.detector.models.metrics import evaluate as evaluate_scores
from fraudstream.detector.rules import check_rule, parse_rule
from fraudstream.detector.training_data import read_afd_csv
from fraudstream.errors import InvalidInput
from fraudstream.events import parse_transaction


@click.command()
@click.argument("csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@home_option
@friendly_errors
def train(csv: Path, home: Path) -> None:
    """Train the default model from an AFD-format CSV and activate a detector version for it."""
    engine = Engine.open(home)
    try:
        with progress_steps() as steps:
            result = install_default_detector(engine, csv, progress=steps.update)
        model = engine.registry.model_version(
            "fraudstream_model", "TRANSACTION_FRAUD_INSIGHTS", result["model_version"]
        )
        tr = model["trainingResultV2"]
        console.print(metrics_table(result["metrics"]))
        console.print(threshold_table(tr["trainingMetricsV2"]["tfi"]["metricDataPoints"]))
        importance = {
            m["variableName"]: m["variableImportance"]
            for m in tr["variableImportanceMetrics"]["logOddsMetrics"]
        }
        console.print(importance_table(importance))
        console.print(
            f"model version {result['model_version']} -> detector {DETECTOR_ID} version "
            f"{result['detector_version']} ACTIVE (review >= {result['review_threshold']}, "
            f"block >= {result['block_threshold']})"
        )
    finally:
        engine.close()


@click.command()
@click.argument("csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--from-share",
    default=0.85,
    show_default=True,
    help="Replay all events for entity history, measure only the last (1 - share) of them.",
)
@home_option
@friendly_errors
def evaluate(csv: Path, from_share: float, home: Path) -> None:
    """Score a labelled AFD CSV with the ACTIVE detector version and report quality."""
    live = Engine.open(home)
    # Same registry, throwaway state and event store: evaluation must not touch production.
    engine = Engine(live.registry, EventStore(":memory:"), MemoryStateStore(), explain="none")
    data_types = {v["name"]: v["dataType"] for v in engine.registry.get_variables()}
    data = read_afd_csv(csv, event_type=EVENT_TYPE, data_types=data_types)
    start = int(len(data.events) * from_share)
    scores, outcomes = [], []
    with progress_steps() as steps:
        for i, event in enumerate(data.events):
            p = engine.predict(event, DETECTOR_ID, store=False, learn=True)
            if i >= start:
                scores.append(next(iter(p.scores.values())))
                outcomes.append(p.outcome or "none")
            if i % 2000 == 0:
                steps.update("scoring", i, len(data.events))
        steps.update("scoring", len(data.events), len(data.events))
    y = data.labels[start:]
    raw = np.array(scores, dtype=np.float64)
    console.print(metrics_table(evaluate_scores(y, raw, raw.astype(np.int64)), "Evaluation"))
    table = Table(title="Outcomes")
    for col in ("outcome", "events", "fraud", "legit"):
        table.add_column(col, justify="right")
    out = np.array(outcomes)
    for name in sorted(set(outcomes)):
        mask = out == name
        table.add_row(name, f"{mask.sum():,}", f"{y[mask].sum():,}", f"{(1 - y[mask]).sum():,}")
    console.print(table)


@click.command()
@click.option("--event", "event_json", help="One transaction as JSON.")
@click.option(
    "--file",
    "events_file",
    type=click.File("rb"),
    help="Transactions, one JSON object per line ('-' for stdin).",
)
@click.option("--detector", default=DETECTOR_ID, show_default=True)
@click.option("--version", "version_id", default=None, help="Detector version (default: ACTIVE).")
@home_option
@friendly_errors
def predict(
    event_json: str | None,
    events_file: click.utils.LazyFile | None,
    detector: str,
    version_id: str | None,
    home: Path,
) -> None:
    """Score transactions and print one JSON decision per line."""
    if (event_json is None) == (events_file is None):
        raise click.UsageError("give exactly one of --event or --file")
    lines = [event_json.encode()] if event_json is not None else list(events_file)  # type: ignore[arg-type]
    engine = Engine.open(home, explain="all")
    bad = 0
    try:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = parse_transaction(line).to_event()
            except InvalidInput as exc:
                bad += 1
                click.echo(f"line {number}: {exc}", err=True)
                continue
            p = engine.predict(event, detector, version_id)
            sys.stdout.write(
                orjson.dumps({"event_id": event.event_id, **p.to_dict()}).decode() + "\n"
            )
    finally:
        engine.close()
    if bad:
        raise InvalidInput(f"{bad} of {len(lines)} events were malformed")


@click.group()
def rules() -> None:
    """Work with rules in AFD's rule language."""


@rules.command("check")
@click.argument("expression")
@click.option("--detector", default=None, help="Also check variables and lists against a detector.")
@home_option
@friendly_errors
def rules_check(expression: str, detector: str | None, home: Path) -> None:
    """Parse a rule expression and report the first error with its position."""
    parsed = parse_rule(expression)
    if detector is not None:
        engine = Engine.open(home)
        try:
            lists = {d["name"] for d in engine.registry.get_lists()}
            check_rule(expression, engine.registry.rule_variables(detector), lists)
        finally:
            engine.close()
    names = ", ".join(sorted(parsed.variables)) or "none"
    console.print(f"[green]ok[/]: variables {names}")


@click.group()
def detector() -> None:
    """Detector versions: list and activate."""


@detector.command("versions")
@click.option("--detector", "detector_id", default=DETECTOR_ID, show_default=True)
@home_option
@friendly_errors
def detector_versions(detector_id: str, home: Path) -> None:
    """List a detector's versions with their status, rules and models."""
    engine = Engine.open(home)
    try:
        table = Table(title=f"detector {detector_id}")
        for col in ("version", "status", "mode", "models", "rules", "description"):
            table.add_column(col)
        for dv in engine.registry.detector_versions(detector_id):
            table.add_row(
                dv["detectorVersionId"],
                dv["status"],
                dv["ruleExecutionMode"],
                ", ".join(f"{m['modelId']}:{m['modelVersionNumber']}" for m in dv["modelVersions"]),
                ", ".join(f"{r['ruleId']}:{r['ruleVersion']}" for r in dv["rules"]),
                dv.get("description", ""),
            )
        console.print(table)
    finally:
        engine.close()


@detector.command("activate")
@click.argument("version_id")
@click.option("--detector", "detector_id", default=DETECTOR_ID, show_default=True)
@home_option
@friendly_errors
def detector_activate(version_id: str, detector_id: str, home: Path) -> None:
    """Make a version ACTIVE (the previous ACTIVE one becomes INACTIVE atomically)."""
    engine = Engine.open(home)
    try:
        engine.registry.update_detector_version_status(detector_id, version_id, "ACTIVE")
        console.print(f"detector {detector_id} version {version_id} is ACTIVE")
    finally:
        engine.close()


COMMANDS = (train, evaluate, predict, rules, detector)
