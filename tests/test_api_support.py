"""Shared helpers for the API tests: a real uvicorn server in a thread, real boto3 clients,
and synthetic labelled transactions with learnable fraud.

No tests live here; the other test_api_* modules import these helpers.
"""

from __future__ import annotations

import csv
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import uvicorn
from botocore.config import Config

from fraudstream.api import Settings, create_app
from fraudstream.detector import Engine
from fraudstream.detector.defaults import TRANSACTION_VARIABLES
from fraudstream.events import PRODUCT_CATEGORIES

ACCESS_KEY = "AKIAFRAUDSTREAMTEST1"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmn"
API_KEY = "fs_test_api_key_0123456789abcdef"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/fraudstream-test"
T0 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
TRANSACTION_VARIABLE_NAMES = [v[0] for v in TRANSACTION_VARIABLES]


@dataclass
class RunningServer:
    url: str
    engine: Engine
    home: Path

    def client(self, **overrides: Any) -> Any:
        """A real boto3 Fraud Detector client for this server (no retries: tests see errors)."""
        options: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": REGION,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "config": Config(retries={"max_attempts": 1, "mode": "standard"}),
        }
        options.update(overrides)
        return boto3.client("frauddetector", **options)


@contextmanager
def running_server(
    home: Path, settings: Settings | None = None, **engine_options: Any
) -> Iterator[RunningServer]:
    """uvicorn serving create_app(...) on a free loopback port, stopped on exit."""
    engine = Engine.open(home, **engine_options)
    settings = settings or Settings(
        access_keys={ACCESS_KEY: SECRET_KEY},
        api_keys=frozenset({API_KEY}),
        data_roots=(home,),
    )
    app = create_app(engine, settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", engine, home)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        engine.close()


def wait_for(check: Callable[[], Any], timeout: float = 90.0, interval: float = 0.2) -> Any:
    """Poll until ``check()`` is truthy (returns it) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# -- AFD resources ------------------------------------------------------------------------------


def define_transaction_type(client: Any, *, outcomes: tuple[str, ...] = ()) -> None:
    """The reference system's event type, built through the AFD API as a boto3 user would."""
    client.put_entity_type(name="customer", description="a card holder")
    client.put_label(name="fraud", description="confirmed fraud")
    client.put_label(name="legit", description="confirmed legitimate")
    for outcome in ("approve", "review", "block", *outcomes):
        client.put_outcome(name=outcome)
    entries = [
        {
            "name": name,
            "dataType": data_type,
            "dataSource": "EVENT",
            "defaultValue": default,
            "variableType": variable_type,
        }
        for name, data_type, variable_type, default in TRANSACTION_VARIABLES
    ]
    result = client.batch_create_variable(variableEntries=entries[:10])
    assert result["errors"] == []
    result = client.batch_create_variable(variableEntries=entries[10:])
    assert result["errors"] == []
    client.put_event_type(
        name="transaction",
        eventVariables=TRANSACTION_VARIABLE_NAMES,
        entityTypes=["customer"],
        labels=["fraud", "legit"],
        description="a card payment",
    )


# -- synthetic data -----------------------------------------------------------------------------

_JOBS = ("engineer", "teacher", "nurse", "driver", "chef")
_STATES = ("CA", "NY", "TX", "WA", "FL")
_SAFE = tuple(c for c in PRODUCT_CATEGORIES if c not in ("misc_net", "shopping_net"))


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def transactions(
    n: int, *, seed: int = 0, customers: int = 300, fraud_rate: float = 0.06, start: float = T0
) -> list[dict[str, Any]]:
    """Labelled 19-field transaction records over 30 days; fraud is large, online, from odd
    IPs and scripted user agents, so a model can learn it (and a rule can catch it)."""
    rng = np.random.default_rng(seed)
    times = np.sort(start + rng.uniform(0, 30 * 86400, n))
    who = rng.integers(0, customers, n)
    fraud = rng.random(n) < fraud_rate
    records = []
    for i in range(n):
        c, bad = int(who[i]), bool(fraud[i])
        amount = float(rng.lognormal(6.3, 0.5) if bad else rng.lognormal(3.4, 0.7))
        category = str(rng.choice(["misc_net", "shopping_net"]) if bad else rng.choice(_SAFE))
        if bad:
            ip = f"185.{rng.integers(100, 200)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
            agent = "python-requests/2.31" if rng.random() < 0.7 else "Mozilla/5.0 (X11)"
        else:
            ip = f"73.{c % 250}.{(c * 7) % 250}.{c % 200 + 1}"
            agent = f"Mozilla/5.0 (Windows NT 10.0; device {c % 9})"
        records.append(
            {
                "transaction_amt": round(amount, 2),
                "email_address": f"customer{c}@example.com",
                "ip_address": ip,
                "transaction_currency": "USD",
                "event_id": f"tx-{seed}-{i}",
                "entity_id": f"cust-{c}",
                "event_time": iso(float(times[i])),
                "billing_longitude": -120.0 + (c % 40),
                "billing_state": _STATES[c % len(_STATES)],
                "user_agent": agent,
                "billing_street": f"{c} Main St",
                "billing_city": "Springfield",
                "card_bin": 400000 + c % 50,
                "customer_name": f"Customer {c}",
                "product_category": category,
                "customer_job": _JOBS[c % len(_JOBS)],
                "phone": f"555-01{c % 1000:03d}",
                "billing_latitude": 30.0 + (c % 15),
                "billing_zip": f"{10000 + c}",
                "label": "fraud" if bad else "legit",
            }
        )
    return records


def afd_row(record: dict[str, Any]) -> dict[str, str]:
    """One AFD CSV row for a transaction record (labelled a day after the event)."""
    when = datetime.fromisoformat(record["event_time"].replace("Z", "+00:00")).timestamp()
    row = {
        "EVENT_ID": record["event_id"],
        "EVENT_TIMESTAMP": record["event_time"],
        "ENTITY_ID": record["entity_id"],
        "ENTITY_TYPE": "customer",
        "EVENT_LABEL": record["label"],
        "LABEL_TIMESTAMP": iso(when + 86400),
    }
    row.update({name: str(record[name]) for name in TRANSACTION_VARIABLE_NAMES})
    return row


def write_afd_csv(path: Path, records: list[dict[str, Any]], *, labels: bool = True) -> Path:
    rows = [afd_row(r) for r in records]
    if not labels:
        for row in rows:
            del row["EVENT_LABEL"], row["LABEL_TIMESTAMP"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def event_variables(record: dict[str, Any]) -> dict[str, str]:
    """eventVariables as the reference UDF sends them: every value a string."""
    return {name: str(record[name]) for name in TRANSACTION_VARIABLE_NAMES}


def transaction_record(record: dict[str, Any]) -> dict[str, Any]:
    """The 19-field record of the transactions topic (no label)."""
    return {k: v for k, v in record.items() if k != "label"}


def predict_udf(client: Any, detector_id: str, record: dict[str, Any], **extra: Any) -> Any:
    """GetEventPrediction exactly as the reference Flink UDF calls it."""
    return client.get_event_prediction(
        detectorId=detector_id,
        eventId=record["event_id"],
        eventTypeName="transaction",
        entities=[{"entityType": "customer", "entityId": record["entity_id"]}],
        eventTimestamp=record["event_time"],
        eventVariables=event_variables(record),
        **extra,
    )
