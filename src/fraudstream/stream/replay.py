"""Read real events from files for the producer to replay: CSV (AFD or record columns) or JSONL.

* **JSONL** (``.jsonl`` / ``.ndjson`` / ``.json``): one transaction object per line. Lines are
  sent byte for byte as they are (a malformed line is the processor's business: it lands in
  the dead-letter topic, exactly as it would from a real source).
* **AFD CSV** (header starts with ``EVENT_ID``): Amazon Fraud Detector's event dataset format.
  ``EVENT_ID`` / ``EVENT_TIMESTAMP`` / ``ENTITY_ID`` become ``event_id`` / ``event_time`` /
  ``entity_id``; ``ENTITY_TYPE`` is dropped; ``EVENT_LABEL`` (``fraud`` / ``legit``) becomes the
  ground truth sent to ``simulator_truth``, never part of the record.
* **Record CSV**: the 19 record columns by name; ``is_fraud`` / ``fraud_kind`` columns (the
  simulator's frame) become ground truth, ``label_time`` is dropped.

Numbers are sent as JSON numbers when they parse (else as the text, for the processor to
reject); empty cells are left out.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

import orjson

from fraudstream.errors import InvalidInput
from fraudstream.simulate import FraudKind, Truth

__all__ = ["FileFormat", "detect_format", "read_events"]

FileFormat = Literal["auto", "csv", "jsonl"]
#: One replayed item: a record (dict) or raw JSON bytes, and its ground truth if known.
Item = tuple[dict[str, Any] | bytes, Truth | None]

_AFD_NAMES: Final = {
    "EVENT_ID": "event_id",
    "EVENT_TIMESTAMP": "event_time",
    "ENTITY_ID": "entity_id",
}
_DROP: Final = frozenset({"ENTITY_TYPE", "LABEL_TIMESTAMP", "label_time"})
_FLOATS: Final = frozenset({"transaction_amt", "billing_latitude", "billing_longitude"})
_INTS: Final = frozenset({"card_bin"})
_TRUE: Final = frozenset({"1", "true", "t", "yes", "y", "fraud"})


def detect_format(path: str | os.PathLike[str]) -> Literal["csv", "jsonl"]:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise InvalidInput(
        f"cannot tell the format of {Path(path).name!r}: use --format csv or jsonl",
        [("format", "unknown file suffix")],
    )


def read_events(path: str | os.PathLike[str], fmt: FileFormat = "auto") -> Iterator[Item]:
    """The events of a file, in file order (see the module docs)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}", [("path", "not found")])
    kind = detect_format(p) if fmt == "auto" else fmt
    if kind == "jsonl":
        return _jsonl(p)
    if kind == "csv":
        return _csv(p)
    raise InvalidInput(f"unknown format {fmt!r}: use auto, csv or jsonl")


def _jsonl(path: Path) -> Iterator[Item]:
    with path.open("rb") as lines:
        for line in lines:
            raw = line.rstrip(b"\r\n")
            if raw.strip():
                yield raw, None


def _number(value: str, kind: type[float] | type[int]) -> float | int | str:
    try:
        return kind(value)
    except ValueError:
        return value


def _csv(path: Path) -> Iterator[Item]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        afd = bool(header) and header[0].strip().upper() == "EVENT_ID"
        for row in reader:
            record: dict[str, Any] = {}
            truth: Truth | None = None
            label: str | None = None
            kind: str | None = None
            for column, cell in row.items():
                if column is None or cell is None:
                    continue  # a row with more cells than the header
                name = column.strip()
                value = cell.strip()
                if afd and name.upper() in _AFD_NAMES:
                    name = _AFD_NAMES[name.upper()]
                if name in _DROP or (afd and name.upper() in _DROP):
                    continue
                if name in {"EVENT_LABEL", "is_fraud"}:
                    label = value
                    continue
                if name == "fraud_kind":
                    kind = value or None
                    continue
                if value == "":
                    continue
                if name in _FLOATS:
                    record[name] = _number(value, float)
                elif name in _INTS:
                    record[name] = _number(value, int)
                else:
                    record[name] = value
            if label:
                fraud = label.strip().lower() in _TRUE
                truth = Truth(fraud, _fraud_kind(kind) if fraud else None)
            yield record, truth


def _fraud_kind(value: str | None) -> FraudKind | None:
    if not value:
        return None
    try:
        return FraudKind(value)
    except ValueError:
        return None


def dumps(record: dict[str, Any] | bytes) -> bytes:
    """The message value for an item."""
    return record if isinstance(record, bytes) else orjson.dumps(record)
