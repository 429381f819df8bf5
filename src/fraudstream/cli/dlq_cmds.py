"""``fraudstream dlq``: list dead letters with their reasons, replay them after a fix.

Both subcommands take ``--broker`` and ``--topic-prefix`` like the other stream commands and
work the same on the embedded log and on Kafka. What was replayed is the committed offset of
the ``--group`` consumer group on the DLQ topic (see :mod:`fraudstream.stream.dlq`).
"""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from fraudstream.cli.logs import setup_logging
from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.stream_cmds import broker_option, broker_url, standalone
from fraudstream.stream.dlq import REPLAY_GROUP, list_dead_letters, replay
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import open_transport

__all__ = ["COMMANDS", "dlq"]


def _prefix_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--topic-prefix", default="", help="Prefix of every topic name (as given to process)."
    )(func)


def _group_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--group",
        default=REPLAY_GROUP,
        show_default=True,
        help="Consumer group whose offsets on the DLQ record what was replayed.",
    )(func)


@click.group()
def dlq() -> None:
    """Dead letters: list them with their reasons; replay them once the cause is fixed."""


@dlq.command("list")
@broker_option
@home_option
@_prefix_option
@_group_option
@click.option("--pending", is_flag=True, help="Only dead letters not replayed yet.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@friendly_errors
def list_cmd(
    broker: str | None, home: Path, topic_prefix: str, group: str, pending: bool, as_json: bool
) -> None:
    """List dead letters: where, status, kind, source and reason (never the payload)."""
    topics = Topics.prefixed(topic_prefix)
    with open_transport(broker_url(broker, home)) as transport:
        entries = list_dead_letters(transport, topics, group=group, pending_only=pending)
    for e in entries:
        letter = e.letter
        source = f"{letter.source.topic}[{letter.source.partition}]@{letter.source_offset}"
        if as_json:
            row = {
                "partition": e.partition,
                "offset": e.offset,
                "timestamp_ms": e.timestamp_ms,
                "status": "replayed" if e.handled else "pending",
                "kind": letter.kind,
                "reason": letter.reason,
                "error": letter.error,
                "source": source,
                "replay_of": e.replay_of,
                "truncated_from": letter.truncated_from,
            }
            click.echo(orjson.dumps(row).decode())
            continue
        status = "replayed" if e.handled else "pending"
        again = f" (again, from {e.replay_of})" if e.replay_of else ""
        click.echo(f"{e.where:>10} {status:8} {letter.kind:15} {source}{again}: {letter.reason}")
    if not as_json:
        waiting = sum(not e.handled for e in entries)
        click.echo(f"{len(entries)} dead letters in {topics.dlq}, {waiting} pending")


@dlq.command("replay")
@broker_option
@home_option
@_prefix_option
@_group_option
@click.option(
    "--dismiss",
    "dismiss",
    multiple=True,
    metavar="KIND",
    help="Mark dead letters of this kind handled without re-publishing them (e.g."
    " malformed_json, which no fix can save). Repeatable.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Replay at most this many.")
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds to read the DLQ up to its current end.",
)
@friendly_errors
def replay_cmd(
    broker: str | None,
    home: Path,
    topic_prefix: str,
    group: str,
    dismiss: tuple[str, ...],
    limit: int | None,
    timeout: float,
) -> None:
    """Re-publish pending dead letters to their source topic (at-least-once), then mark them
    replayed. Dead letters added meanwhile wait for the next replay."""
    setup_logging()
    topics = Topics.prefixed(topic_prefix)
    with open_transport(broker_url(broker, home)) as transport:
        report = replay(
            transport, topics, group=group, dismiss=set(dismiss), limit=limit, timeout=timeout
        )
    click.echo(f"dlq replay: {report.summary()}")


COMMANDS = (dlq,)

if __name__ == "__main__":
    standalone("fraudstream dead letters.", COMMANDS)()
