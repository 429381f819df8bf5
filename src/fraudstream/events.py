"""The event schema: the reference system's transaction record, and the generic AFD event.

Two shapes live here on purpose:

* :class:`Transaction` is the record on the ``transactions`` topic. It is validated strictly
  (exact field errors) because it arrives from outside; numbers that arrive as strings parse.
* :class:`Event` is what the detector scores: Amazon Fraud Detector's generic event (an event id,
  one entity, a timestamp and named variables). Every transaction is an event; an AFD event type
  defined through the API with other variables is an event too.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from fraudstream.errors import InvalidInput

ProductCategory = Literal[
    "entertainment",
    "food_dining",
    "gas_transport",
    "grocery_net",
    "grocery_pos",
    "health_fitness",
    "home",
    "kids_pets",
    "misc_net",
    "misc_pos",
    "personal_care",
    "travel",
    "shopping_net",
    "shopping_pos",
]
PRODUCT_CATEGORIES: tuple[str, ...] = get_args(ProductCategory)

TRANSACTION_FIELDS: tuple[str, ...] = (
    "transaction_amt",
    "email_address",
    "ip_address",
    "transaction_currency",
    "event_id",
    "entity_id",
    "event_time",
    "billing_longitude",
    "billing_state",
    "user_agent",
    "billing_street",
    "billing_city",
    "card_bin",
    "customer_name",
    "product_category",
    "customer_job",
    "phone",
    "billing_latitude",
    "billing_zip",
)

#: The largest single payment we accept; anything above is an input error, not a big sale.
MAX_AMOUNT = 10_000_000.0
MAX_MESSAGE_BYTES = 64 * 1024

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_IDENT = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an e-mail address (expected local@domain.tld)")
    return value.lower()


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 address") from None


def _ident(value: str) -> str:
    if not _IDENT.match(value):
        raise ValueError("must be 1-128 characters of letters, digits and _ . : @ + -")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Text = Annotated[str, Field(min_length=1, max_length=256)]
Ident = Annotated[str, AfterValidator(_ident)]


class Transaction(BaseModel):
    """One payment, exactly the reference system's record (19 fields)."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        str_strip_whitespace=True,
        coerce_numbers_to_str=True,
    )

    transaction_amt: Annotated[float, Field(ge=0, le=MAX_AMOUNT), AfterValidator(_finite)]
    email_address: Annotated[str, Field(max_length=254), AfterValidator(_email)]
    ip_address: Annotated[str, Field(max_length=64), AfterValidator(_ip)]
    transaction_currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    event_id: Ident
    entity_id: Ident
    event_time: datetime
    billing_longitude: Annotated[float, Field(ge=-180, le=180)]
    billing_state: Text
    user_agent: Annotated[str, Field(min_length=1, max_length=1024)]
    billing_street: Text
    billing_city: Text
    card_bin: Annotated[int, Field(ge=100_000, le=99_999_999)]
    customer_name: Text
    product_category: ProductCategory
    customer_job: Text
    phone: Annotated[str, Field(min_length=3, max_length=32)]
    billing_latitude: Annotated[float, Field(ge=-90, le=90)]
    billing_zip: Annotated[str, Field(min_length=1, max_length=16)]

    @field_validator("transaction_currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("event_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # Naive timestamps are taken as UTC: the reference producer wrote UTC without an offset.
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return value

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record, field order as in the reference system."""
        record = self.model_dump()
        record["event_time"] = format_time(self.event_time)
        return record

    def to_event(self) -> Event:
        """The generic AFD event the detector scores (entity type ``customer``)."""
        variables = self.model_dump(exclude={"event_id", "entity_id", "event_time"})
        return Event(
            event_id=self.event_id,
            entity_type="customer",
            entity_id=self.entity_id,
            event_time=self.event_time.timestamp(),
            variables=variables,
        )


@dataclass(slots=True, frozen=True)
class Event:
    """An AFD event: what the detector scores, stores and learns from.

    ``event_time`` is epoch seconds (UTC) because features do arithmetic on it in the hot path.
    """

    event_id: str
    entity_type: str
    entity_id: str
    event_time: float
    variables: Mapping[str, Any] = field(default_factory=dict)
    event_type: str = "transaction"

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.event_time, UTC)


def format_time(value: datetime | float) -> str:
    """ISO 8601 in UTC with a ``Z``, the form AFD uses for ``eventTimestamp``."""
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; naive means UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_transaction(data: Mapping[str, Any] | bytes | str) -> Transaction:
    """Validate one transaction from JSON bytes/text or a mapping.

    Raises :class:`InvalidInput` naming every bad field; values are not echoed back because
    they may be card or contact data.
    """
    if isinstance(data, bytes | str):
        if len(data) > MAX_MESSAGE_BYTES:
            raise InvalidInput(
                f"message too large: {len(data)} bytes (limit {MAX_MESSAGE_BYTES})",
                [("$", "message too large")],
            )
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"malformed JSON: {exc}", [("$", "malformed JSON")]) from None
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"a transaction must be a JSON object, got {type(data).__name__}",
            [("$", "not an object")],
        )
    try:
        return Transaction.model_validate(data)
    except ValidationError as exc:
        problems = [
            (".".join(str(p) for p in err["loc"]) or "$", err["msg"]) for err in exc.errors()
        ]
        detail = "; ".join(f"{where}: {what}" for where, what in problems)
        raise InvalidInput(f"invalid transaction: {detail}", problems) from None
