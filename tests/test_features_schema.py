"""FeatureSchema: roles from AFD variable definitions, validation, arbitrary event types."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fraudstream.detector.features import (
    TRANSACTION_SCHEMA,
    FeatureExtractor,
    FeatureSchema,
    MemoryStateStore,
    build_training_matrix,
    fit_vocabulary,
)
from fraudstream.errors import InvalidInput
from fraudstream.events import TRANSACTION_FIELDS, Event

START = 1_700_000_000.0

# AWS's Online Fraud Insights sample ("registration" events): only these two variables.
OFI_VARIABLES = [
    ("email_address", "EMAIL_ADDRESS", "STRING"),
    ("ip_address", "IP_ADDRESS", "STRING"),
]


def test_ofi_sample_schema_and_features() -> None:
    schema = FeatureSchema.from_variables(OFI_VARIABLES)
    assert schema == FeatureSchema(email="email_address", ip="ip_address")
    extractor = FeatureExtractor(schema)
    names = extractor.feature_names
    assert "entity_new_ip" in names
    assert "entity_new_email" in names
    assert "ip_distinct_entities_24h" in names
    assert "email_distinct_entities" in names
    assert "hour_of_day" in names
    assert "email_domain" in names
    assert not any("amount" in name or "category" in name or "km" in name for name in names)
    assert not any(name.startswith("bin_") for name in names)
    # AFD sends every value as a string.
    events = [
        Event(f"r{i}", "customer", f"u{i % 4}", START + 600 * i,
              {"email_address": f"u{i % 4}@mail.example", "ip_address": f"10.0.0.{i % 3}"})
        for i in range(40)
    ]  # fmt: skip
    extractor = FeatureExtractor(schema, fit_vocabulary(events, schema))
    matrix = build_training_matrix(events, extractor)
    store = MemoryStateStore()
    online = np.vstack([extractor.process(event, store)[0] for event in events])
    assert np.array_equal(matrix, online, equal_nan=True)
    last = dict(zip(names, matrix[-1].tolist(), strict=True))
    assert last["ip_distinct_entities_24h"] == 4
    assert last["email_distinct_entities"] == 1
    assert last["email_domain"] == 0.0


def test_afd_variable_mappings_with_all_kinds_of_types() -> None:
    schema = FeatureSchema.from_variables(
        [
            {"name": "order_price", "variableType": "PRICE", "dataType": "FLOAT"},
            {"name": "shipping_price", "variableType": "PRICE", "dataType": "FLOAT"},
            ("customer_email", "EMAIL_ADDRESS", "STRING"),
            ("client_ip", "IP_ADDRESS", "STRING"),
            ("device_fp", "FINGERPRINT", "STRING"),
            ("sku_category", "PRODUCT_CATEGORY", "STRING"),
            ("bin", "CARD_BIN", "INTEGER"),
            ("currency", "CURRENCY_CODE", "STRING"),
            ("ship_lat", "NUMERIC", "FLOAT"),
            ("ship_lng", "NUMERIC", "FLOAT"),
            ("basket_size", "NUMERIC", "INTEGER"),
            ("is_gift", None, "BOOLEAN"),
            ("payment", "PAYMENT_TYPE", "STRING"),
            ("country", "billing_country", "string"),  # case-insensitive like AFD
            ("channel", None, "STRING"),
            ("street", "BILLING_ADDRESS_L1", "STRING"),
            ("phone", "PHONE_NUMBER", "STRING"),
            ("notes", "FREE_FORM_TEXT", "STRING"),
            ("order", "ORDER_ID", "STRING"),
            ("label", "FRAUD_LABEL", "STRING"),
            ("signup", None, "DATETIME"),
        ]
    )
    assert schema.amount == "order_price"
    assert schema.email == "customer_email"
    assert schema.ip == "client_ip"
    assert schema.user_agent == "device_fp"  # a fingerprint is the device when no USERAGENT
    assert schema.category == "sku_category"
    assert schema.card_bin == "bin"
    assert schema.currency == "currency"
    assert (schema.latitude, schema.longitude) == ("ship_lat", "ship_lng")
    assert schema.numeric == ("shipping_price", "basket_size", "is_gift")
    assert schema.categorical == ("payment", "country", "channel")
    extractor = FeatureExtractor(schema)
    assert "label" not in extractor.feature_names  # never the target as a feature
    event = Event(
        "o1", "customer", "c1", START,
        {"order_price": "12.5", "is_gift": "true", "basket_size": "3", "ship_lat": "48.85",
         "ship_lng": "2.35", "payment": "card", "bin": "411111", "device_fp": "abc"},
    )  # fmt: skip
    features = dict(
        zip(extractor.feature_names, extractor.compute(event, {}).tolist(), strict=True)
    )
    assert features["amount"] == 12.5
    assert features["is_gift"] == 1.0
    assert features["basket_size"] == 3.0
    assert math.isnan(features["shipping_price"])
    assert features["entity_new_device"] == 1.0


def test_useragent_wins_over_fingerprint_and_half_coordinates_stay_numeric() -> None:
    schema = FeatureSchema.from_variables(
        [
            ("fp", "FINGERPRINT", "STRING"),
            ("ua", "USERAGENT", "STRING"),
            ("lat", "NUMERIC", "FLOAT"),
        ]
    )
    assert schema.user_agent == "ua"
    assert schema.latitude is None
    assert schema.numeric == ("lat",)


@pytest.mark.parametrize(
    "variables",
    [
        [("x", "NOT_A_TYPE", "STRING")],
        [("x", "NUMERIC", "DOUBLE")],
        [("", "NUMERIC", "FLOAT")],
        [("x", "NUMERIC")],
        ["x"],
    ],
)
def test_bad_variable_definitions_are_invalid_input(variables: list[object]) -> None:
    with pytest.raises(InvalidInput):
        FeatureSchema.from_variables(variables)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": "x", "email": "x"},
        {"latitude": "lat"},
        {"numeric": ("a",), "categorical": ("a",)},
        {"amount": ""},
        {"small_amount": 0},
        {"small_amount": math.inf},
        {"small_amount": True},
    ],
)
def test_schema_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        FeatureSchema(**kwargs)  # type: ignore[arg-type]


def test_transaction_schema_names_real_transaction_fields() -> None:
    assert set(TRANSACTION_SCHEMA.variables) <= set(TRANSACTION_FIELDS)
    assert FeatureSchema.from_dict(TRANSACTION_SCHEMA.to_dict()) == TRANSACTION_SCHEMA
    assert FeatureSchema(numeric=["a"]).numeric == ("a",)  # type: ignore[arg-type]
