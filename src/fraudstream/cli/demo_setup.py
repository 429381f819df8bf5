"""First-run set-up of the demo: a simulated history, the default detector trained on it.

Kept apart from the process orchestration so tests and benchmarks can build the same trained
installation the demo runs on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from fraudstream.detector import Engine
from fraudstream.detector.defaults import DETECTOR_ID, install_default_detector
from fraudstream.detector.trainer import Progress
from fraudstream.errors import FraudstreamError
from fraudstream.simulate import generate_history, write_afd_csv

SETUP_FILE = "demo.json"


@dataclass(frozen=True)
class DemoSetup:
    """What the live producer needs to continue the same customers the model learned from."""

    seed: int = 7
    customers: int = 2_000
    history_events: int = 200_000
    history_days: float = 120.0
    history_end: float = 0.0
    review_threshold: int = 0
    block_threshold: int = 0

    def save(self, home: Path) -> None:
        (home / SETUP_FILE).write_bytes(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))

    @classmethod
    def load(cls, home: Path) -> DemoSetup | None:
        path = home / SETUP_FILE
        if not path.is_file():
            return None
        return cls(**orjson.loads(path.read_bytes()))


def prepare(
    home: Path,
    setup: DemoSetup = DemoSetup(),
    *,
    progress: Progress | None = None,
) -> tuple[DemoSetup, dict[str, Any] | None]:
    """Train the default detector on a fresh simulated history unless one is already ACTIVE.

    Returns the set-up and, when it trained now, the training summary.
    """
    home.mkdir(parents=True, exist_ok=True)
    existing = DemoSetup.load(home)
    engine = Engine.open(home)
    try:
        if existing is not None and _has_active(engine):
            try:
                engine.compiled(DETECTOR_ID)
            except FraudstreamError as exc:
                raise FraudstreamError(
                    f"the demo in {home} cannot score with its detector ({exc}); it was set up "
                    f"by another fraudstream version: delete {home} (`make clean`) for a fresh "
                    "demo"
                ) from None
            return existing, None
        end = datetime.now(UTC).replace(microsecond=0)
        history = generate_history(
            setup.history_events,
            n_customers=setup.customers,
            seed=setup.seed,
            end=end,
            days=setup.history_days,
        )
        csv = home / "history.csv"
        write_afd_csv(history, csv)
        summary = install_default_detector(engine, csv, progress=progress, warm=True)
        engine.flush()
        done = DemoSetup(
            seed=setup.seed,
            customers=setup.customers,
            history_events=setup.history_events,
            history_days=setup.history_days,
            history_end=end.timestamp(),
            review_threshold=summary["review_threshold"],
            block_threshold=summary["block_threshold"],
        )
        done.save(home)
        return done, summary
    finally:
        engine.close()


def _has_active(engine: Engine) -> bool:
    try:
        return engine.registry.active_version(DETECTOR_ID) is not None
    except LookupError:
        return False
