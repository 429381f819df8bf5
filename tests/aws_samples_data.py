"""The sample data AWS's Fraud Detector notebooks expect, made by fraudstream's simulator.

The notebooks of aws-samples/aws-fraud-detector-samples train on ``synthetic_txn_data``, an
online-transaction dataset with these columns (their printed summaries list them):
``card_bin, customer_name, billing_street, billing_city, billing_state, billing_zip,
billing_latitude, billing_longitude, customer_job, ip_address, customer_email, phone,
user_agent, product_category, order_price, payment_currency, merchant``, labels ``"1"`` (fraud)
and ``"0"`` (legitimate), timestamps ``YYYY-MM-DDTHH:MM:SSZ`` from 2020-11-01 to 2021-02-28.
We make the same columns from :func:`fraudstream.simulate.generate_history` (its fraud is
learnable only against each customer's history, as real fraud is), renaming ``email_address``,
``transaction_amt`` and ``transaction_currency`` and adding a merchant. No tests live here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraudstream.simulate import generate_history

#: The event variables of the sample dataset, in its column order.
SAMPLE_VARIABLES = (
    "card_bin",
    "customer_name",
    "billing_street",
    "billing_city",
    "billing_state",
    "billing_zip",
    "billing_latitude",
    "billing_longitude",
    "customer_job",
    "ip_address",
    "customer_email",
    "phone",
    "user_agent",
    "product_category",
    "order_price",
    "payment_currency",
    "merchant",
)
_RENAMED = {
    "email_address": "customer_email",
    "transaction_amt": "order_price",
    "transaction_currency": "payment_currency",
}
_MERCHANTS = tuple(
    f"fraud_{name} {kind}"
    for name in ("Kertzmann", "Strosin", "Kuvalis", "Auer", "Walter", "Botsford", "Berge")
    for kind in ("LLC", "Inc", "Ltd", "and Sons", "Group")
)


def synthetic_txn_data(
    n: int,
    *,
    seed: int,
    fraud_rate: float = 0.06,
    end: str = "2021-02-28T00:00:00Z",
    days: float = 119.0,
) -> pd.DataFrame:
    """``n`` labelled events in AFD's stored-events layout (ENTITY_TYPE, ENTITY_ID, EVENT_ID,
    EVENT_TIMESTAMP, EVENT_LABEL, LABEL_TIMESTAMP, then the 17 variables), time ordered."""
    frame = generate_history(n, seed=seed, fraud_rate=fraud_rate, end=end, days=days).frame
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(
        {
            "ENTITY_TYPE": "customer",
            "ENTITY_ID": frame["entity_id"].to_numpy(),
            "EVENT_ID": frame["event_id"].to_numpy(),
            "EVENT_TIMESTAMP": frame["event_time"].to_numpy(),
            "EVENT_LABEL": np.where(frame["is_fraud"].to_numpy(dtype=bool), "1", "0"),
            # The notebooks: "If you do not have that data, you can duplicate the
            # EVENT_TIMESTAMP column and rename it as LABEL_TIMESTAMP."
            "LABEL_TIMESTAMP": frame["event_time"].to_numpy(),
        }
    )
    for name in SAMPLE_VARIABLES:
        if name == "merchant":
            out[name] = rng.choice(np.array(_MERCHANTS), len(frame))
        else:
            source = next((k for k, v in _RENAMED.items() if v == name), name)
            out[name] = frame[source].to_numpy()
    out["billing_latitude"] = out["billing_latitude"].round(4)
    out["billing_longitude"] = out["billing_longitude"].round(4)
    return out


def external_layout(data: pd.DataFrame) -> pd.DataFrame:
    """The same events as the OFI notebooks' files have them: ``EVENT_LABEL,
    EVENT_TIMESTAMP, event_id, entity_id`` and the variables (no entity type, no label time)."""
    out = pd.DataFrame(
        {
            "EVENT_LABEL": data["EVENT_LABEL"],
            "EVENT_TIMESTAMP": data["EVENT_TIMESTAMP"],
            "event_id": data["EVENT_ID"],
            "entity_id": data["ENTITY_ID"],
        }
    )
    for name in SAMPLE_VARIABLES:
        out[name] = data[name]
    return out
