"""Training features: replay history through the online code path.

Training/serving skew (features computed one way in a batch job and another way online) is a
classic source of models that look good offline and fail in production. Here there is no
second implementation: the replay *is* the online loop, with a fresh in-memory store.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Iterable

import numpy as np

from fraudstream.detector.features.extractor import FeatureExtractor, Vector
from fraudstream.detector.features.stores.memory import MemoryStateStore
from fraudstream.errors import InvalidInput
from fraudstream.events import Event


def build_training_matrix(
    events: Iterable[Event],
    extractor: FeatureExtractor,
    store: MemoryStateStore | None = None,
) -> Vector:
    """Feature rows for ``events`` (same order), each computed from the events before it.

    ``events`` must be sorted by ``event_time`` (ties keep their order): an out-of-order event
    raises :class:`InvalidInput`, because it would let earlier events see a later one. Pass a
    ``store`` to keep the final states (e.g. to warm an online store after training).
    Duplicated event ids still get a row, computed like the online path computes it.
    """
    store = MemoryStateStore() if store is None else store
    width = len(extractor.feature_names)
    values = array("d")
    # struct packing + frombytes is ~3x faster than array.extend(list) for a row of floats.
    pack = struct.Struct(f"={width}d").pack
    append = values.frombytes
    read = extractor._reader.read
    compute = extractor._compute
    update = extractor._update
    get_many = store.get_many
    put_many = store.put_many
    previous = -math.inf
    for index, event in enumerate(events):
        view = read(event)
        if view.time < previous:
            raise InvalidInput(
                f"events must be in time order: event {index} ({view.event_id!r}) at "
                f"{view.time} comes after an event at {previous}"
            )
        previous = view.time
        states = get_many(view.keys)
        append(pack(*compute(view, states)))
        if update(view, states):
            put_many(states)
    matrix = np.frombuffer(values, dtype=np.float64) if values else np.empty(0, np.float64)
    return matrix.reshape(-1, width)
