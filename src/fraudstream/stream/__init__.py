"""The live pipeline: producer -> ``transactions`` -> processor -> ``processed_transactions``.

The reference system's Kafka + Flink + Amazon Fraud Detector path as Python, on the embedded
SQLite log by default or on Kafka (:mod:`fraudstream.stream.transport`):

* :mod:`~fraudstream.stream.topics` — topic names, :class:`~fraudstream.stream.topics.Topics`,
  :func:`~fraudstream.stream.topics.ensure_topics`;
* :mod:`~fraudstream.stream.producer` — simulated (or replayed, :mod:`~fraudstream.stream.replay`)
  transactions at a rate, plus ground truth on ``simulator_truth``;
* :mod:`~fraudstream.stream.processor` — validate, score in-process, write decisions and dead
  letters (:mod:`~fraudstream.stream.records`), commit (:mod:`~fraudstream.stream.delivery`:
  at-least-once by default, exactly-once as an option);
* :mod:`~fraudstream.stream.metrics` — Prometheus endpoint and log summaries.

Scaling out and what state is shared
------------------------------------
N processors in one consumer group split the input partitions. The key is ``entity_id``, so
every event of one customer reaches the same processor, in order: the per-customer aggregates
are correct with any number of processors. When a partition moves between processors (one
joins, leaves or dies), its new owner drops its cached state and reads what the previous owner
flushed before its last commit (the CLI's ``on_assign`` hook), and replayed events are
recognised by their event id and not counted twice.

State keyed by something else than the customer — the IP address, e-mail address and card BIN
aggregates — sees only the events of the processor's own partitions with the embedded
:class:`~fraudstream.detector.features.MemoryStateStore`: each process keeps its own copy (the
file is last-writer-wins). With one processor that is all events; with several, each sees a
share. Use :class:`~fraudstream.detector.features.RedisStateStore` to make that state shared by
all processors (``Engine.open(home, state=RedisStateStore(url))``).
"""

from __future__ import annotations

from fraudstream.stream.topics import (
    DLQ,
    PROCESSED_TRANSACTIONS,
    SIMULATOR_TRUTH,
    TRANSACTIONS,
    Topics,
    ensure_topics,
)

__all__ = [
    "DLQ",
    "PROCESSED_TRANSACTIONS",
    "SIMULATOR_TRUTH",
    "TRANSACTIONS",
    "Topics",
    "ensure_topics",
]
