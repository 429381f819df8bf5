"""GetEventPrediction over HTTP: throughput and latency of the AFD endpoint.

    python benchmarks/bench_api.py                  # paced at 1,000 req/s, then flat out
    python benchmarks/bench_api.py --rate 1500 --seconds 20 --clients 3
    python benchmarks/bench_api.py --client boto3   # an unchanged boto3 client per thread

The server runs in its own process (uvicorn, httptools + uvloop when installed) over a fresh
home with the default detector (a trained model and three score-band rules; ``--rules-only``
skips training). Clients run in other processes with pre-signed SigV4 requests on keep-alive
connections, so the numbers are the server's, not the client library's. The paced run
measures latency from each request's *scheduled* start (no coordinated omission).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIABENCHMARK0000001"
SECRET_KEY = "bench-secret-0123456789abcdefghijklmnop"
TARGET = "AWSHawksNestServiceFacade.GetEventPrediction"
CATEGORIES = ("grocery_pos", "gas_transport", "home", "food_dining", "misc_net", "shopping_net")


# -- data and setup -------------------------------------------------------------------------


def records(n: int, seed: int, start: float) -> list[dict[str, Any]]:
    """Transactions with learnable fraud (large, online, odd IPs, scripted agents)."""
    rng = np.random.default_rng(seed)
    times = np.sort(start + rng.uniform(0, 30 * 86400, n))
    out = []
    for i in range(n):
        c = int(rng.integers(0, 300))
        bad = bool(rng.random() < 0.06)
        when = datetime.fromtimestamp(float(times[i]), UTC).isoformat(timespec="seconds")
        out.append(
            {
                "transaction_amt": round(float(rng.lognormal(6.3 if bad else 3.4, 0.6)), 2),
                "email_address": f"customer{c}@example.com",
                "ip_address": f"185.1.{i % 250}.9" if bad else f"73.{c % 250}.1.{c % 200 + 1}",
                "transaction_currency": "USD",
                "event_id": f"ev-{seed}-{i}",
                "entity_id": f"cust-{c}",
                "event_time": when.replace("+00:00", "Z"),
                "billing_longitude": -120.0 + c % 40,
                "billing_state": ("CA", "NY", "TX")[c % 3],
                "user_agent": "python-requests/2.31" if bad else f"Mozilla/5.0 (device {c % 9})",
                "billing_street": f"{c} Main St",
                "billing_city": "Springfield",
                "card_bin": 400000 + c % 50,
                "customer_name": f"Customer {c}",
                "product_category": CATEGORIES[4 + i % 2] if bad else CATEGORIES[c % 4],
                "customer_job": ("engineer", "teacher", "nurse")[c % 3],
                "phone": f"555-01{c % 1000:03d}",
                "billing_latitude": 30.0 + c % 15,
                "billing_zip": f"{10000 + c}",
                "label": "fraud" if bad else "legit",
            }
        )
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    from fraudstream.detector.defaults import TRANSACTION_VARIABLES

    names = [v[0] for v in TRANSACTION_VARIABLES]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        meta = ["EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "EVENT_LABEL"]
        writer.writerow([*meta, "LABEL_TIMESTAMP", *names])
        for r in rows:
            writer.writerow(
                [
                    r["event_id"],
                    r["event_time"],
                    r["entity_id"],
                    "customer",
                    r["label"],
                    r["event_time"],
                    *(r[n] for n in names),
                ]
            )


def prepare(home: Path, rules_only: bool) -> str:
    """The default detector in ``home``: trained model + rules, or rules alone."""
    from fraudstream.detector import Engine
    from fraudstream.detector.defaults import (
        DETECTOR_ID,
        define_transaction_event_type,
        install_default_detector,
    )

    engine = Engine.open(home)
    try:
        if not rules_only:
            data = home / "train.csv"
            write_csv(
                data, records(3000, seed=0, start=datetime(2024, 1, 1, tzinfo=UTC).timestamp())
            )
            started = time.perf_counter()
            result = install_default_detector(engine, data)
            print(
                f"trained the default model in {time.perf_counter() - started:.1f}s "
                f"(AUC {result['metrics'].get('auc', float('nan')):.3f})"
            )
            return DETECTOR_ID
        define_transaction_event_type(engine)
        reg = engine.registry
        reg.put_detector(DETECTOR_ID, "transaction")
        reg.create_list("blocked_ips", ["203.0.113.9"])
        rules = []
        for rule_id, expression, outcome in (
            ("block_big", "$transaction_amt > 1000 or $ip_address in @blocked_ips", "block"),
            ("review_mid", "$transaction_amt > 300", "review"),
            ("approve_rest", "$transaction_amt <= 300", "approve"),
        ):
            rule = reg.create_rule(rule_id, DETECTOR_ID, expression, [outcome])
            rules.append({"ruleId": rule_id, "ruleVersion": rule["ruleVersion"]})
        version = reg.create_detector_version(DETECTOR_ID, rules)
        reg.update_detector_version_status(DETECTOR_ID, version["detectorVersionId"], "ACTIVE")
        return DETECTOR_ID
    finally:
        engine.close()


# -- server process -------------------------------------------------------------------------


def serve(home: Path, port: int) -> None:
    import uvicorn

    from fraudstream.api import Settings, create_app
    from fraudstream.api.cli import SWITCH_INTERVAL_SECONDS
    from fraudstream.detector import Engine
    from fraudstream.runtime import freeze_startup_objects

    engine = Engine.open(home)
    settings = Settings(access_keys={ACCESS_KEY: SECRET_KEY}, data_roots=(home,))
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # as `fraudstream api serve` does
    app = create_app(engine, settings)
    freeze_startup_objects()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws="none",
    )
    engine.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


# -- clients --------------------------------------------------------------------------------


def body(detector: str, record: dict[str, Any]) -> bytes:
    variables = {
        k: str(v)
        for k, v in record.items()
        if k not in ("event_id", "entity_id", "event_time", "label")
    }
    return orjson.dumps(
        {
            "detectorId": detector,
            "eventId": record["event_id"],
            "eventTypeName": "transaction",
            "entities": [{"entityType": "customer", "entityId": record["entity_id"]}],
            "eventTimestamp": record["event_time"],
            "eventVariables": variables,
        }
    )


def signed(host: str, payload: bytes) -> dict[str, str]:
    """SigV4 headers for one request, exactly as botocore would produce them."""
    request = AWSRequest(
        method="POST",
        url=f"http://{host}/",
        data=payload,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "frauddetector", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = host
    return headers


def raw_worker(
    port: int, payloads: list[bytes], rate: float, seconds: float, queue: Any, ready: Any
) -> None:
    """Keep-alive connection, pre-signed requests; paced when ``rate`` > 0."""
    host = f"127.0.0.1:{port}"
    prepared = [(p, signed(host, p)) for p in payloads]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies: list[float] = []
    errors = 0
    ready.wait()  # nobody starts while another client is still signing (it would steal CPU)
    start = time.perf_counter()
    end = start + seconds
    i = 0
    while True:
        scheduled = start + i / rate if rate > 0 else time.perf_counter()
        if scheduled >= end:
            break
        now = time.perf_counter()
        if scheduled > now:
            time.sleep(scheduled - now)
        payload, headers = prepared[i % len(prepared)]
        conn.request("POST", "/", body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - scheduled)
        if response.status != 200:
            errors += 1
        i += 1
    conn.close()
    queue.put((latencies, errors))


def boto3_worker(
    port: int, payloads: list[bytes], rate: float, seconds: float, queue: Any, ready: Any
) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "frauddetector",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    latencies: list[float] = []
    ready.wait()
    start = time.perf_counter()
    end = start + seconds
    i = 0
    while True:
        scheduled = start + i / rate if rate > 0 else time.perf_counter()
        if scheduled >= end:
            break
        now = time.perf_counter()
        if scheduled > now:
            time.sleep(scheduled - now)
        kwargs = orjson.loads(payloads[i % len(payloads)])
        client.get_event_prediction(**kwargs)
        latencies.append(time.perf_counter() - scheduled)
        i += 1
    queue.put((latencies, 0))


def run(
    port: int, payloads: list[bytes], clients: int, rate: float, seconds: float, kind: str
) -> tuple[float, list[float], int]:
    queue: Any = mp.Queue()
    ready = mp.Barrier(clients)
    target = raw_worker if kind == "raw" else boto3_worker
    share = rate / clients if rate > 0 else 0.0
    procs = [
        mp.Process(target=target, args=(port, payloads[i::clients], share, seconds, queue, ready))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for lat, _ in results for x in lat]
    errors = sum(e for _, e in results)
    return len(latencies) / seconds, latencies, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name: str, rps: float, latencies: list[float], errors: int, server_cpu: float) -> None:
    ms = np.array(latencies) * 1000
    p50, p90, p99, p999 = np.percentile(ms, [50, 90, 99, 99.9])
    per_request = server_cpu / max(len(latencies), 1) * 1e6
    print(
        f"{name:<24} {rps:6.0f} req/s  p50 {p50:6.2f}  p90 {p90:6.2f}  p99 {p99:6.2f}  "
        f"p99.9 {p999:6.2f}  max {ms.max():6.1f} ms  errors {errors}  "
        f"server CPU {per_request:4.0f} us/req"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced run (req/s)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--client", choices=["raw", "boto3"], default="raw")
    parser.add_argument("--rules-only", action="store_true", help="no model: rules alone")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.home, args.port)
        return

    home = args.home or Path(tempfile.mkdtemp(prefix="fraudstream-bench-"))
    detector = prepare(home, args.rules_only)
    port = args.port or free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--home", str(home), "--port", str(port)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_up(port)
        start = datetime(2024, 2, 1, tzinfo=UTC).timestamp()
        items = records(60_000, seed=1, start=start)
        payloads = [body(detector, r) for r in items]
        # Warm up: compile the detector version, fill caches, touch entity states.
        run(port, payloads[:2000], 1, 0.0, 2.0, "raw")
        mode = f"{args.client} x{args.clients}"
        print(f"load average before the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        if args.rate > 0:
            before = cpu_seconds(server.pid)
            rps, lat, errors = run(
                port, payloads, args.clients, args.rate, args.seconds, args.client
            )
            used = cpu_seconds(server.pid) - before
            report(f"paced {args.rate:.0f}/s ({mode})", rps, lat, errors, used)
        before = cpu_seconds(server.pid)
        rps, lat, errors = run(port, payloads[::-1], args.clients, 0.0, args.seconds, args.client)
        report(f"flat out ({mode})", rps, lat, errors, cpu_seconds(server.pid) - before)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
