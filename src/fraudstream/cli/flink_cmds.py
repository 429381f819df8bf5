"""``fraudstream flink``: the processor as an Apache Flink job (optional; see docs/flink.md).

``fraudstream flink run --local`` runs the job on a local mini-cluster in a child process of the
Flink Python (``scripts/flink-deps.sh``); ``fraudstream flink deps`` says where that is. Nothing
here imports PyFlink. Register with ``register(flink_cmds.flink)``.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import click

from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.stream_cmds import broker_option, broker_url, topic_options
from fraudstream.errors import InvalidInput, NotFound

__all__ = ["COMMANDS", "flink"]


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what} takes KEY=VALUE, got {item.split('=')[0]!r}", [(what, "")])
        out[key.strip()] = value
    return out


def _check_detector(registry: Path, detector_id: str) -> None:
    from fraudstream.detector.registry import Registry, SQLiteDocumentStore

    if not registry.is_file():
        raise NotFound(f"no registry at {registry}: train a detector first (fraudstream train)")
    store = SQLiteDocumentStore(registry)
    try:
        if Registry(store).active_version(detector_id) is None:
            raise NotFound(f"detector {detector_id!r} has no ACTIVE version in {registry}")
    finally:
        store.close()


@click.group()
def flink() -> None:
    """Run the processor as an Apache Flink job (PyFlink)."""


@flink.command()
@friendly_errors
def deps() -> None:
    """Show the Python and jars the job uses (or how to install them)."""
    from fraudstream.stream.flink.deps import find_flink_deps

    found = find_flink_deps()
    click.echo(f"python: {found.python}")
    for jar in found.jars:
        click.echo(f"jar:    {jar}")


@flink.command()
@click.option("--local", is_flag=True, help="Run on a local mini-cluster.")
@click.option(
    "--write-settings",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the job's settings JSON here (owner-only: it holds the broker URL) and exit,"
    " for submitting to a cluster with `flink run` (docs/flink.md).",
)
@broker_option
@home_option
@click.option(
    "--registry",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Registry SQLite file (default: <home>/registry.db).",
)
@click.option("--detector", "detector_id", default=None, help="Detector id (default: the default).")
@click.option("--group", default=None, help="Kafka group for offsets [default: fraudstream-flink].")
@click.option(
    "--parallelism",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Subtasks per operator (and Python workers, in process mode).",
)
@click.option(
    "--exactly-once",
    is_flag=True,
    help="Kafka transactions committed with each checkpoint (outputs visible per checkpoint).",
)
@click.option(
    "--checkpoint-interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.01),
    help="Seconds between checkpoints.",
)
@click.option(
    "--checkpoint-dir",
    default=None,
    metavar="PATH|URI",
    help="Keep checkpoints here (retained on cancel; resume with --restore).",
)
@click.option(
    "--restore", default=None, metavar="PATH|URI", help="Start from this checkpoint/savepoint."
)
@click.option(
    "--start",
    type=click.Choice(["group", "earliest", "latest"]),
    default="group",
    show_default=True,
    help="Where to read without restored state: committed group offsets (else earliest).",
)
@click.option(
    "--until-end", is_flag=True, help="Stop at the input's end offsets as they are at start."
)
@click.option(
    "--execution-mode",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="PyFlink Python execution: worker processes (gRPC) or embedded in the JVM.",
)
@click.option(
    "--bundle-time-ms",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Longest a Python operator holds records (Flink's default of 1000 adds latency).",
)
@click.option(
    "--refresh-seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How often each worker checks the registry for a newly activated version.",
)
@click.option("--store-events", is_flag=True, help="Store events in <home>/events.db (one host).")
@click.option(
    "--debug-state",
    is_flag=True,
    hidden=True,
    help="Add fd.state_counts (each state's event count before the event) to decisions.",
)
@click.option(
    "--kafka-property",
    multiple=True,
    metavar="KEY=VALUE",
    help="Java Kafka client property (consumer./producer. prefixes allowed); repeatable.",
)
@click.option(
    "--flink-config", multiple=True, metavar="KEY=VALUE", help="Flink option; repeatable."
)
@topic_options
@friendly_errors
def run(
    local: bool,
    write_settings: Path | None,
    broker: str | None,
    home: Path,
    registry: Path | None,
    detector_id: str | None,
    group: str | None,
    parallelism: int,
    exactly_once: bool,
    checkpoint_interval: float,
    checkpoint_dir: str | None,
    restore: str | None,
    start: str,
    until_end: bool,
    execution_mode: str,
    bundle_time_ms: int,
    refresh_seconds: float,
    store_events: bool,
    debug_state: bool,
    kafka_property: tuple[str, ...],
    flink_config: tuple[str, ...],
    partitions: int,
    topic_prefix: str,
) -> None:
    """Score the transactions topic on Flink into processed_transactions (and the DLQ)."""
    from fraudstream.detector.defaults import DETECTOR_ID
    from fraudstream.stream.flink.launcher import LocalJob
    from fraudstream.stream.flink.settings import (
        DEFAULT_FLINK_GROUP,
        FlinkSettings,
        WorkerSettings,
    )
    from fraudstream.stream.topics import Topics, ensure_topics
    from fraudstream.stream.transport import open_transport

    if not local and write_settings is None:
        raise InvalidInput(
            "give --local (a mini-cluster here) or --write-settings (to submit to a Flink"
            " cluster with `flink run`, see docs/flink.md)",
            [("local", "required")],
        )
    url = broker_url(broker, home)
    detector = detector_id or DETECTOR_ID
    registry_path = (registry or home / "registry.db").resolve()
    if write_settings is None:  # on a cluster the path is the TaskManagers' (checked there)
        _check_detector(registry_path, detector)
    topics = Topics.prefixed(topic_prefix)
    settings = FlinkSettings(
        broker=url,
        worker=WorkerSettings(
            registry=str(registry_path),
            detector_id=detector,
            topics=topics,
            refresh_seconds=refresh_seconds,
            events_db=str((home / "events.db").resolve()) if store_events else None,
            debug_state=debug_state,
        ),
        group_id=group or DEFAULT_FLINK_GROUP,
        parallelism=parallelism,
        exactly_once=exactly_once,
        checkpoint_interval_ms=round(checkpoint_interval * 1000),
        checkpoint_dir=checkpoint_dir,
        restore_from=restore,
        start=start,  # type: ignore[arg-type]
        execution_mode=execution_mode,  # type: ignore[arg-type]
        bundle_time_ms=bundle_time_ms,
        kafka_properties=_pairs(kafka_property, "--kafka-property"),
        flink_config=_pairs(flink_config, "--flink-config"),
    )
    if write_settings is not None:
        settings.write(write_settings)
        click.echo(f"wrote {write_settings}")
        return
    with open_transport(url) as transport:
        ensure_topics(transport, partitions, topics)
        if until_end:
            settings = replace(settings, bounded=transport.end_offsets(topics.transactions))
    log_dir = home / "flink-log"
    click.echo(f"starting the Flink job (JVM log in {log_dir})", err=True)
    job = LocalJob(settings, log_dir=log_dir)
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[int, Any] = {
        s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        while job.proc.poll() is None and not stop.wait(0.2):
            pass
        if stop.is_set():
            click.echo("stopping the Flink job", err=True)
            job.stop()
        else:
            job.wait()
    finally:
        job.stop()
        for signum, old in previous.items():
            signal.signal(signum, old)


COMMANDS = (flink,)

if __name__ == "__main__":
    flink()
