"""Converting records between confluent-kafka's types and the transport's :class:`Message`."""

from __future__ import annotations

from confluent_kafka import Message as KMessage

from fraudstream.stream.transport.base import HeadersLike, Message, normalize_headers, to_bytes

__all__ = ["from_kafka", "headers_for_kafka"]


def headers_for_kafka(headers: HeadersLike) -> list[tuple[str, str | bytes | None]] | None:
    normalized = normalize_headers(headers)
    return [(name, value) for name, value in normalized] if normalized else None


def from_kafka(msg: KMessage) -> Message:
    topic = msg.topic()
    partition = msg.partition()
    offset = msg.offset()
    assert topic is not None
    assert partition is not None
    assert offset is not None
    raw_headers = msg.headers() or []
    if isinstance(raw_headers, dict):
        raw_headers = list(raw_headers.items())
    return Message(
        topic,
        partition,
        offset,
        msg.key(),
        msg.value() or b"",
        tuple((name, to_bytes(value or b"", "header")) for name, value in raw_headers),
        msg.timestamp()[1],
    )
