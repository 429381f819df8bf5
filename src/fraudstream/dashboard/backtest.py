"""Backtests: what a draft detector version would have decided on the stored events of a
period, next to what the ACTIVE version decides on the same events.

Both versions replay the events in time order through throwaway engines (in-memory event
and entity state, ``store=False, learn=True``), so each event is scored on exactly the
history before it and nothing live is touched. Comparing the draft with the active version
*replayed the same way* isolates the rule change from differences in live state. Events
before the period (``warmup``) only build entity history. Where events carry labels, each
version gets its precision and recall (block, and review-or-block).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from fraudstream.detector import Engine
from fraudstream.detector.event_store import EventStore, StoredEvent
from fraudstream.detector.features import MemoryStateStore
from fraudstream.detector.registry import Registry
from fraudstream.sinks import Quality

__all__ = ["BacktestJobs", "BacktestResult", "BacktestSpec", "Change", "Job", "run_backtest"]

log = logging.getLogger("fraudstream.dashboard")

#: Changed decisions kept for display.
MAX_CHANGES: Final = 25
FRAUD_LABELS: Final = frozenset({"fraud", "FRAUD"})


@dataclass(frozen=True)
class BacktestSpec:
    detector_id: str
    draft: str
    base: str
    start: float
    end: float
    warmup: float = 0.0
    max_events: int = 200_000


@dataclass(frozen=True)
class Change:
    """One event the two versions decide differently."""

    event_id: str
    entity_id: str
    event_time: float
    base_outcome: str
    draft_outcome: str
    score: float | None
    label: str | None


@dataclass
class Confusion:
    """Counts of decisions against labels (positive = predicted fraud)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, fraud: bool) -> None:
        if predicted and fraud:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif fraud:
            self.fn += 1
        else:
            self.tn += 1

    def quality(self) -> Quality:
        return Quality(self.tp, self.fp, self.fn, self.tn)


@dataclass
class VersionStats:
    outcomes: Counter[str] = field(default_factory=Counter)
    block: Confusion = field(default_factory=Confusion)
    flagged: Confusion = field(default_factory=Confusion)


@dataclass
class BacktestResult:
    spec: BacktestSpec
    events: int = 0
    warmup_events: int = 0
    labelled: int = 0
    base: VersionStats = field(default_factory=VersionStats)
    draft: VersionStats = field(default_factory=VersionStats)
    #: (base outcome, draft outcome) -> events.
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)
    #: The period held more events than max_events; replay stopped at ``last_time``.
    truncated: bool = False
    last_time: float | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(n for (a, b), n in self.transitions.items() if a != b)

    def moved(self, outcome: str) -> tuple[int, int]:
        """(events gaining ``outcome`` under the draft, events losing it)."""
        gained = sum(n for (a, b), n in self.transitions.items() if b == outcome and a != b)
        lost = sum(n for (a, b), n in self.transitions.items() if a == outcome and a != b)
        return gained, lost


def _throwaway(registry: Registry) -> Engine:
    return Engine(registry, EventStore(":memory:"), MemoryStateStore(), explain="none")


def _close(engine: Engine) -> None:
    # Not engine.close(): that would close the shared, live registry too.
    engine.events.close()
    engine.state.close()


def _truth(label: str | None) -> bool | None:
    if label is None:
        return None
    return label in FRAUD_LABELS


def replay(
    registry: Registry,
    stored: Iterable[StoredEvent],
    spec: BacktestSpec,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Score time-ordered ``stored`` events with both versions (see the module docs)."""
    started = time.perf_counter()
    result = BacktestResult(spec)
    engines = {"base": _throwaway(registry), "draft": _throwaway(registry)}
    versions = {"base": spec.base, "draft": spec.draft}
    try:
        for n, item in enumerate(stored, 1):
            event = item.event
            if event.event_time < spec.start:
                for name, engine in engines.items():
                    engine.predict(event, spec.detector_id, versions[name], store=False, learn=True)
                result.warmup_events += 1
                continue
            if result.events >= spec.max_events:
                result.truncated = True
                break
            base = engines["base"].predict(
                event, spec.detector_id, spec.base, store=False, learn=True
            )
            draft = engines["draft"].predict(
                event, spec.detector_id, spec.draft, store=False, learn=True
            )
            a, b = base.outcome or "none", draft.outcome or "none"
            result.events += 1
            result.last_time = event.event_time
            result.transitions[(a, b)] += 1
            result.base.outcomes[a] += 1
            result.draft.outcomes[b] += 1
            fraud = _truth(item.label)
            if fraud is not None:
                result.labelled += 1
                for stats, outcome in ((result.base, a), (result.draft, b)):
                    stats.block.add(outcome == "block", fraud)
                    stats.flagged.add(outcome in ("block", "review"), fraud)
            if a != b and len(result.changes) < MAX_CHANGES:
                score = next(iter(draft.scores.values()), None)
                result.changes.append(
                    Change(
                        event.event_id, event.entity_id, event.event_time, a, b, score, item.label
                    )
                )
            if progress is not None and n % 500 == 0:
                progress(n)
    finally:
        for engine in engines.values():
            _close(engine)
    result.seconds = time.perf_counter() - started
    return result


def run_backtest(
    registry: Registry,
    events: EventStore,
    spec: BacktestSpec,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Replay the stored events of ``[start - warmup, end)`` of the detector's event type."""
    event_type = registry.detector(spec.detector_id)["eventTypeName"]
    registry.detector_version(spec.detector_id, spec.draft)  # NotFound early
    registry.detector_version(spec.detector_id, spec.base)
    stored = events.events(event_type, spec.start - spec.warmup, spec.end)
    return replay(registry, stored, spec, progress)


JobStatus = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    id: str
    spec: BacktestSpec
    user: str
    created: float = field(default_factory=time.time)
    status: JobStatus = "queued"
    processed: int = 0
    result: BacktestResult | None = None
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class BacktestJobs:
    """Runs backtests one at a time on a background thread; keeps the last ``keep`` jobs."""

    def __init__(
        self, run: Callable[[BacktestSpec, Callable[[int], None]], BacktestResult], keep: int = 20
    ) -> None:
        self._run = run
        self._keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()

    def submit(self, spec: BacktestSpec, user: str) -> Job:
        job = Job(secrets.token_urlsafe(9), spec, user)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                oldest = next(iter(self._jobs))
                if not self._jobs[oldest].finished:
                    break
                del self._jobs[oldest]
        threading.Thread(target=self._work, args=(job,), name="backtest", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _work(self, job: Job) -> None:
        with self._one_at_a_time:
            job.status = "running"

            def progress(n: int) -> None:
                job.processed = n

            try:
                job.result = self._run(job.spec, progress)
                job.processed = job.result.events + job.result.warmup_events
                job.status = "done"
            except Exception as exc:
                log.exception("backtest %s failed", job.id)
                job.error = str(exc) or type(exc).__name__
                job.status = "failed"
