"""Integer codes for categorical raw features, fitted on training events.

Models take numbers; a vocabulary maps each categorical feature's frequent values to codes
(0 = most frequent) and everything else to NaN, so a value the model never saw in training
cannot be mistaken for one it did. The vocabulary is part of the extractor config and is
stored with each model version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from fraudstream.detector.features.schema import FeatureSchema
from fraudstream.detector.features.view import EventReader, categorical_names
from fraudstream.errors import InvalidInput
from fraudstream.events import Event

#: feature name -> {value: code}
Vocabulary = dict[str, dict[str, int]]


def fit_vocabulary(
    events: Iterable[Event],
    schema: FeatureSchema,
    *,
    max_values: int = 100,
    min_count: int = 1,
) -> Vocabulary:
    """Codes for the ``max_values`` most frequent values of each categorical feature.

    Values seen fewer than ``min_count`` times get no code (they would be noise to the model).
    Ties are broken by value so that the same events always give the same codes.
    """
    if max_values < 1 or min_count < 1:
        raise InvalidInput("max_values and min_count must be at least 1")
    names = categorical_names(schema)
    counters: list[Counter[str]] = [Counter() for _ in names]
    reader = EventReader(schema)
    for event in events:
        for counter, value in zip(counters, reader.read(event).categorical, strict=True):
            if value is not None:
                counter[value] += 1
    vocabulary: Vocabulary = {}
    for name, counter in zip(names, counters, strict=True):
        ranked = sorted(
            (item for item in counter.items() if item[1] >= min_count),
            key=lambda item: (-item[1], item[0]),
        )
        vocabulary[name] = {value: code for code, (value, _) in enumerate(ranked[:max_values])}
    return vocabulary


def check_vocabulary(data: Any) -> Vocabulary:
    """Validate a vocabulary from a config (JSON): ``{feature: {value: int code}}``."""
    if not isinstance(data, Mapping):
        raise InvalidInput("a vocabulary must be an object of feature -> {value: code}")
    out: Vocabulary = {}
    for name, codes in data.items():
        if not isinstance(name, str) or not isinstance(codes, Mapping):
            raise InvalidInput(f"vocabulary entry {name!r} must map values to codes")
        checked: dict[str, int] = {}
        for value, code in codes.items():
            if not isinstance(value, str) or isinstance(code, bool) or not isinstance(code, int):
                raise InvalidInput(f"vocabulary {name!r}: {value!r} -> {code!r} is not str -> int")
            checked[value] = code
        out[name] = checked
    return out
