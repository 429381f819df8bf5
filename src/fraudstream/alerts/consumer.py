"""The alert consumer: ``processed_transactions`` -> alerts for the outcomes that need one.

It reads in its own consumer group (``fraudstream-alerts``) through the shared
:class:`~fraudstream.stream.batch_loop.BatchLoop`. For each batch it builds a masked
:class:`~fraudstream.alerts.message.Alert` for every decision whose ``fd.outcome`` is in
``outcomes`` (default ``{"block"}``), queues it for every channel in the ledger in one
transaction, and only then commits the batch's offsets. The ledger is the outbox: once an
alert is in it, it is delivered by the channel's worker thread however long the channel is
down, and nothing else waits for it. See :mod:`fraudstream.alerts.ledger` for what a crash can
and cannot do (in short: never lose an alert, never send one twice per channel except for the
one message in flight at the moment of a crash).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from fraudstream.alerts.channel import Channel
from fraudstream.alerts.dispatcher import ChannelWorker, DispatchSettings
from fraudstream.alerts.errors import AlertConfigError, LedgerUnavailable
from fraudstream.alerts.ledger import Ledger
from fraudstream.alerts.message import Alert
from fraudstream.stream.batch_loop import BatchLoop, LoopSettings, Rejected
from fraudstream.stream.records import DeadLetterKind
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import Message, Transport

__all__ = ["DEFAULT_GROUP", "AlertConsumer", "AlertSettings"]

log = logging.getLogger(__name__)

DEFAULT_GROUP: Final = "fraudstream-alerts"


@dataclass(frozen=True, slots=True)
class AlertSettings(LoopSettings):
    """Which decisions raise alerts, and how the loop reads (see the module docs and
    :class:`~fraudstream.stream.batch_loop.LoopSettings`; ``dlq`` takes records that are not
    decisions, else they are logged and skipped)."""

    group_id: str = DEFAULT_GROUP
    outcomes: frozenset[str] = field(default_factory=lambda: frozenset({"block"}))
    #: Links in messages point to ``{dashboard_url}/events/{event_id}``.
    dashboard_url: str | None = None

    def __post_init__(self) -> None:
        if not self.outcomes:
            raise AlertConfigError("alert outcomes must not be empty", [("outcomes", "empty")])
        if self.batch_size < 1:
            raise AlertConfigError("batch_size must be >= 1")
        LoopSettings.__post_init__(self)


def _record(message: Message) -> Mapping[str, Any] | None:
    try:
        data = orjson.loads(message.value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, Mapping) or not isinstance(data.get("fd"), Mapping):
        return None
    return data if data.get("event_id") else None


class AlertConsumer:
    """Reads decisions, queues alerts, runs one worker per channel (see the module docs).

    Not thread-safe, except :meth:`stop`, which any thread or signal handler may call.
    """

    def __init__(
        self,
        transport: Transport,
        ledger: Ledger,
        channels: Sequence[Channel],
        settings: AlertSettings | None = None,
        *,
        dispatch: DispatchSettings | None = None,
        topics: Topics | None = None,
        on_sent: Callable[[str, Sequence[Alert]], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        names = [c.name for c in channels]
        if not channels:
            raise AlertConfigError("configure at least one alert channel (SMTP or webhook)")
        if len(set(names)) != len(names):
            raise AlertConfigError(f"channel names must be unique, got {names}")
        self.transport = transport
        self.ledger = ledger
        self.channels = list(channels)
        self.settings = settings or AlertSettings()
        self.topics = topics or Topics()
        self.workers = [ChannelWorker(c, ledger, dispatch, on_sent=on_sent) for c in channels]
        self.loop = BatchLoop(
            transport,
            [self.topics.processed],
            self._queue,
            self.settings,
            name="alerts",
            retriable=(LedgerUnavailable,),
            sleep=sleep,
        )
        self.stop_event = self.loop.stop_event
        self._started = False
        self.queued = 0

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def consumed(self) -> int:
        return self.loop.consumed

    # -- lifecycle

    def open(self) -> None:
        """Join the group and start the channel workers (``run`` does it when needed)."""
        if self._started:
            return
        self.loop.open()
        for worker in self.workers:
            worker.start()
        self._started = True
        log.info(
            "alert consumer joined group %s on %s; alerting on %s via %s",
            self.settings.group_id,
            self.transport.redacted(),
            ", ".join(sorted(self.settings.outcomes)),
            "; ".join(c.describe() for c in self.channels),
        )

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand."""
        self.loop.stop()

    def close(self, timeout: float | None = 30.0) -> None:
        """Leave the group, let each worker finish its message in flight, close channels.
        Alerts still queued stay in the ledger for the next start."""
        self.loop.close()
        for worker in self.workers:
            worker.stop(timeout)
        for channel in self.channels:
            channel.close()

    def __enter__(self) -> AlertConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the loop

    def run(self, *, max_records: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until :meth:`stop` (or ``max_records`` read, or ``idle_timeout`` seconds
        without input). Returns the number of decisions read."""
        self.open()
        return self.loop.run(max_records=max_records, idle_timeout=idle_timeout)

    def step(self) -> int:
        """Poll one batch, queue its alerts durably, then commit it."""
        self.open()
        return self.loop.step()

    def _queue(self, messages: Sequence[Message]) -> list[Rejected]:
        """The handler: the batch's alerts into the ledger (idempotent, so a retry is safe)."""
        alerts, rejected = self.classify(messages)
        if alerts:
            self.queued += self.ledger.enqueue(alerts, self.channel_names)
            for worker in self.workers:
                worker.wake()
        return rejected

    def alerts_of(self, messages: Sequence[Message]) -> list[Alert]:
        """The alerts a batch raises (malformed records are left out)."""
        return self.classify(messages)[0]

    def classify(self, messages: Sequence[Message]) -> tuple[list[Alert], list[Rejected]]:
        """The alerts a batch raises, and the records that are not decisions."""
        alerts: list[Alert] = []
        rejected: list[Rejected] = []
        outcomes: Collection[str] = self.settings.outcomes
        for message in messages:
            record = _record(message)
            if record is None:
                rejected.append(Rejected(message, "not a decision record", DeadLetterKind.INVALID))
                continue
            if record["fd"].get("outcome") in outcomes:
                where = f"{message.topic}[{message.partition}]@{message.offset}"
                alerts.append(Alert.from_record(record, self.settings.dashboard_url, where))
        return alerts, rejected

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until every queued alert was sent (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ledger.outstanding(self.channel_names) == 0:
                return True
            time.sleep(0.05)
        return self.ledger.outstanding(self.channel_names) == 0
