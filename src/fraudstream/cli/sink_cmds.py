"""``fraudstream sink``: every decision into the decision store (SQLite, PostgreSQL, OpenSearch).

Takes ``--broker`` / ``--home`` like the pipeline commands. Register with
``register(*sink_cmds.COMMANDS)``; ``python -m fraudstream.cli.sink_cmds sink ...`` runs it too.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import click

from fraudstream.cli.logs import setup_logging
from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.stream_cmds import (
    broker_option,
    broker_url,
    standalone,
    stop_on_signals,
    topic_options,
)

__all__ = ["COMMANDS", "sink"]

log = logging.getLogger("fraudstream.sinks")


@click.command()
@broker_option
@home_option
@click.option(
    "--store",
    envvar="FRAUDSTREAM_STORE",
    default="sqlite",
    show_default=True,
    metavar="SPEC",
    help="sqlite[:PATH] (default <home>/decisions.db), postgres://user@host/db (password in"
    " PGPASSWORD) or opensearch[+https]://host:9200[?index=...] (credentials in"
    " FRAUDSTREAM_OPENSEARCH_USER/_PASSWORD). Env: FRAUDSTREAM_STORE.",
)
@click.option("--group", default="fraudstream-sink", show_default=True, help="Consumer group.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--max-delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 60),
    help="Write a partial batch once its oldest record waited this many seconds.",
)
@click.option(
    "--truth/--no-truth",
    default=True,
    show_default=True,
    help="Also store simulator_truth (for live precision/recall).",
)
@click.option("--max-records", type=click.IntRange(min=1), help="Stop after this many records.")
@click.option("--until-idle", type=float, help="Stop after this many seconds without input.")
@topic_options
@friendly_errors
def sink(
    broker: str | None,
    home: Path,
    store: str,
    group: str,
    batch_size: int,
    max_delay: float,
    truth: bool,
    max_records: int | None,
    until_idle: float | None,
    partitions: int,
    topic_prefix: str,
) -> None:
    """Write every decision of processed_transactions into a searchable store."""
    from fraudstream.sinks.consumer import SinkConsumer, SinkSettings
    from fraudstream.sinks.url import open_sink
    from fraudstream.stream.topics import Topics, ensure_topics
    from fraudstream.stream.transport import open_transport

    setup_logging()
    url = broker_url(broker, home)
    topics = Topics.prefixed(topic_prefix)
    settings = SinkSettings(group_id=group, batch_size=batch_size, max_delay=max_delay, truth=truth)
    with contextlib.ExitStack() as stack:
        transport = stack.enter_context(open_transport(url))
        ensure_topics(transport, partitions, topics)
        target = stack.enter_context(open_sink(store, home, topic=topics.processed))
        consumer = stack.enter_context(SinkConsumer(transport, target, settings, topics=topics))
        with stop_on_signals(consumer.stop):
            consumer.run(max_records=max_records, idle_timeout=until_idle)
        click.echo(f"sink: {consumer.stats.summary()} -> {target.describe()}")


COMMANDS = (sink,)


if __name__ == "__main__":
    standalone("fraudstream decision sink.", COMMANDS)()
