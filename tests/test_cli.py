"""The engine's command line as a user runs it: simulate -> train -> evaluate -> predict, rules.

Every call is the real ``fraudstream`` program in a child process; bad input must exit 2 with
one line naming what was wrong, and never a traceback.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from fraudstream.simulate import generate_history

pytestmark = pytest.mark.slow


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FRAUDSTREAM_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An installation trained by `fraudstream train` on `fraudstream simulate`'s CSV."""
    root = tmp_path_factory.mktemp("cli")
    home, data = root / "home", root / "history.csv"
    out = ok(run(home, "simulate", str(data), "--events", "30000", "--seed", "5"))
    assert "30,000" in out
    out = " ".join(ok(run(home, "train", str(data))).split())
    assert "-> detector fraudstream_detector version 1 ACTIVE" in out
    return home, data


def test_simulate_writes_afd_training_csv_and_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for path in (first, second):
        ok(run(tmp_path, "simulate", str(path), "--events", "2000", "--seed", "9"))
    assert first.read_bytes() == second.read_bytes()
    with first.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2000
    assert list(rows[0])[:6] == [
        "EVENT_ID",
        "EVENT_TIMESTAMP",
        "ENTITY_ID",
        "ENTITY_TYPE",
        "EVENT_LABEL",
        "LABEL_TIMESTAMP",
    ]
    assert {r["EVENT_LABEL"] for r in rows} == {"fraud", "legit"}
    refused(run(tmp_path, "simulate", str(first), "--events", "0"), "n_events")


def test_train_prints_metrics_and_activates_a_version(trained: tuple[Path, Path]) -> None:
    home, _ = trained
    out = ok(run(home, "detector", "versions"))
    assert "ACTIVE" in out
    assert "fraudstream_model:1.0" in out


def test_evaluate_reports_quality_on_a_labelled_csv(trained: tuple[Path, Path]) -> None:
    home, data = trained
    out = ok(run(home, "evaluate", str(data)))
    assert "auc" in out.lower()
    assert "approve" in out


def test_predict_scores_events_and_names_malformed_lines(trained: tuple[Path, Path]) -> None:
    home, _ = trained
    record = generate_history(3, seed=77).records()[0]
    out = ok(run(home, "predict", "--event", orjson.dumps(record).decode()))
    decision = orjson.loads(out.splitlines()[0])
    assert decision["event_id"] == record["event_id"]
    assert decision["outcome"] in {"approve", "review", "block"}
    assert decision["reasons"]  # --event explains every decision

    bad = {**record, "event_id": "bad-1", "transaction_amt": "lots"}
    lines = "\n".join(orjson.dumps(r).decode() for r in (record, bad)) + "\n"
    result = run(home, "predict", "--file", "-", stdin=lines)
    err = refused(result, "line 2", "transaction_amt", "1 of 2 events were malformed")
    assert len(result.stdout.splitlines()) == 1, err  # the good line was still scored


def test_rules_check_explains_errors_with_their_position(trained: tuple[Path, Path]) -> None:
    home, _ = trained
    out = ok(run(home, "rules", "check", '$transaction_amt * 2 + 10 < 100 and $x in ["a"]'))
    assert "ok: variables transaction_amt, x" in out
    refused(run(home, "rules", "check", "$transaction_amt >"), "column")
    refused(
        run(home, "rules", "check", "$no_such_variable > 1", "--detector", "fraudstream_detector"),
        "no_such_variable",
    )


def test_training_data_without_a_required_column_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "full.csv"
    ok(run(tmp_path, "simulate", str(source), "--events", "500"))
    with source.open() as handle:
        rows = list(csv.DictReader(handle))
    broken = tmp_path / "broken.csv"
    with broken.open("w", newline="") as handle:
        names = [n for n in rows[0] if n != "EVENT_TIMESTAMP"]
        writer = csv.DictWriter(handle, names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    refused(run(tmp_path / "home", "train", str(broken)), "EVENT_TIMESTAMP")


def test_a_demo_home_whose_detector_cannot_score_says_how_to_start_afresh(
    detector_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade that changed the feature layout, an old demo's model cannot load: the
    demo must say so (and how to start a fresh one) instead of dead-lettering every event."""
    from fraudstream.cli.demo_setup import DemoSetup, prepare
    from fraudstream.detector import Engine
    from fraudstream.errors import FraudstreamError, InvalidInput

    DemoSetup(history_end=1_700_000_000.0).save(detector_home)

    def old_model(self: Engine, detector_id: str, version_id: str | None = None) -> None:
        raise InvalidInput("feature config version 1 is not 2: retrain it")

    monkeypatch.setattr(Engine, "compiled", old_model)
    with pytest.raises(FraudstreamError, match="make clean"):
        prepare(detector_home)
