"""Realistic decisions for demos, screenshots and tests, written the way the pipeline would.

:func:`decision_batch` turns :mod:`fraudstream.sinks.samples` decisions (and the simulator's
truth) into the batch the sink consumer would write; :func:`store_events` puts their
transactions in the engine's event store (what backtests replay and labels land on);
:class:`DecisionFeed` keeps writing fresh decisions from a thread, like a running pipeline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Final

from fraudstream.detector import Engine
from fraudstream.events import parse_transaction
from fraudstream.sinks import Batch, DecisionStore, build_batch
from fraudstream.sinks.samples import SampleDecision, sample_decisions
from fraudstream.stream.transport import Message

__all__ = ["DecisionFeed", "decision_batch", "store_events"]

DECISIONS_TOPIC: Final = "processed_transactions"
TRUTH_TOPIC: Final = "simulator_truth"


def decision_batch(
    samples: Sequence[SampleDecision], first_offset: int, *, truth: bool = True
) -> Batch:
    """The sink's batch for ``samples`` at consecutive offsets of partition 0."""
    messages = []
    for i, sample in enumerate(samples):
        offset = first_offset + i
        messages.append(Message(DECISIONS_TOPIC, 0, offset, sample.key, sample.value))
        if truth:
            messages.append(Message(TRUTH_TOPIC, 0, offset, sample.key, sample.truth_value()))
    return build_batch(messages, truth_topics=(TRUTH_TOPIC,))


def store_events(engine: Engine, samples: Sequence[SampleDecision], *, labels: bool) -> None:
    """Put the samples' transactions in the engine's event store, labelled with the
    simulator's truth when ``labels`` (as historic, investigated events would be)."""
    for sample in samples:
        record = {k: v for k, v in sample.record.items() if k != "fd"}
        event = parse_transaction(record).to_event()
        label = ("fraud" if sample.truth.is_fraud else "legit") if labels else None
        engine.events.put_event(event, label, event.event_time + 86400.0 if labels else None)
    engine.events.flush()


class DecisionFeed:
    """Writes ``batch`` fresh decisions (event time = now) every ``every`` seconds."""

    def __init__(
        self,
        store: DecisionStore,
        engine: Engine | None = None,
        *,
        batch: int = 40,
        every: float = 0.5,
        first_offset: int = 1_000_000,
        seed: int = 1000,
    ) -> None:
        self.store = store
        self.engine = engine
        self.batch = batch
        self.every = every
        self.offset = first_offset
        self.seed = seed
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="decision-feed", daemon=True)

    def start(self) -> DecisionFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            samples = sample_decisions(
                self.batch, seed=self.seed, end=time.time(), days=self.every / 86400.0
            )
            self.seed += 1
            self.store.write(decision_batch(samples, self.offset))
            if self.engine is not None:
                store_events(self.engine, samples, labels=False)
            self.offset += len(samples)
            self.written += len(samples)
            self._stop.wait(self.every)
