"""Labelled training data in AFD's CSV format (or from stored events), typed by the event type.

AFD's format: ``EVENT_ID, EVENT_TIMESTAMP, ENTITY_ID, ENTITY_TYPE, EVENT_LABEL, LABEL_TIMESTAMP``
then one column per variable (lower-case names). For Online Fraud Insights only the timestamp
and the label are required; Transaction Fraud Insights needs the entity columns too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from fraudstream.errors import InvalidInput
from fraudstream.events import Event, parse_time

META_COLUMNS = (
    "EVENT_ID",
    "EVENT_TIMESTAMP",
    "ENTITY_ID",
    "ENTITY_TYPE",
    "EVENT_LABEL",
    "LABEL_TIMESTAMP",
)
NUMERIC_TYPES = frozenset({"INTEGER", "FLOAT"})


@dataclass
class LabelledEvents:
    """Time-ordered events with 0/1 labels (1 = fraud) and the raw label names."""

    events: list[Event]
    labels: npt.NDArray[np.int_]

    @property
    def times(self) -> npt.NDArray[np.float64]:
        return np.fromiter((e.event_time for e in self.events), np.float64, len(self.events))


def typed_value(name: str, value: Any, data_type: str) -> Any:
    """One variable as the detector wants it: numbers as float, the rest as str; '' = missing."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if data_type in NUMERIC_TYPES:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"variable {name!r} must be a number, got {str(value)[:40]!r}",
                [(name, "not a number")],
            ) from None
        if not math.isfinite(number):
            raise InvalidInput(f"variable {name!r} must be finite", [(name, "not finite")])
        return number
    return str(value)


def typed_variables(raw: Mapping[str, Any], data_types: Mapping[str, str]) -> dict[str, Any]:
    """Type an event's variables; unknown names are an error (AFD rejects them too)."""
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in data_types:
            raise InvalidInput(
                f"variable {name!r} is not part of the event type", [(name, "unknown variable")]
            )
        typed = typed_value(name, value, data_types[name])
        if typed is not None:
            out[name] = typed
    return out


def label_index(
    label_mapper: Mapping[str, Sequence[str]] | None,
) -> dict[str, int]:
    """AFD's labelMapper ``{"FRAUD": [...], "LEGIT": [...]}`` as label name -> 0/1."""
    mapper = label_mapper or {"FRAUD": ["fraud"], "LEGIT": ["legit"]}
    index: dict[str, int] = {}
    for key, names in mapper.items():
        if key.upper() not in ("FRAUD", "LEGIT"):
            raise InvalidInput(f"labelMapper keys must be FRAUD and LEGIT, got {key!r}")
        for name in names:
            index[name] = 1 if key.upper() == "FRAUD" else 0
    if set(index.values()) != {0, 1}:
        raise InvalidInput("labelMapper must map at least one label to FRAUD and one to LEGIT")
    return index


def _unlabelled(treatment: str) -> int | None:
    treatment = treatment.upper()
    if treatment == "IGNORE":
        return None
    if treatment == "FRAUD":
        return 1
    if treatment in ("LEGIT", "AUTO"):
        return 0
    raise InvalidInput("unlabeledEventsTreatment must be IGNORE, FRAUD, LEGIT or AUTO")


def check_afd_csv_header(
    path: Path | str, model_variables: Sequence[str], *, require_entity: bool = True
) -> None:
    """Refuse a training CSV without the columns a model needs, reading only its header
    (before training starts, so a bad file is a clear input error, not a failed version)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"training data not found: {path}")
    try:
        header = pd.read_csv(path, dtype=str, nrows=0).columns
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path.name}: not a readable CSV file ({exc})") from None
    _check_columns(path, _normalised(header), model_variables, require_entity)


def _normalised(columns: Iterable[str]) -> list[str]:
    """AFD's meta columns in upper case, variables in lower case."""
    return [
        c.strip().upper() if c.strip().upper() in META_COLUMNS else c.strip().lower()
        for c in columns
    ]


def _check_columns(
    path: Path,
    columns: list[str],
    model_variables: Sequence[str] | None,
    require_entity: bool,
) -> list[str]:
    """The variable columns to read; InvalidInput naming every missing column."""
    required = ["EVENT_TIMESTAMP", "EVENT_LABEL"]
    if require_entity:
        required += ["ENTITY_ID", "ENTITY_TYPE"]
    variables = (
        list(model_variables) if model_variables else [c for c in columns if c not in META_COLUMNS]
    )
    missing = [c for c in (*required, *variables) if c not in columns]
    if missing:
        raise InvalidInput(
            f"{path.name}: missing column(s) {', '.join(missing)}",
            [(c, "missing column") for c in missing],
        )
    return variables


def read_afd_csv(
    path: Path | str,
    *,
    event_type: str,
    data_types: Mapping[str, str],
    model_variables: Sequence[str] | None = None,
    label_mapper: Mapping[str, Sequence[str]] | None = None,
    unlabeled: str = "IGNORE",
    require_entity: bool = True,
) -> LabelledEvents:
    """Read an AFD training CSV; errors name the missing column or the bad row and field."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"training data not found: {path}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path.name}: not a readable CSV file ({exc})") from None
    frame.columns = _normalised(frame.columns)
    variables = _check_columns(path, list(frame.columns), model_variables, require_entity)
    unknown = [v for v in variables if v not in data_types]
    if unknown:
        raise InvalidInput(
            f"{path.name}: column(s) {', '.join(unknown)} are not variables of {event_type}"
        )
    labels_of = label_index(label_mapper)
    default_label = _unlabelled(unlabeled)
    columns = {c: frame[c].tolist() for c in frame.columns}
    events: list[Event] = []
    labels: list[int] = []
    for i in range(len(frame)):
        row_no = i + 2  # the header is line 1
        raw_label = columns["EVENT_LABEL"][i].strip()
        label = labels_of.get(raw_label, default_label) if raw_label else default_label
        if raw_label and raw_label not in labels_of and default_label is None:
            raise InvalidInput(
                f"{path.name} line {row_no}: label {raw_label!r} is not in the label mapper"
            )
        if label is None:
            continue
        try:
            when = parse_time(columns["EVENT_TIMESTAMP"][i]).timestamp()
            values = {
                v: typed
                for v in variables
                if (typed := typed_value(v, columns[v][i], data_types[v])) is not None
            }
        except InvalidInput as exc:
            raise InvalidInput(f"{path.name} line {row_no}: {exc}") from None
        events.append(
            Event(
                event_id=columns["EVENT_ID"][i] if "EVENT_ID" in columns else f"row-{row_no}",
                entity_type=columns["ENTITY_TYPE"][i] if "ENTITY_TYPE" in columns else "unknown",
                entity_id=columns["ENTITY_ID"][i] if "ENTITY_ID" in columns else "unknown",
                event_time=when,
                variables=values,
                event_type=event_type,
            )
        )
        labels.append(label)
    return _ordered(events, labels)


def labelled_from_store(
    stored: Iterable[tuple[Event, str | None]],
    *,
    label_mapper: Mapping[str, Sequence[str]] | None = None,
    unlabeled: str = "IGNORE",
) -> LabelledEvents:
    labels_of = label_index(label_mapper)
    default_label = _unlabelled(unlabeled)
    events, labels = [], []
    for event, raw in stored:
        label = labels_of.get(raw, default_label) if raw else default_label
        if label is not None:
            events.append(event)
            labels.append(label)
    return _ordered(events, labels)


def _ordered(events: list[Event], labels: list[int]) -> LabelledEvents:
    order = sorted(range(len(events)), key=lambda k: (events[k].event_time, events[k].event_id))
    return LabelledEvents(
        events=[events[k] for k in order],
        labels=np.array([labels[k] for k in order], dtype=np.int_),
    )
