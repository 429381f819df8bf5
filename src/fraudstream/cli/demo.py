"""``fraudstream demo``: the whole pipeline on one machine, with nothing to install.

It trains the default detector on a simulated history the first time, then runs each part as
its own process (as it would run in production) on the embedded transport, and shows the
decisions as they flow. Ctrl-C stops every part cleanly; running it again continues.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click
import orjson

from fraudstream.alerts.errors import SignatureError
from fraudstream.alerts.signing import SIGNATURE_HEADER, verify_signature
from fraudstream.cli.demo_setup import DemoSetup, prepare
from fraudstream.cli.main import friendly_errors, home_option
from fraudstream.cli.output import console, metrics_table, progress_steps
from fraudstream.stream.topics import DEFAULT_PARTITIONS, Topics, ensure_topics
from fraudstream.stream.transport import open_transport

STOP_GRACE_SECONDS = 15.0


@dataclass
class Service:
    """One part of the pipeline, run as a child process with its output in a log file."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fraudstream", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                # Own process group: the terminal's Ctrl-C reaches only us, and we stop the
                # children in order instead of all at once.
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def time_scale(setup: DemoSetup, rate_per_s: float) -> float:
    """Simulated seconds per real second that keep each customer as busy as in the history
    the model learned from (otherwise every live customer would look like a card-testing spree)."""
    history_rate = setup.history_events / (setup.history_days * 86_400.0)
    return rate_per_s / history_rate


def services(
    home: Path, setup: DemoSetup, rate: float, ports: DemoPorts, webhook_secret: str
) -> list[Service]:
    """The pipeline's parts, sinks first so nothing the producer writes waits on them."""
    logs = home / "logs"
    h = ["--home", str(home)]
    dashboard = f"http://127.0.0.1:{ports.api}"
    return [
        Service("sink", ["sink", *h], logs / "sink.log"),
        Service(
            "alerts",
            [
                "alerts",
                *h,
                "--webhook-url",
                f"http://127.0.0.1:{ports.webhook}/alerts",
                "--dashboard-url",
                dashboard,
            ],
            logs / "alerts.log",
            env={"FRAUDSTREAM_WEBHOOK_SECRET": webhook_secret},
        ),
        Service(
            "api",
            [
                "api",
                "serve",
                *h,
                "--port",
                str(ports.api),
                "--demo",
                "--metrics-url",
                f"http://127.0.0.1:{ports.metrics}/metrics",
                # Event times are simulated (accelerated): fd.ttdf would compare the decision
                # with a clock running faster than the wall clock.
                "--latency-metric",
                "queue_time",
            ],
            logs / "api.log",
        ),
        Service(
            "processor",
            ["process", *h, "--metrics-port", str(ports.metrics)],
            logs / "processor.log",
        ),
        Service(
            "producer",
            [
                "produce",
                *h,
                "--rate",
                f"{rate:g}/s",
                "--seed",
                str(setup.seed),
                "--customers",
                str(setup.customers),
                "--time-scale",
                f"{time_scale(setup, rate):.3f}",
                "--run-id",
                str(int(time.time())),
            ],
            logs / "producer.log",
        ),
    ]


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8080
    metrics: int = 9108
    webhook: int = 0


class AlertInbox:
    """A webhook receiver standing in for the team's chat or case tool: it verifies each
    alert's HMAC signature and prints the alert, so the demo shows real deliveries."""

    def __init__(self, secret: str) -> None:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verify_signature(secret, self.headers.get(SIGNATURE_HEADER), body)
                except SignatureError:
                    self.send_response(401)
                    self.end_headers()
                    return
                self.send_response(204)
                self.end_headers()
                inbox.received(orjson.loads(body))

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.count = 0
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, payload: dict[str, object]) -> None:
        self.count += 1
        alert = payload.get("alert")
        if isinstance(alert, dict):
            what = f"{alert.get('outcome')} {alert.get('event_id')} ({alert.get('entity_id')})"
        else:
            what = f"digest of {payload.get('count')} alerts"
        console.print(f"[magenta]alert delivered (signed webhook):[/] {what}", highlight=False)

    def close(self) -> None:
        self.server.shutdown()


@contextlib.contextmanager
def running(parts: list[Service]) -> Iterator[None]:
    for part in parts:
        part.start()
    try:
        yield
    finally:
        # Stop the source first so the processor can drain what is in flight, then the rest.
        for part in reversed(parts):
            part.stop()
            part.wait(STOP_GRACE_SECONDS)


class Tail:
    """Follows processed_transactions from its end and prints what an operator wants to see."""

    def __init__(self, home: Path, every: float = 5.0) -> None:
        self.home = home
        self.every = every
        self.outcomes: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.seen = 0

    def run(self, stop: threading.Event, parts: list[Service]) -> None:
        topics = Topics()
        with open_transport(f"embedded:{self.home / 'log.db'}") as transport:
            ensure_topics(transport, DEFAULT_PARTITIONS, topics)
            consumer = transport.consumer(
                f"demo-console-{os.getpid()}", [topics.processed], from_beginning=False
            )
            last = time.monotonic()
            while not stop.is_set():
                for message in consumer.poll(500, 0.5):
                    self._show(orjson.loads(message.value))
                if time.monotonic() - last >= self.every:
                    self._summary()
                    last = time.monotonic()
                dead = [p.name for p in parts if not p.running()]
                if dead:
                    console.print(f"[red]stopped unexpectedly: {', '.join(dead)}[/] (see logs)")
                    stop.set()
            consumer.close()

    def _show(self, record: dict[str, object]) -> None:
        fd = record.get("fd")
        if not isinstance(fd, dict):
            return
        outcome = str(fd.get("outcome"))
        self.outcomes[outcome] += 1
        self.seen += 1
        # Not fd.ttdf: the demo's event times are simulated (accelerated) time.
        latency = fd.get("queue_time")
        if isinstance(latency, int | float):
            self.latencies.append(float(latency))
        if outcome == "block":
            scores = fd.get("scores") or {}
            score = next(iter(scores.values()), None) if isinstance(scores, dict) else None
            rules = ", ".join(
                str(r.get("rule_id")) for r in fd.get("rules", []) if isinstance(r, dict)
            )
            console.print(
                f"[bold red]BLOCK[/] {record.get('event_id')} customer {record.get('entity_id')} "
                f"{record.get('transaction_amt')} {record.get('transaction_currency')} "
                f"{record.get('product_category')} score {score} ({rules})",
                highlight=False,
            )

    def _summary(self) -> None:
        lat = sorted(self.latencies)
        p50 = lat[len(lat) // 2] if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
        split = ", ".join(f"{k} {v:,}" for k, v in self.outcomes.most_common())
        console.print(
            f"[dim]{self.seen:,} decisions ({split}); log-to-decision p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms over the last {len(lat):,}[/]",
            highlight=False,
        )
        self.latencies.clear()


@click.command()
@home_option
@click.option("--rate", default=50.0, show_default=True, help="Transactions per second.")
@click.option("--customers", default=2_000, show_default=True, help="Simulated customers.")
@click.option(
    "--history-events", default=200_000, show_default=True, help="Events to train on (first run)."
)
@click.option("--metrics-port", default=9108, show_default=True, help="Processor metrics port.")
@click.option("--api-port", default=8080, show_default=True, help="API and dashboard port.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@friendly_errors
def demo(
    home: Path,
    rate: float,
    customers: int,
    history_events: int,
    metrics_port: int,
    api_port: int,
    duration: float | None,
) -> None:
    """Run the live pipeline on this machine: producer -> processor -> decisions."""
    home = home.resolve()
    wanted = DemoSetup(customers=customers, history_events=history_events)
    if DemoSetup.load(home) is None:
        console.print(
            f"First run: simulating {history_events:,} transactions of {customers:,} customers "
            "and training the default detector (about a minute)..."
        )
    with progress_steps() as steps:
        setup, summary = prepare(home, wanted, progress=steps.update)
    if summary is not None:
        console.print(metrics_table(summary["metrics"], "Default model on the held-out period"))
    secret = secrets.token_urlsafe(24)
    inbox = AlertInbox(secret)
    ports = DemoPorts(api=api_port, metrics=metrics_port, webhook=inbox.port)
    parts = services(home, setup, rate, ports, secret)
    console.print(
        f"[bold]fraudstream demo[/] in {home}\n"
        f"  producer  -> {rate:g} transactions/s (with bursts) into topic 'transactions'\n"
        f"  processor -> scores with detector 'fraudstream_detector' (review >= "
        f"{setup.review_threshold}, block >= {setup.block_threshold}) into "
        f"'processed_transactions'\n"
        f"  sink      -> every decision into {home / 'decisions.db'}\n"
        f"  alerts    -> a signed webhook for every block (received and verified below)\n"
        f"  dashboard -> http://127.0.0.1:{api_port}/dashboard/ (user analyst, password in "
        f"{home / 'dashboard-credentials'})\n"
        f"  metrics   -> http://127.0.0.1:{metrics_port}/metrics   logs -> {home / 'logs'}\n"
        "Blocked transactions are shown as they happen; Ctrl-C stops everything.",
        highlight=False,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if duration is not None:
        threading.Timer(duration, stop.set).start()
    with running(parts):
        try:
            Tail(home).run(stop, parts)
        except KeyboardInterrupt:
            console.print("stopping...")
    inbox.close()
    console.print(
        f"stopped after {inbox.count} alerts; run `make demo` again to continue where it left off."
    )
