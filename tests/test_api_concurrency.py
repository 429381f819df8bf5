"""Version switches during a stream of predictions never mix two versions in one answer."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from test_api_support import (
    API_KEY,
    RunningServer,
    define_transaction_type,
    predict_udf,
    running_server,
    transaction_record,
    transactions,
)

DETECTOR = "flipper"
#: Each version matches ALL of its own rules for any amount, so an answer names exactly them.
VERSIONS = {
    "1": ["a_first", "a_second"],
    "2": ["b_first", "b_second", "b_third"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home: Path = tmp_path_factory.mktemp("flip")
    with running_server(home) as running:
        afd = running.client()
        define_transaction_type(afd)
        afd.put_detector(detectorId=DETECTOR, eventTypeName="transaction")
        for version, rule_ids in VERSIONS.items():
            refs = [
                afd.create_rule(
                    ruleId=rule_id,
                    detectorId=DETECTOR,
                    expression="$transaction_amt >= 0",
                    language="DETECTORPL",
                    outcomes=["approve" if version == "1" else "review"],
                )["rule"]
                for rule_id in rule_ids
            ]
            created = afd.create_detector_version(
                detectorId=DETECTOR, rules=refs, ruleExecutionMode="ALL_MATCHED"
            )
            assert created["detectorVersionId"] == version
        afd.update_detector_version_status(
            detectorId=DETECTOR, detectorVersionId="1", status="ACTIVE"
        )
        yield running


def test_flipping_versions_under_load_never_mixes_them(server: RunningServer) -> None:
    records = [transaction_record(r) for r in transactions(600, seed=77)]
    stop = threading.Event()
    flips = Counter[str]()

    def flipper() -> None:
        client = server.client()
        version = "1"
        while not stop.is_set():
            version = "2" if version == "1" else "1"
            client.update_detector_version_status(
                detectorId=DETECTOR, detectorVersionId=version, status="ACTIVE"
            )
            flips[version] += 1
            stop.wait(0.005)

    def afd_worker(chunk: list[dict[str, object]]) -> list[tuple[str, ...]]:
        client = server.client()
        seen = []
        for record in chunk:
            answer = predict_udf(client, DETECTOR, record)
            seen.append(tuple(r["ruleId"] for r in answer["ruleResults"]))
        return seen

    def rest_worker(chunk: list[dict[str, object]]) -> list[tuple[str, ...]]:
        seen = []
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}) as http:
            for record in chunk:
                answer = http.post("/v1/predictions", params={"detector_id": DETECTOR}, json=record)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                rule_ids = tuple(r["rule_id"] for r in body["rules"])
                # The version the answer names is the version whose rules it reports.
                assert list(rule_ids) == VERSIONS[body["detector_version_id"]]
                seen.append(rule_ids)
        return seen

    thread = threading.Thread(target=flipper)
    thread.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            chunks = [records[i::4] for i in range(4)]
            futures = [pool.submit(afd_worker, c) for c in chunks[:3]]
            futures.append(pool.submit(rest_worker, chunks[3]))
            answers = [a for f in futures for a in f.result()]
    finally:
        stop.set()
        thread.join()

    allowed = {tuple(ids) for ids in VERSIONS.values()}
    mixed = [a for a in answers if a not in allowed]
    assert not mixed, f"{len(mixed)} answers mixed versions, e.g. {mixed[:3]}"
    counts = Counter(answers)
    assert len(answers) == len(records)
    assert len(counts) == 2, f"both versions should have answered: {counts}, flips {flips}"
    assert flips["1"] + flips["2"] >= 10
    final = server.client().describe_detector(detectorId=DETECTOR)["detectorVersionSummaries"]
    assert sorted(s["status"] for s in final) == ["ACTIVE", "INACTIVE"]
