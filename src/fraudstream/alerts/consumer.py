"""The alert consumer: ``processed_transactions`` -> alerts for the outcomes that need one.

It reads in its own consumer group (``fraudstream-alerts``). For each batch it builds a masked
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
import threading
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
from fraudstream.stream.delivery import Backoff, DeliveryAbandoned, Retrier
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import (
    CommitFailed,
    Consumer,
    Message,
    TopicPartition,
    Transport,
    TransportError,
)

__all__ = ["DEFAULT_GROUP", "AlertConsumer", "AlertSettings"]

log = logging.getLogger(__name__)

DEFAULT_GROUP: Final = "fraudstream-alerts"


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Which decisions raise alerts and how the consumer reads (see the module docs)."""

    group_id: str = DEFAULT_GROUP
    outcomes: frozenset[str] = field(default_factory=lambda: frozenset({"block"}))
    #: Links in messages point to ``{dashboard_url}/events/{event_id}``.
    dashboard_url: str | None = None
    batch_size: int = 500
    poll_timeout: float = 0.2
    retry_initial: float = 0.1
    retry_max: float = 10.0
    stop_grace: float = 30.0

    def __post_init__(self) -> None:
        if not self.outcomes:
            raise AlertConfigError("alert outcomes must not be empty", [("outcomes", "empty")])
        if self.batch_size < 1:
            raise AlertConfigError("batch_size must be >= 1")


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
        self.stop_event = threading.Event()
        s = self.settings
        self._retrier = Retrier(
            Backoff(s.retry_initial, s.retry_max), None, self.stop_event, s.stop_grace, sleep
        )
        self._consumer: Consumer | None = None
        self.consumed = 0
        self.queued = 0

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    # -- lifecycle

    def open(self) -> None:
        """Join the group and start the channel workers (``run`` does it when needed)."""
        if self._consumer is not None:
            return
        self._consumer = self.transport.consumer(self.settings.group_id, [self.topics.processed])
        for worker in self.workers:
            worker.start()
        log.info(
            "alert consumer joined group %s on %s; alerting on %s via %s",
            self.settings.group_id,
            self.transport.redacted(),
            ", ".join(sorted(self.settings.outcomes)),
            "; ".join(c.describe() for c in self.channels),
        )

    def stop(self) -> None:
        """Ask :meth:`run` to return after the batch in hand."""
        self.stop_event.set()

    def close(self, timeout: float | None = 30.0) -> None:
        """Leave the group, let each worker finish its message in flight, close channels.
        Alerts still queued stay in the ledger for the next start."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
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
        consumed = 0
        idle_since = time.monotonic()
        try:
            while not self.stop_event.is_set():
                count = self.step()
                consumed += count
                now = time.monotonic()
                if count:
                    idle_since = now
                if max_records is not None and consumed >= max_records:
                    break
                if idle_timeout is not None and not count and now - idle_since >= idle_timeout:
                    break
        except DeliveryAbandoned as exc:
            log.warning("%s", exc)
        return consumed

    def step(self) -> int:
        """Poll one batch, queue its alerts durably, then commit it."""
        self.open()
        consumer = self._consumer
        assert consumer is not None
        s = self.settings
        messages = self._retrier.run(
            "poll", lambda: consumer.poll(max_messages=s.batch_size, timeout=s.poll_timeout)
        )
        if not messages:
            return 0
        alerts = self.alerts_of(messages)
        if alerts:
            names = self.channel_names
            new = self._retrier.run(
                "alert ledger",
                lambda: self.ledger.enqueue(alerts, names),
                retriable=(LedgerUnavailable,),
            )
            self.queued += new
            for worker in self.workers:
                worker.wake()
        self._commit(consumer, messages)
        self.consumed += len(messages)
        return len(messages)

    def alerts_of(self, messages: Sequence[Message]) -> list[Alert]:
        """The alerts a batch raises (malformed records are skipped and logged by position)."""
        alerts: list[Alert] = []
        outcomes: Collection[str] = self.settings.outcomes
        for message in messages:
            record = _record(message)
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            if record is None:
                log.warning("skipping %s: not a decision record", where)
                continue
            if record["fd"].get("outcome") in outcomes:
                alerts.append(Alert.from_record(record, self.settings.dashboard_url, where))
        return alerts

    def _commit(self, consumer: Consumer, messages: Sequence[Message]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for m in messages:
            offsets[m.topic_partition] = max(offsets.get(m.topic_partition, 0), m.offset + 1)

        def commit() -> None:
            assigned = consumer.assignment()
            owned = {tp: off for tp, off in offsets.items() if tp in assigned}
            if not owned:
                return
            try:
                consumer.commit(owned)
            except CommitFailed as exc:
                # Harmless: the new owner reads them again and the ledger ignores repeats.
                log.warning("offsets not committed (%s)", exc)

        self._retrier.run("commit", commit, retriable=(TransportError,))

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until every queued alert was sent (or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ledger.outstanding(self.channel_names) == 0:
                return True
            time.sleep(0.05)
        return self.ledger.outstanding(self.channel_names) == 0
