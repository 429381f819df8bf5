"""Which event variable plays which role in the features.

Features are written against *roles* (the amount, the e-mail, the IP...), not variable names,
so the same extractor serves our transaction record and any event type a user defines through
the AFD API. :meth:`FeatureSchema.from_variables` maps AFD variable types onto roles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from fraudstream.errors import InvalidInput

#: Roles, in the order they appear in a schema's dict form.
ROLES: tuple[str, ...] = (
    "amount",
    "email",
    "ip",
    "user_agent",
    "category",
    "latitude",
    "longitude",
    "card_bin",
    "currency",
)

#: AFD ``variableType`` -> role. Only the first variable of a type takes the role.
_ROLE_OF_TYPE: dict[str, str] = {
    "PRICE": "amount",
    "EMAIL_ADDRESS": "email",
    "IP_ADDRESS": "ip",
    "USERAGENT": "user_agent",
    "PRODUCT_CATEGORY": "category",
    "CARD_BIN": "card_bin",
    "CURRENCY_CODE": "currency",
}

#: Low/medium-cardinality strings: categorical raw features (the vocabulary caps the rest).
_CATEGORICAL_TYPES = frozenset(
    {
        "CATEGORICAL",
        "AVS",
        "AUTH_CODE",
        "PAYMENT_TYPE",
        "BILLING_CITY",
        "BILLING_COUNTRY",
        "BILLING_STATE",
        "BILLING_ZIP",
        "SHIPPING_CITY",
        "SHIPPING_COUNTRY",
        "SHIPPING_STATE",
        "SHIPPING_ZIP",
    }
)

#: Identifiers, personal data and free text: one value per person or per order, so as raw
#: model inputs they only memorise the training set. FRAUD_LABEL is the target: never a feature.
_IGNORED_TYPES = frozenset(
    {
        "BILLING_ADDRESS_L1",
        "BILLING_ADDRESS_L2",
        "BILLING_NAME",
        "BILLING_PHONE",
        "SHIPPING_ADDRESS_L1",
        "SHIPPING_ADDRESS_L2",
        "SHIPPING_NAME",
        "SHIPPING_PHONE",
        "PHONE_NUMBER",
        "FREE_FORM_TEXT",
        "ORDER_ID",
        "FRAUD_LABEL",
    }
)

_NUMERIC_DATA_TYPES = frozenset({"FLOAT", "INTEGER", "BOOLEAN"})
_DATA_TYPES = frozenset({"STRING", "INTEGER", "FLOAT", "BOOLEAN", "DATETIME"})
VARIABLE_TYPES: frozenset[str] = frozenset(
    {*_ROLE_OF_TYPE, *_CATEGORICAL_TYPES, *_IGNORED_TYPES, "NUMERIC", "FINGERPRINT"}
)


@dataclass(frozen=True, slots=True)
class FeatureSchema:
    """Variable names by role (``None``: the event type has no such variable).

    ``numeric`` / ``categorical`` are further raw variables passed to the model as they are
    (categorical ones through the vocabulary). ``small_amount`` is the threshold below which a
    payment counts as a card-testing probe for the BIN aggregates, in the amount's currency.
    """

    amount: str | None = None
    email: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    category: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    card_bin: str | None = None
    currency: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    small_amount: float = 5.0

    def __post_init__(self) -> None:
        # Accept lists from JSON configs; a frozen dataclass needs object.__setattr__.
        object.__setattr__(self, "numeric", tuple(self.numeric))
        object.__setattr__(self, "categorical", tuple(self.categorical))
        names = list(self.roles().values())
        names += [*self.numeric, *self.categorical]
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"variable names must be non-empty strings, got {name!r}")
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise InvalidInput(f"variable {name!r} plays more than one role in the schema")
            seen.add(name)
        if (self.latitude is None) != (self.longitude is None):
            raise InvalidInput("latitude and longitude must be given together")
        small = self.small_amount
        if isinstance(small, bool) or not isinstance(small, int | float):
            raise InvalidInput(f"small_amount must be a number, got {small!r}")
        if not (math.isfinite(small) and small > 0):
            raise InvalidInput(f"small_amount must be a positive number, got {small!r}")

    def roles(self) -> dict[str, str]:
        """Role -> variable name, for the roles this schema fills."""
        out: dict[str, str] = {}
        for role in ROLES:
            name = getattr(self, role)
            if name is not None:
                out[role] = name
        return out

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable the features read."""
        return (*self.roles().values(), *self.numeric, *self.categorical)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see :meth:`from_dict`)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSchema:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo must not drop a role)."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown feature schema keys: {', '.join(unknown)}")
        return cls(**dict(data))

    @classmethod
    def from_variables(
        cls, variables: Iterable[tuple[str, str | None, str | None] | Mapping[str, Any]]
    ) -> FeatureSchema:
        """A schema for an AFD event type from its variables.

        Each item is ``(name, variableType, dataType)`` or an AFD ``Variable`` mapping with
        ``name``/``variableType``/``dataType``. Roles come from the variable type (``PRICE`` is
        the amount, ``EMAIL_ADDRESS`` the e-mail...). AFD has no latitude/longitude type, so a
        ``NUMERIC`` (or untyped number) named like ``*latitude``/``*longitude`` takes those
        roles. Other ``NUMERIC`` variables are numeric inputs; categorical-like types
        (``CATEGORICAL``, ``BILLING_STATE``, ``PAYMENT_TYPE``...) categorical ones; identifiers,
        names, addresses, phones, free text and the fraud label are left out. ``FINGERPRINT``
        plays the device role when there is no ``USERAGENT``.
        """
        roles: dict[str, str] = {}
        numeric: list[str] = []
        categorical: list[str] = []
        fingerprint: str | None = None
        lat_lon: dict[str, str] = {}
        for item in variables:
            name, variable_type, data_type = _variable_fields(item)
            if variable_type in _ROLE_OF_TYPE:
                role = _ROLE_OF_TYPE[variable_type]
                if role not in roles:
                    roles[role] = name
                elif variable_type == "PRICE":
                    numeric.append(name)
                continue
            if variable_type == "FINGERPRINT":
                fingerprint = fingerprint or name
            elif variable_type in _CATEGORICAL_TYPES:
                categorical.append(name)
            elif variable_type in _IGNORED_TYPES:
                continue
            elif variable_type == "NUMERIC" or (
                variable_type is None and data_type in _NUMERIC_DATA_TYPES
            ):
                geo = _geo_role(name)
                if geo is not None and geo not in lat_lon:
                    lat_lon[geo] = name
                else:
                    numeric.append(name)
            elif variable_type is None and data_type == "STRING":
                categorical.append(name)
        if fingerprint is not None and "user_agent" not in roles:
            roles["user_agent"] = fingerprint
        if len(lat_lon) == 2:
            roles.update(lat_lon)
        else:  # half a coordinate is still a number worth passing on
            numeric.extend(lat_lon.values())
        return cls(
            amount=roles.get("amount"),
            email=roles.get("email"),
            ip=roles.get("ip"),
            user_agent=roles.get("user_agent"),
            category=roles.get("category"),
            latitude=roles.get("latitude"),
            longitude=roles.get("longitude"),
            card_bin=roles.get("card_bin"),
            currency=roles.get("currency"),
            numeric=tuple(numeric),
            categorical=tuple(categorical),
        )


def _variable_fields(
    item: tuple[str, str | None, str | None] | Mapping[str, Any],
) -> tuple[str, str | None, str | None]:
    if isinstance(item, Mapping):
        name = item.get("name")
        variable_type = item.get("variableType")
        data_type = item.get("dataType")
    else:
        try:
            name, variable_type, data_type = item
        except (TypeError, ValueError):
            raise InvalidInput(
                f"a variable must be (name, variableType, dataType), got {item!r}"
            ) from None
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"a variable needs a non-empty name, got {name!r}")
    variable_type = (
        variable_type.upper() if isinstance(variable_type, str) and variable_type else None
    )
    data_type = data_type.upper() if isinstance(data_type, str) and data_type else None
    if variable_type is not None and variable_type not in VARIABLE_TYPES:
        raise InvalidInput(f"variable {name!r}: unknown AFD variable type {variable_type!r}")
    if data_type is not None and data_type not in _DATA_TYPES:
        raise InvalidInput(f"variable {name!r}: unknown AFD data type {data_type!r}")
    return name, variable_type, data_type


def _geo_role(name: str) -> str | None:
    lowered = name.lower()
    if lowered in {"lat", "latitude"} or lowered.endswith(("_lat", "_latitude", "latitude")):
        return "latitude"
    if lowered in {"lon", "lng", "long", "longitude"} or lowered.endswith(
        ("_lon", "_lng", "_long", "_longitude", "longitude")
    ):
        return "longitude"
    return None


#: The reference system's ``transactions`` record (see :class:`fraudstream.events.Transaction`).
TRANSACTION_SCHEMA = FeatureSchema(
    amount="transaction_amt",
    email="email_address",
    ip="ip_address",
    user_agent="user_agent",
    category="product_category",
    latitude="billing_latitude",
    longitude="billing_longitude",
    card_bin="card_bin",
    currency="transaction_currency",
    categorical=("billing_state",),
)
