"""Features of the event itself: amount, time of day, e-mail shape, raw variables.

They need no state; categorical values become codes through the vocabulary (NaN: missing or
not in the vocabulary). Times are UTC: an event carries no reliable local time zone.
"""

from __future__ import annotations

from collections.abc import Mapping

from fraudstream.detector.features.block import FeatureBlock
from fraudstream.detector.features.schema import FeatureSchema
from fraudstream.detector.features.state import EntityState
from fraudstream.detector.features.values import NAN
from fraudstream.detector.features.view import EventView, categorical_names


class EventBlock(FeatureBlock):
    """Stateless per-event features."""

    __slots__ = ("_amount", "_codes", "_email", "categorical")

    def __init__(self, schema: FeatureSchema, vocabulary: Mapping[str, Mapping[str, int]]) -> None:
        self._amount = schema.amount is not None
        self._email = schema.email is not None
        self.categorical = categorical_names(schema)
        # Codes as floats once, so compute() appends without converting.
        self._codes: tuple[dict[str, float], ...] = tuple(
            {value: float(code) for value, code in vocabulary.get(name, {}).items()}
            for name in self.categorical
        )
        names: list[str] = []
        if self._amount:
            names += ["amount", "log_amount"]
        names += ["hour_of_day", "day_of_week"]
        if self._email:
            names.append("email_digit_share")
        names += schema.numeric
        names += self.categorical
        self.names = tuple(names)

    def key(self, view: EventView) -> None:
        return None

    def compute(self, view: EventView, state: EntityState | None, out: list[float]) -> None:
        if self._amount:
            out.append(view.amount)
            out.append(view.log_amount)
        out.append(float(view.hour))
        out.append(float(view.weekday))
        if self._email:
            out.append(view.email_digit_share)
        out += view.numeric
        for codes, value in zip(self._codes, view.categorical, strict=True):
            out.append(NAN if value is None else codes.get(value, NAN))

    def update(self, view: EventView, state: EntityState) -> None:
        return None
