"""Amazon Fraud Detector's event dataset CSV: write a history for training, read one back.

AFD's stored-events/batch-import format: the header starts with the event metadata in
upper case, ``EVENT_ID, EVENT_TIMESTAMP, ENTITY_ID, ENTITY_TYPE`` (mandatory) and
``EVENT_LABEL, LABEL_TIMESTAMP`` (optional; the label timestamp is required with a label),
followed by the event type's variables in lower case. Timestamps use the only ISO 8601 form AFD
accepts: ``YYYY-MM-DDTHH:MM:SSZ``, UTC, no milliseconds. We write every column; reading
requires the labels, because a training set without them is no use here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fraudstream.errors import InvalidInput
from fraudstream.events import TRANSACTION_FIELDS, parse_transaction
from fraudstream.simulate.history import FRAME_COLUMNS, LabelledHistory, iso_times

METADATA_COLUMNS: tuple[str, ...] = (
    "EVENT_ID",
    "EVENT_TIMESTAMP",
    "ENTITY_ID",
    "ENTITY_TYPE",
    "EVENT_LABEL",
    "LABEL_TIMESTAMP",
)
#: The event variables: the transaction fields that are not metadata, in schema order.
VARIABLE_COLUMNS: tuple[str, ...] = tuple(
    f for f in TRANSACTION_FIELDS if f not in ("event_id", "entity_id", "event_time")
)
AFD_COLUMNS: tuple[str, ...] = METADATA_COLUMNS + VARIABLE_COLUMNS
ENTITY_TYPE = "customer"
LABELS = ("fraud", "legit")

_EXACT_TIMES = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\x00)*")
_SPECIAL = (",", '"', "\n", "\r")
_WRITE_CHUNK = 100_000
_FLOAT_VARIABLES = ("transaction_amt", "billing_latitude", "billing_longitude")
_NOT_EMPTY = ("EVENT_ID", "ENTITY_ID", *(v for v in VARIABLE_COLUMNS if v not in _FLOAT_VARIABLES))


def write_afd_csv(history: LabelledHistory | pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``history`` (or a frame with its columns) as an AFD training CSV at ``path``."""
    frame = history.frame if isinstance(history, LabelledHistory) else history
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"cannot write AFD CSV: missing column(s) {', '.join(missing)}")
    n = len(frame)
    columns: dict[str, list[str]] = {
        "EVENT_ID": _text(frame["event_id"]),
        "EVENT_TIMESTAMP": _afd_time(frame["event_time"], "event_time"),
        "ENTITY_ID": _text(frame["entity_id"]),
        "ENTITY_TYPE": [ENTITY_TYPE] * n,
        "EVENT_LABEL": np.where(frame["is_fraud"].to_numpy(dtype=bool), "fraud", "legit").tolist(),
        "LABEL_TIMESTAMP": _afd_time(frame["label_time"], "label_time"),
    }
    for name in VARIABLE_COLUMNS:
        values = frame[name]
        if name in _FLOAT_VARIABLES:
            columns[name] = list(map(repr, values.astype(float).tolist()))
        elif name == "card_bin":
            columns[name] = list(map(str, values.astype(np.int64).tolist()))
        else:
            columns[name] = _text(values)
    # Hand-rolled writer: pandas' to_csv takes ~18 s for a million rows, this ~4 s; quoting
    # follows the csv module's QUOTE_MINIMAL, so any CSV reader reads it back.
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(AFD_COLUMNS) + "\n")
        cols = [columns[name] for name in AFD_COLUMNS]
        for lo in range(0, n, _WRITE_CHUNK):
            rows = zip(*(c[lo : lo + _WRITE_CHUNK] for c in cols), strict=True)
            out.write("\n".join(map(",".join, rows)) + "\n")


def _text(values: pd.Series[Any]) -> list[str]:
    """Column values as CSV fields, quoted only where needed (checked on the joined column)."""
    text: list[str] = values.tolist()
    try:
        joined = "\x00".join(text)
    except TypeError:  # not all strings: a frame built by hand
        text = [str(v) for v in text]
        joined = "\x00".join(text)
    if not any(ch in joined for ch in _SPECIAL):
        return text
    return [
        '"' + v.replace('"', '""') + '"' if ("," in v or '"' in v or "\n" in v or "\r" in v) else v
        for v in text
    ]


def _afd_time(values: pd.Series[Any], name: str) -> list[str]:
    """Timestamps in AFD's exact form; already-exact text is kept as is (the common case)."""
    text = [str(v) for v in values.tolist()]
    if _EXACT_TIMES.fullmatch("\x00".join(text) + "\x00"):
        return text
    return list(iso_times(_epoch(pd.Series(text, dtype=object), name, first_line=2)))


def _epoch(text: pd.Series[Any], column: str, first_line: int) -> NDArray[np.float64]:
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        line = first_line + int(bad[0])
        raise InvalidInput(
            f"line {line}: {column} is not an ISO 8601 timestamp ({len(bad)} bad row(s))",
            [(f"line {line}.{column}", "not an ISO 8601 timestamp")],
        )
    seconds = parsed.dt.as_unit("ms").astype("int64").to_numpy() / 1000.0
    return np.asarray(seconds, dtype=np.float64)


def read_afd_csv(path: str | os.PathLike[str], *, validate_rows: bool = False) -> LabelledHistory:
    """Read an AFD training CSV into a :class:`LabelledHistory` (time-ordered).

    Raises :class:`InvalidInput` naming a missing column, or the first bad line and column
    (line 1 is the header). Checks are vectorised; ``validate_rows`` additionally runs every
    row through :func:`fraudstream.events.parse_transaction` (slower, stricter: e-mail and IP
    formats). The fraud kind is not part of AFD's format, so ``fraud_kind`` is missing.
    """
    try:
        raw = pd.read_csv(
            path, dtype=object, keep_default_na=False, na_filter=False, low_memory=False
        )
    except pd.errors.EmptyDataError:
        raise InvalidInput(f"{os.fspath(path)}: empty file, expected an AFD CSV header") from None
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"{os.fspath(path)}: malformed CSV: {exc}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in AFD_COLUMNS if c not in raw.columns]
    if missing:
        raise InvalidInput(
            f"{os.fspath(path)}: missing column(s) {', '.join(missing)}",
            [(c, "missing column") for c in missing],
        )

    for column in _NOT_EMPTY:
        _fail_where(raw[column] == "", column, "is empty")
    entity_type = raw["ENTITY_TYPE"].str.strip().str.lower()
    _fail_where(entity_type != ENTITY_TYPE, "ENTITY_TYPE", f"must be {ENTITY_TYPE!r}")
    label = raw["EVENT_LABEL"].str.strip().str.lower()
    _fail_where(~label.isin(LABELS), "EVENT_LABEL", "must be 'fraud' or 'legit'")
    _fail_where(raw["EVENT_ID"].duplicated(), "EVENT_ID", "repeats an earlier event id")
    numbers = {}
    for column in _FLOAT_VARIABLES:
        value = pd.to_numeric(raw[column], errors="coerce")
        _fail_where(value.isna() | ~np.isfinite(value), column, "is not a number")
        numbers[column] = value.astype(np.float64)
    card_bin = pd.to_numeric(raw["card_bin"], errors="coerce")
    _fail_where(card_bin.isna() | (card_bin % 1 != 0), "card_bin", "is not an integer")

    event_s = _epoch(raw["EVENT_TIMESTAMP"], "EVENT_TIMESTAMP", first_line=2)
    label_s = _epoch(raw["LABEL_TIMESTAMP"], "LABEL_TIMESTAMP", first_line=2)
    frame = pd.DataFrame(
        {
            **{name: raw[name].to_numpy() for name in VARIABLE_COLUMNS},
            **numbers,
            "card_bin": card_bin.astype(np.int64),
            "event_id": raw["EVENT_ID"].to_numpy(),
            "entity_id": raw["ENTITY_ID"].to_numpy(),
            "event_time": iso_times(event_s),
            "is_fraud": (label == "fraud").to_numpy(),
            "fraud_kind": pd.Series([None] * len(raw), dtype="str"),
            "label_time": iso_times(label_s),
        },
        columns=list(FRAME_COLUMNS),
    )
    if validate_rows:
        _validate_rows(frame)
    order = np.argsort(event_s, kind="stable")
    return LabelledHistory(frame.iloc[order].reset_index(drop=True))


def _fail_where(bad: pd.Series[Any], column: str, what: str) -> None:
    rows = np.flatnonzero(bad.to_numpy(dtype=bool))
    if len(rows):
        line = int(rows[0]) + 2
        raise InvalidInput(
            f"line {line}: {column} {what} ({len(rows)} bad row(s))",
            [(f"line {line}.{column}", what)],
        )


def _validate_rows(frame: pd.DataFrame) -> None:
    columns = {name: frame[name].tolist() for name in TRANSACTION_FIELDS}
    rows = zip(*columns.values(), strict=True)
    for i, record in enumerate(dict(zip(TRANSACTION_FIELDS, row, strict=True)) for row in rows):
        try:
            parse_transaction(record)
        except InvalidInput as exc:
            line = i + 2
            raise InvalidInput(
                f"line {line}: {exc}",
                [(f"line {line}.{where}", what) for where, what in exc.problems],
            ) from None
