"""Live pipeline commands: ``fraudstream produce`` and ``fraudstream process``.

Both take ``--broker`` (a transport URL; default ``$FRAUDSTREAM_BROKER``, else the embedded log
``embedded:<home>/log.db``) and ``--home``. Register with
``register(*stream_cmds.COMMANDS)``; ``python -m fraudstream.cli.stream_cmds`` runs them too.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from urllib.parse import urlencode

import click

from fraudstream.cli.logs import setup_logging
from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.errors import InvalidInput, NotFound
from fraudstream.runtime import freeze_startup_objects
from fraudstream.stream.topics import DEFAULT_PARTITIONS, Topics, ensure_topics
from fraudstream.stream.transport import (
    open_transport,
    parse_transport_url,
    redacted,
    transport_url_from_env,
)

__all__ = ["COMMANDS", "process", "produce"]

log = logging.getLogger("fraudstream.stream")


def broker_url(broker: str | None, home: Path) -> str:
    """``--broker``, else ``$FRAUDSTREAM_BROKER``, else the embedded log in ``home``."""
    if broker:
        return broker
    return transport_url_from_env(default=f"embedded:{home / 'log.db'}")


def static_member_url(url: str, member: str) -> str:
    """A Kafka URL whose consumers are static group members named ``member``
    (``group.instance.id``), unless the URL sets one itself; other URLs are returned as they
    are. A restarted processor with the same name then gets its partitions back at once instead
    of waiting for the group to notice that its predecessor died; two live processors with the
    same name fence each other, as their transactional ids would."""
    parsed = parse_transport_url(url)
    if parsed.scheme != "kafka" or "consumer.group.instance.id" in parsed.options:
        return url
    options = {**parsed.options, "consumer.group.instance.id": member}
    return f"kafka://{parsed.bootstrap}?{urlencode(options)}"


def broker_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--broker",
        default=None,
        metavar="URL",
        help="Transport URL: embedded:PATH or kafka://host:9092[,...][?librdkafka options]."
        " Default: $FRAUDSTREAM_BROKER, else embedded:<home>/log.db.",
    )(func)


def topic_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--partitions",
        default=DEFAULT_PARTITIONS,
        show_default=True,
        type=click.IntRange(1, 10_000),
        help="Partitions of the pipeline topics when this command creates them.",
    )(func)
    return click.option(
        "--topic-prefix",
        default="",
        help="Prefix of every topic name (to run several pipelines on one log).",
    )(func)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop()`` on SIGTERM / SIGINT (a second SIGINT interrupts at once)."""
    previous: dict[int, Any] = {}
    hits = {"n": 0}

    def handler(signum: int, frame: FrameType | None) -> None:
        hits["n"] += 1
        if signum == signal.SIGINT and hits["n"] > 1:
            raise KeyboardInterrupt
        log.info("%s received: finishing the current batch", signal.Signals(signum).name)
        stop()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


# --------------------------------------------------------------------------- produce


@click.command()
@broker_option
@home_option
@click.option(
    "--rate",
    default=None,
    help="Events per time: 30/min (default for simulated data), 2000/s, 5/h, or max"
    " (default for --replay).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after this many seconds.")
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Send the events of a CSV (AFD or record columns) or JSONL file instead of simulating.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="Format of the --replay file.",
)
@click.option("--seed", default=0, show_default=True, help="Simulator seed (same as training).")
@click.option("--customers", default=2_000, show_default=True, help="Simulated customers.")
@click.option(
    "--time-scale",
    default="1",
    show_default=True,
    help="Simulated seconds per real second, or 'natural' (customers at their habits' pace).",
)
@click.option("--run-id", type=int, default=None, help="Seed of this run's events (default: now).")
@click.option("--fraud-rate", type=click.FloatRange(0, 0.5), help="Simulated fraud share.")
@click.option("--bursts/--no-bursts", default=True, show_default=True, help="Rate spikes.")
@click.option(
    "--burst-every", default=120.0, show_default=True, help="Mean seconds between bursts."
)
@click.option("--burst-factor", default=10.0, show_default=True, help="Rate multiplier in a burst.")
@click.option("--burst-duration", default=5.0, show_default=True, help="Seconds a burst lasts.")
@click.option(
    "--truth/--no-truth",
    default=True,
    show_default=True,
    help="Write the ground truth of each event to simulator_truth.",
)
@topic_options
@friendly_errors
def produce(
    broker: str | None,
    home: Path,
    rate: str | None,
    limit: int | None,
    duration: float | None,
    replay: Path | None,
    fmt: str,
    seed: int,
    customers: int,
    time_scale: str,
    run_id: int | None,
    fraud_rate: float | None,
    bursts: bool,
    burst_every: float,
    burst_factor: float,
    burst_duration: float,
    truth: bool,
    partitions: int,
    topic_prefix: str,
) -> None:
    """Write simulated (or replayed) transactions to the transactions topic."""
    import itertools
    import time

    from fraudstream.simulate import Burst
    from fraudstream.stream.producer import (
        ProduceStats,
        TransactionProducer,
        paced,
        parse_rate,
        simulated,
    )
    from fraudstream.stream.replay import Item, read_events

    setup_logging()
    url = broker_url(broker, home)
    per_s = parse_rate(rate or ("max" if replay else "30/min"))
    source: Iterator[Item]
    if replay is not None:
        events = read_events(replay, fmt)  # type: ignore[arg-type]
        source = paced(itertools.islice(events, limit), per_s)
    else:
        if per_s == float("inf"):
            raise InvalidInput("simulated data needs a finite --rate", [("rate", "max")])
        burst = Burst(burst_every, burst_duration, burst_factor) if bursts else None
        source = simulated(
            per_s,
            burst=burst,
            seed=seed,
            n_customers=customers,
            fraud_rate=fraud_rate,
            limit=limit,
            time_scale=_time_scale(time_scale),
            run_id=int(time.time()) if run_id is None else run_id,
        )
    stop = threading.Event()
    if duration is not None:
        timer = threading.Timer(duration, stop.set)
        timer.daemon = True
        timer.start()

    def report(stats: ProduceStats) -> None:
        log.info("produced %d events (%.0f/s)", stats.sent, stats.rate)

    topics = Topics.prefixed(topic_prefix)
    started = time.monotonic()
    with open_transport(url) as transport:
        ensure_topics(transport, partitions, topics)
        log.info("producing to %s on %s at %s/s", topics.transactions, redacted(url), per_s)
        with (
            TransactionProducer(transport, topics, truth=truth) as producer,
            stop_on_signals(stop.set),
        ):
            stats = producer.run(source, stop=stop, report_every=10.0, report=report)
    click.echo(
        f"produced {stats.sent} events ({stats.truths} truth labels) in"
        f" {time.monotonic() - started:.1f}s"
    )


def _time_scale(text: str) -> float | Literal["natural"]:
    if text == "natural":
        return "natural"
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(
            f"--time-scale must be a positive number or 'natural', got {text!r}",
            [("time_scale", "not a number")],
        ) from None
    return value


# --------------------------------------------------------------------------- process


@click.command()
@broker_option
@home_option
@click.option("--detector", "detector_id", default=None, help="Detector id (default: the default).")
@click.option("--group", default="fraudstream-processor", show_default=True, help="Consumer group.")
@click.option(
    "--instance",
    default=None,
    help="This processor's name in the group (default: host name); with --exactly-once it"
    " must be unique per running processor and stable across restarts.",
)
@click.option(
    "--exactly-once",
    is_flag=True,
    help="Write outputs and offsets in one transaction (read_committed readers see each once).",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (0: any free port).",
)
@click.option("--metrics-addr", default="127.0.0.1", show_default=True, help="Metrics address.")
@click.option("--log-every", default=10.0, show_default=True, help="Seconds between log summaries.")
@click.option("--max-events", type=click.IntRange(min=1), help="Stop after this many inputs.")
@click.option("--until-idle", type=float, help="Stop after this many seconds without input.")
@click.option(
    "--state-url",
    default=None,
    metavar="redis://HOST:PORT/DB",
    help="Keep entity state in Redis, shared by all processors (default: in-process, persisted"
    " to <home>/state.db; IP, e-mail and BIN aggregates then see only this processor's"
    " partitions).",
)
@topic_options
@friendly_errors
def process(
    broker: str | None,
    home: Path,
    detector_id: str | None,
    group: str,
    instance: str | None,
    exactly_once: bool,
    batch_size: int,
    metrics_port: int | None,
    metrics_addr: str,
    log_every: float,
    max_events: int | None,
    until_idle: float | None,
    state_url: str | None,
    partitions: int,
    topic_prefix: str,
) -> None:
    """Score the transactions topic into processed_transactions (dead letters to the DLQ)."""
    from fraudstream.detector.defaults import DETECTOR_ID
    from fraudstream.detector.engine import Engine
    from fraudstream.detector.features import MemoryStateStore, RedisStateStore
    from fraudstream.stream.metrics import MetricsServer, PipelineMetrics
    from fraudstream.stream.processor import Processor, ProcessorSettings
    from fraudstream.stream.transport import TopicPartition

    setup_logging()
    url = broker_url(broker, home)
    detector = detector_id or DETECTOR_ID
    options: dict[str, Any] = {}
    if instance:
        options["instance"] = instance
    settings = ProcessorSettings(
        detector_id=detector,
        group_id=group,
        batch_size=batch_size,
        exactly_once=exactly_once,
        summary_every=log_every,
        **options,
    )
    topics = Topics.prefixed(topic_prefix)
    url = static_member_url(url, settings.transactional_id)
    engine = Engine.open(home, state=RedisStateStore(state_url) if state_url else None)
    with contextlib.ExitStack() as stack:
        stack.callback(engine.close)
        try:
            engine.compiled(detector)
        except NotFound as exc:
            raise NotFound(
                f"{exc}; train one first (fraudstream train <afd.csv> --home {home})"
            ) from None
        # The model, rules and libraries loaded so far live as long as the process: keep the
        # garbage collector from scanning them again (full collections of a big heap are
        # pauses of ~100 ms that would land in the decision latency).
        gc.collect()
        gc.freeze()

        def reload_state(assigned: frozenset[TopicPartition]) -> None:
            # Entities of a partition that moved here were last updated by another process:
            # drop cached state so it is read again from what that process flushed.
            if isinstance(engine.state, MemoryStateStore):
                engine.state.close()
                engine.state = MemoryStateStore(home / "state.db")

        metrics = PipelineMetrics()
        if metrics_port is not None:
            server = MetricsServer(metrics.registry, metrics_port, metrics_addr)
            stack.callback(server.close)
            log.info("metrics on %s", server.url)
        transport = stack.enter_context(open_transport(url))
        ensure_topics(transport, partitions, topics)
        processor = stack.enter_context(
            Processor(
                transport,
                engine,
                settings,
                topics=topics,
                metrics=metrics,
                on_assign=reload_state,
            )
        )
        freeze_startup_objects()  # no 100+ ms full collections over the libraries mid-stream
        with stop_on_signals(processor.stop):
            handled = processor.run(max_events=max_events, idle_timeout=until_idle)
    click.echo(
        f"processed {handled} inputs: {metrics.total_decisions} decisions,"
        f" {metrics.total_dead_letters} dead letters"
    )


COMMANDS = (produce, process)


def standalone(doc: str, commands: Iterable[click.Command]) -> click.Group:
    """A group of ``commands``, for ``python -m fraudstream.cli.<module>``."""
    group = click.Group(help=doc)
    for command in commands:
        group.add_command(command)
    return group


if __name__ == "__main__":
    standalone("fraudstream live pipeline (produce / process).", COMMANDS)()
