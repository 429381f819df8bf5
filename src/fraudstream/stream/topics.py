"""The live pipeline's topics, as in the reference system, plus a dead-letter and a truth topic.

* ``transactions``: the producer's raw transaction records (JSON, key = ``entity_id``);
* ``processed_transactions``: each record plus the detector's decision in ``fd`` (key =
  ``entity_id``), what alerting and search indexing read;
* ``transactions_dlq``: inputs the processor could not turn into a decision, with their
  original bytes and the reason in headers (see :mod:`fraudstream.stream.records`);
* ``simulator_truth``: the simulator's ground truth (``is_fraud``, ``fraud_kind``) for each
  generated event, written beside the events so dashboards can measure live precision and
  recall while the events themselves carry no label.

All four share one partition count so a key lands on the same partition number everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Final

from fraudstream.stream.transport import Transport, TransportInputError
from fraudstream.stream.transport.base import validate_topic_name

__all__ = [
    "DEFAULT_PARTITIONS",
    "DLQ",
    "PROCESSED_TRANSACTIONS",
    "SIMULATOR_TRUTH",
    "TRANSACTIONS",
    "Topics",
    "ensure_topics",
]

log = logging.getLogger(__name__)

TRANSACTIONS: Final = "transactions"
PROCESSED_TRANSACTIONS: Final = "processed_transactions"
DLQ: Final = "transactions_dlq"
SIMULATOR_TRUTH: Final = "simulator_truth"
DEFAULT_PARTITIONS: Final = 4


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names one pipeline uses (override them to run several pipelines on one log)."""

    transactions: str = TRANSACTIONS
    processed: str = PROCESSED_TRANSACTIONS
    dlq: str = DLQ
    truth: str = SIMULATOR_TRUTH

    def __post_init__(self) -> None:
        for f in fields(self):
            validate_topic_name(getattr(self, f.name))
        if len(set(self.all())) != len(self.all()):
            raise TransportInputError(f"topic names must differ, got {self.all()}")

    @classmethod
    def prefixed(cls, prefix: str) -> Topics:
        """The standard names behind ``prefix`` (``"test-"`` -> ``test-transactions``...)."""
        return cls(
            transactions=prefix + TRANSACTIONS,
            processed=prefix + PROCESSED_TRANSACTIONS,
            dlq=prefix + DLQ,
            truth=prefix + SIMULATOR_TRUTH,
        )

    def all(self) -> tuple[str, ...]:
        return (self.transactions, self.processed, self.dlq, self.truth)


def ensure_topics(
    transport: Transport, partitions: int = DEFAULT_PARTITIONS, topics: Topics | None = None
) -> Topics:
    """Create the pipeline's topics with ``partitions`` partitions where they are missing.

    Existing topics are left as they are; one with another partition count is logged, because
    then a key may land on different partition numbers in the input and output topics (still
    correct, as every consumer reads by key, but no longer co-partitioned).
    """
    topics = topics or Topics()
    transport.create_topics(topics.all(), partitions=partitions)
    for name in topics.all():
        actual = transport.partitions_for(name)
        if actual != partitions:
            log.warning(
                "topic %s has %d partitions (wanted %d); left as it is", name, actual, partitions
            )
    return topics
