"""The feature extractor: one implementation for online scoring and for training.

Online, each event goes ``store.get_many -> compute -> update -> store.put_many``
(:meth:`FeatureExtractor.process`). For training, :func:`build_training_matrix` replays
history in time order through the very same ``compute``/``update`` with an in-memory store,
so a model is trained on exactly the features it will see in production.

``compute`` always runs before ``update``: an event's features describe the world *before*
it, never itself or anything later (point-in-time correctness by construction). ``update`` is
idempotent per event id, so an at-least-once stream that redelivers an event does not count it
twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np
import numpy.typing as npt

from fraudstream.detector.features.block import FeatureBlock
from fraudstream.detector.features.catalog import describe
from fraudstream.detector.features.entity import EntityBlock
from fraudstream.detector.features.raw import EventBlock
from fraudstream.detector.features.schema import TRANSACTION_SCHEMA, FeatureSchema
from fraudstream.detector.features.shared import BinBlock, EmailBlock, IpBlock
from fraudstream.detector.features.state import EntityState
from fraudstream.detector.features.stores.base import StateConflict, StateStore
from fraudstream.detector.features.view import EventReader, EventView
from fraudstream.detector.features.vocabulary import Vocabulary, check_vocabulary
from fraudstream.errors import InvalidInput
from fraudstream.events import Event

Vector = npt.NDArray[np.float64]

#: Bumped whenever a feature's meaning changes, so a stored config from an older layout is
#: rejected instead of silently feeding a model the wrong columns.
FEATURE_VERSION = 2
#: How often :meth:`FeatureExtractor.process` re-reads after a concurrent writer won, and the
#: cap of its randomised exponential back-off (without it, two workers hammering one hot key
#: can keep invalidating each other in lock-step).
MAX_CONFLICT_RETRIES = 32
MAX_BACKOFF_SECONDS = 0.05


def back_off_after_conflict(attempt: int) -> None:
    """Sleep a random share of an exponentially growing, capped wait before re-reading."""
    time.sleep(random.uniform(0.0, min(MAX_BACKOFF_SECONDS, 0.0005 * 2.0**attempt)))


class FeatureExtractor:
    """Turns events into feature vectors, keeping per-key aggregates in a :class:`StateStore`.

    ``feature_names`` name the vector's columns; ``categorical_features`` are the ones a model
    should treat as categorical (integer codes from ``vocabulary``; NaN = unknown).
    """

    __slots__ = (
        "_entity",
        "_keyed",
        "_last",
        "_raw",
        "_reader",
        "categorical_features",
        "feature_names",
        "schema",
        "vocabulary",
    )

    def __init__(
        self,
        schema: FeatureSchema = TRANSACTION_SCHEMA,
        vocabulary: Mapping[str, Mapping[str, int]] | None = None,
    ) -> None:
        self.schema = schema
        self.vocabulary: Vocabulary = check_vocabulary(vocabulary or {})
        self._reader = EventReader(schema)
        self._last: tuple[Event | None, EventView | None] = (None, None)
        self._raw = EventBlock(schema, self.vocabulary)
        self._entity = EntityBlock(schema)
        blocks: list[FeatureBlock] = [self._raw, self._entity]
        if schema.ip is not None:
            blocks.append(IpBlock())
        if schema.email is not None:
            blocks.append(EmailBlock())
        if schema.card_bin is not None:
            blocks.append(BinBlock(schema.small_amount if schema.amount is not None else None))
        # Blocks with their own state key, after the entity (whose state decides duplicates).
        self._keyed = tuple(blocks[2:])
        names = tuple(name for block in blocks for name in block.names)
        clashes = sorted({name for name in names if names.count(name) > 1})
        if clashes:
            raise InvalidInput(
                f"raw variables clash with derived feature names: {', '.join(clashes)}"
            )
        self.feature_names: tuple[str, ...] = names
        self.categorical_features: tuple[str, ...] = self._raw.categorical
        unknown = sorted(set(self.vocabulary) - set(self.categorical_features))
        if unknown:
            raise InvalidInput(f"vocabulary for non-categorical features: {', '.join(unknown)}")

    # -- the contract ---------------------------------------------------------------------

    def state_keys(self, event: Event) -> list[str]:
        """Keys of the states this event reads and updates (entity first)."""
        return list(self._read(event).keys)

    def compute(self, event: Event, states: Mapping[str, EntityState | None]) -> Vector:
        """The event's features given ``states`` (as they were *before* the event)."""
        row = self._compute(self._read(event), states)
        return np.fromiter(row, np.float64, len(row))

    def update(self, event: Event, states: MutableMapping[str, EntityState | None]) -> bool:
        """Fold the event into ``states`` (creating missing ones in the mapping).

        Returns ``False`` and changes nothing when the entity already counted this event id.
        """
        return self._update(self._read(event), states)

    def process(self, event: Event, store: StateStore) -> tuple[Vector, bool]:
        """Online step: ``(features, duplicate)``, with the store updated.

        For a duplicate the store is left alone and the vector describes the state that
        already includes the event: the caller should answer with the first delivery's
        result. Retries when a shared store reports a concurrent update.
        """
        view = self._read(event)
        for attempt in range(MAX_CONFLICT_RETRIES):
            states = store.get_many(view.keys)
            row = self._compute(view, states)
            fresh = self._update(view, states)
            if not fresh:
                break
            try:
                store.put_many(states)
            except StateConflict:
                back_off_after_conflict(attempt)
                continue
            break
        else:
            raise StateConflict(
                f"event {view.event_id!r}: state kept changing under "
                f"{MAX_CONFLICT_RETRIES} attempts"
            )
        return np.fromiter(row, np.float64, len(row)), not fresh

    def descriptions(self) -> dict[str, str]:
        """Feature name -> one line saying what it measures (for explanations and UIs)."""
        categorical = set(self.categorical_features)
        return {name: describe(name, name in categorical) for name in self.feature_names}

    # -- configuration ----------------------------------------------------------------------

    def to_config(self) -> dict[str, Any]:
        """JSON-ready config (schema + vocabulary), stored with a model version."""
        return {
            "feature_version": FEATURE_VERSION,
            "schema": self.schema.to_dict(),
            "vocabulary": self.vocabulary,
            "feature_names": list(self.feature_names),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FeatureExtractor:
        """Rebuild from :meth:`to_config`; refuses a config whose feature layout differs."""
        if not isinstance(config, Mapping):
            raise InvalidInput("a feature config must be an object")
        version = config.get("feature_version")
        if version != FEATURE_VERSION:
            raise InvalidInput(
                f"feature config version {version!r} is not {FEATURE_VERSION}: "
                "the model was trained on another feature layout; retrain it"
            )
        schema = config.get("schema")
        if not isinstance(schema, Mapping):
            raise InvalidInput("a feature config needs a 'schema' object")
        extractor = cls(FeatureSchema.from_dict(schema), config.get("vocabulary") or {})
        names = config.get("feature_names")
        if names is not None and tuple(names) != extractor.feature_names:
            raise InvalidInput("the config's feature_names do not match what its schema gives")
        return extractor

    # -- internals shared by process() and build_training_matrix() ---------------------------

    def _read(self, event: Event) -> EventView:
        """The event's view, read once for the state_keys -> compute -> update sequence that
        every caller makes (events are immutable; one tuple swap keeps threads consistent)."""
        last_event, last_view = self._last
        if last_event is event and last_view is not None:
            return last_view
        view = self._reader.read(event)
        self._last = (event, view)
        return view

    def _compute(self, view: EventView, states: Mapping[str, EntityState | None]) -> list[float]:
        out: list[float] = []
        self._raw.compute(view, None, out)
        get = states.get
        self._entity.compute(view, get(view.entity_key), out)
        for block in self._keyed:
            key = block.key(view)
            block.compute(view, None if key is None else get(key), out)
        return out

    def _update(self, view: EventView, states: MutableMapping[str, EntityState | None]) -> bool:
        key = view.entity_key
        entity = states.get(key)
        if entity is None:
            entity = states[key] = EntityState()
        if not entity.remember(view.event_id):
            return False
        t = view.time
        entity.observe(t)
        self._entity.update(view, entity)
        for block in self._keyed:
            key_ = block.key(view)
            if key_ is None:
                continue
            state = states.get(key_)
            if state is None:
                state = states[key_] = EntityState()
            state.observe(t)
            block.update(view, state)
        return True

    def __repr__(self) -> str:
        return f"FeatureExtractor({len(self.feature_names)} features, schema={self.schema!r})"
