"""The producer: transactions onto the ``transactions`` topic, simulated or replayed.

* :func:`simulated` streams the simulator's :class:`~fraudstream.simulate.LiveGenerator` at a
  rate (``30/min`` like the reference system's producer, or thousands per second) with bursts.
* :func:`~fraudstream.stream.replay.read_events` reads real events from a CSV or JSONL file;
  :func:`paced` spaces any source out to a rate.
* :class:`TransactionProducer` writes each record (key = ``entity_id``) and, when the source
  knows it, the ground truth to ``simulator_truth`` (key = ``entity_id``, so it is
  co-partitioned with the transaction)::

      {"event_id": "...", "entity_id": "...", "event_time": "...", "is_fraud": false,
       "fraud_kind": null}

Clocks and sleeps are injectable (a :class:`~fraudstream.simulate.FakeClock` in tests).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from fraudstream.errors import InvalidInput
from fraudstream.simulate import Burst, LiveGenerator, Truth, build_population
from fraudstream.stream.delivery import Backoff, Retrier
from fraudstream.stream.replay import Item, dumps
from fraudstream.stream.topics import Topics
from fraudstream.stream.transport import DeliveryFailed, Producer, Transport, TransportError

__all__ = [
    "ProduceStats",
    "TransactionProducer",
    "paced",
    "parse_rate",
    "simulated",
]

log = logging.getLogger(__name__)

_RATE = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.I
)
_UNIT_SECONDS: Final = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}


def parse_rate(text: str | float) -> float:
    """Events per second from ``"30/min"``, ``"2000/s"``, ``"5/h"``, ``"250"`` (per second) or
    ``"max"`` (``math.inf``: as fast as possible)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str) and text.strip().lower() in {"max", "inf", "unlimited"}:
        return math.inf
    else:
        match = _RATE.match(str(text))
        if match is None:
            raise InvalidInput(
                f"bad rate {text!r}: use N/s, N/min, N/h, a number per second, or max",
                [("rate", "unparsable")],
            )
        value = float(match.group(1)) / _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if not value > 0 or not math.isfinite(value):
        raise InvalidInput(f"rate must be a positive number, got {text!r}", [("rate", "<= 0")])
    return value


def simulated(
    rate_per_s: float,
    *,
    burst: Burst | None = None,
    seed: int = 0,
    n_customers: int = 2_000,
    fraud_rate: float | None = None,
    limit: int | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    time_scale: float | Literal["natural"] = 1.0,
    run_id: int | None = None,
) -> Iterator[tuple[dict[str, Any], Truth]]:
    """The simulator's live stream as producer items, paced by ``clock`` / ``sleep``.

    ``seed`` picks the customers (the same seed as the training history continues the same
    population); ``run_id`` seeds this run's events, so a restarted producer sends new event
    ids instead of repeating the last run's. ``time_scale`` is simulated seconds per second:
    it keeps each customer as busy as in the history the model learned from.
    """
    options: dict[str, Any] = {}
    if fraud_rate is not None:
        options["fraud_rate"] = fraud_rate
    generator = LiveGenerator(
        rate_per_s,
        burst=burst,
        seed=seed if run_id is None else run_id,
        population=build_population(n_customers, seed),
        time_scale=time_scale,
        clock=clock,
        sleep=sleep,
        limit=limit,
        **options,
    )
    yield from generator


def paced(
    source: Iterable[Item],
    rate_per_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Item]:
    """``source`` at most ``rate_per_s`` items per second (``math.inf``: unpaced)."""
    if math.isinf(rate_per_s):
        yield from source
        return
    interval = 1.0 / rate_per_s
    due: float | None = None
    for item in source:
        now = clock()
        if due is None or now - due > 1.0:  # start, or fell more than 1 s behind: no catch-up
            due = now
        if due > now:
            sleep(due - now)
        yield item
        due += interval


@dataclass
class ProduceStats:
    sent: int = 0
    truths: int = 0
    started: float = 0.0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


def _key(record: Mapping[str, Any] | bytes) -> tuple[bytes | None, Mapping[str, Any] | None]:
    """The message key (``entity_id``) and the parsed record if we had to parse it."""
    parsed: Any = record
    if isinstance(record, bytes):
        try:
            parsed = orjson.loads(record)
        except orjson.JSONDecodeError:
            return None, None
    if not isinstance(parsed, Mapping):
        return None, None
    entity = parsed.get("entity_id")
    return (str(entity).encode() if entity not in (None, "") else None), parsed


class TransactionProducer:
    """Writes transactions and their ground truth (see the module docs). Not thread-safe."""

    def __init__(
        self,
        transport: Transport,
        topics: Topics | None = None,
        *,
        truth: bool = True,
        retrier: Retrier | None = None,
    ) -> None:
        self.topics = topics or Topics()
        self.truth = truth
        self._producer: Producer = transport.producer()
        self._retrier = retrier or Retrier(Backoff(0.05, 5.0))
        self.stats = ProduceStats(started=time.monotonic())

    def send(self, record: Mapping[str, Any] | bytes, truth: Truth | None = None) -> None:
        """Queue one transaction (a record dict, or raw JSON bytes sent as they are)."""
        key, parsed = _key(record)
        value = dumps(record if isinstance(record, bytes | dict) else dict(record))
        topic = self.topics.transactions
        self._retrier.run("produce", lambda: self._producer.produce(topic, value, key=key))
        self.stats.sent += 1
        if truth is not None and self.truth and parsed is not None:
            label = orjson.dumps(
                {
                    "event_id": parsed.get("event_id"),
                    "entity_id": parsed.get("entity_id"),
                    "event_time": parsed.get("event_time"),
                    "is_fraud": truth.is_fraud,
                    "fraud_kind": None if truth.kind is None else str(truth.kind),
                }
            )
            truth_topic = self.topics.truth
            self._retrier.run(
                "produce truth", lambda: self._producer.produce(truth_topic, label, key=key)
            )
            self.stats.truths += 1

    def run(
        self,
        source: Iterable[Item],
        *,
        stop: threading.Event | None = None,
        flush_every: float = 1.0,
        report_every: float = 0.0,
        report: Callable[[ProduceStats], None] | None = None,
    ) -> ProduceStats:
        """Send every item of ``source`` (until ``stop`` is set), flushing every
        ``flush_every`` seconds and at the end; ``report(stats)`` every ``report_every`` s."""
        last_flush = last_report = time.monotonic()
        self.stats.started = last_flush
        for record, truth in source:
            self.send(record, truth)
            now = time.monotonic()
            if now - last_flush >= flush_every:
                self.flush()
                last_flush = now
            if report is not None and report_every > 0 and now - last_report >= report_every:
                self.stats.elapsed = now - self.stats.started
                report(self.stats)
                last_report = now
            if stop is not None and stop.is_set():
                break
        self.flush()
        self.stats.elapsed = time.monotonic() - self.stats.started
        return self.stats

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until everything queued is written (raises ``DeliveryFailed`` on loss)."""
        self._retrier.run(
            "flush",
            lambda: self._producer.flush(timeout),
            retriable=(TransportError,),
            fatal=(DeliveryFailed,),
        )

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> TransactionProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
