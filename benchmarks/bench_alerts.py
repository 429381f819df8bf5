"""Alert delivery latency: a block decision written to the log -> the SMTP server has the e-mail.

    .venv/bin/python benchmarks/bench_alerts.py [--rate 100] [--seconds 20] [--fraud-rate 0.1]

Decision records (:mod:`fraudstream.sinks.samples`) are written to ``processed_transactions``
on the embedded log at ``--rate`` per second, each flushed on its own (so its write time is
known); ``fraudstream alerts`` with default settings runs as its own process, as in
production, and sends an e-mail for every block to a real SMTP server (aiosmtpd, in this
process) and a signed webhook to a real HTTP receiver (also here). Latency = the time the
server received the message minus the time the decision's write returned; p50/p99 over every
alert after a 2 s warm-up. Target: p99 < 1 s. The load average is printed because other work on
the machine changes the numbers.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # for fixtures.*

from fixtures.http_receiver import running_receiver  # noqa: E402
from fixtures.smtp_server import running_smtp  # noqa: E402
from fraudstream.sinks.samples import sample_decisions  # noqa: E402
from fraudstream.stream.topics import Topics, ensure_topics  # noqa: E402
from fraudstream.stream.transport import open_transport  # noqa: E402

WARMUP = 2.0


def report(name: str, latencies: list[float]) -> None:
    if not latencies:
        print(f"  {name}: no alerts measured")
        return
    ms = np.asarray(latencies) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    verdict = "ok" if p99 < 1000 else "ABOVE the 1 s target"
    print(
        f"  {name:<8} {len(ms):>5} alerts: p50 {p50:7.1f} ms  p90 {p90:7.1f} ms"
        f"  p99 {p99:7.1f} ms  max {ms.max():7.1f} ms  [{verdict}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="decisions per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fraud-rate", type=float, default=0.1)
    args = parser.parse_args()
    n = int(args.rate * args.seconds)
    samples = sample_decisions(n, seed=3, fraud_rate=args.fraud_rate, end=time.time(), days=0.01)
    blocks = sum(s.record["fd"]["outcome"] == "block" for s in samples)
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {n} decisions at"
        f" {args.rate:.0f}/s, {blocks} blocks ({blocks / args.seconds:.1f} alerts/s)"
    )
    written: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp,
        running_smtp() as smtp,
        running_receiver() as receiver,
        open_transport(f"embedded:{Path(tmp) / 'log.db'}") as transport,
    ):
        topics = ensure_topics(transport, 4, Topics())
        command = [
            sys.executable, "-m", "fraudstream.cli.alert_cmds", "alerts",
            "--broker", f"embedded:{Path(tmp) / 'log.db'}", "--home", str(Path(tmp) / "home"),
            "--smtp-host", smtp.host, "--smtp-port", str(smtp.port),
            "--smtp-from", "alerts@bank.test", "--smtp-to", "team@bank.test",
            "--webhook-url", receiver.url + "/hook",
        ]  # fmt: skip
        env = {**os.environ, "FRAUDSTREAM_WEBHOOK_SECRET": "bench-secret"}
        alerts = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(2.0)  # start-up (imports, joining the group) is not alert latency
            started = time.monotonic()
            with transport.producer() as producer:
                interval = 1.0 / args.rate
                for i, sample in enumerate(samples):
                    due = started + i * interval
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    producer.produce(topics.processed, sample.value, key=sample.key)
                    producer.flush()
                    if time.monotonic() - started >= WARMUP:
                        written[sample.event_id] = time.time()
            wanted = {s.event_id for s in samples if s.record["fd"]["outcome"] == "block"} & set(
                written
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                len(smtp.messages) < blocks or len(receiver.accepted()) < blocks
            ):
                time.sleep(0.05)
        finally:
            alerts.send_signal(signal.SIGTERM)
            alerts.wait(30)
        mails = [
            m.received_at - written[m.message["X-Fraudstream-Event-Id"]]
            for m in smtp.messages
            if m.message["X-Fraudstream-Event-Id"] in written
        ]
        hooks = [
            r.received_at - written[orjson.loads(r.body)["alert"]["event_id"]]
            for r in receiver.accepted()
            if orjson.loads(r.body)["alert"]["event_id"] in written
        ]
    print(f"decision written -> message received ({len(wanted)} alerts after the warm-up):")
    report("e-mail", mails)
    report("webhook", hooks)


if __name__ == "__main__":
    main()
