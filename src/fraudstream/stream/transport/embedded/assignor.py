"""Which member of a group should own which partition: Kafka's *range* assignor.

A pure function of the live members, so every member computes the same answer without talking
to the others, and members of two co-partitioned topics get the same partition numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from fraudstream.stream.transport.base import TopicPartition

__all__ = ["range_assignment"]


def range_assignment(
    members: Sequence[tuple[str, Sequence[str]]], partitions: dict[str, int]
) -> dict[str, set[TopicPartition]]:
    """Kafka's range assignor: per topic, its partitions in contiguous ranges over the members
    subscribed to it, sorted by member id (earlier members get one more when it doesn't divide)."""
    out: dict[str, set[TopicPartition]] = {member: set() for member, _ in members}
    for topic in sorted({t for _, topics in members for t in topics}):
        count = partitions.get(topic)
        if count is None:
            continue
        subscribers = sorted(member for member, topics in members if topic in topics)
        per, extra = divmod(count, len(subscribers))
        start = 0
        for i, member in enumerate(subscribers):
            n = per + (1 if i < extra else 0)
            out[member].update(TopicPartition(topic, p) for p in range(start, start + n))
            start += n
    return out
