"""Batch import (events into the event store) and batch prediction (score a CSV), in the
background as AFD runs them. Files are local (paths or ``file://`` URIs inside the data
folders) in AFD's CSV layout: EVENT_ID, EVENT_TIMESTAMP, ENTITY_ID, ENTITY_TYPE, [EVENT_LABEL,
LABEL_TIMESTAMP,] then one column per variable.
"""

from __future__ import annotations

import csv
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fraudstream.api.errors import validation
from fraudstream.api.operations.common import Body, Handler, paginate
from fraudstream.api.service import Service
from fraudstream.detector.registry.names import arn, now_iso
from fraudstream.errors import Conflict, FraudstreamError, InvalidInput, NotFound

log = logging.getLogger(__name__)

IMPORT = "batch_import"
PREDICTION = "batch_prediction"
META = ("EVENT_ID", "EVENT_TIMESTAMP", "ENTITY_ID", "ENTITY_TYPE", "EVENT_LABEL", "LABEL_TIMESTAMP")
REQUIRED = META[:4]
#: Progress is written every so many records (each write is a registry change).
PROGRESS_EVERY = 2000

Row = list[str]


def _output_file(svc: Service, location: str, job_id: str, suffix: str) -> Path:
    """``outputPath`` names a ``.csv`` file, or a folder that gets ``<jobId>-<suffix>.csv``."""
    target = (
        location if location.endswith(".csv") else location.rstrip("/") + f"/{job_id}-{suffix}.csv"
    )
    path = svc.data_path(target, "outputPath", must_exist=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _csv_rows(path: Path) -> Iterator[tuple[list[str], Iterator[Row]]]:
    """The normalised header (meta columns upper case, variables lower case) and the rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidInput(f"{path.name} is empty") from None
        except (csv.Error, UnicodeDecodeError):
            raise InvalidInput(f"{path.name} is not a readable CSV file") from None
        columns = [
            c.strip().upper() if c.strip().upper() in META else c.strip().lower() for c in header
        ]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise InvalidInput(f"{path.name}: missing column(s) {', '.join(missing)}")
        yield columns, _guarded(reader, path.name)


def _guarded(reader: Iterator[Row], name: str) -> Iterator[Row]:
    try:
        yield from reader
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"{name}: unreadable CSV after line {getattr(reader, 'line_num', '?')}: "
            f"{type(exc).__name__}"
        ) from None


class _Job:
    """One job document and its writes (start, progress, end)."""

    def __init__(self, svc: Service, kind: str, doc: Body) -> None:
        self.svc, self.kind, self.doc = svc, kind, doc

    def save(self, **changes: Any) -> None:
        self.doc.update(changes)
        if self.kind == PREDICTION:
            self.doc["lastHeartbeatTime"] = now_iso()
        self.svc.registry.store.put(self.kind, self.doc["jobId"], self.doc)

    def run(self, work: Callable[[_Job], None]) -> None:
        try:
            self.save(status="IN_PROGRESS")
            work(self)
            self.save(status="COMPLETE", completionTime=now_iso())
        except FraudstreamError as exc:
            self.save(status="FAILED", failureReason=str(exc), completionTime=now_iso())
        except Exception:
            log.exception("%s job %s crashed", self.kind, self.doc["jobId"])
            self.save(status="FAILED", failureReason="internal error", completionTime=now_iso())


def _start(svc: Service, kind: str, body: Body, work: Callable[[_Job], None]) -> None:
    job_id = body["jobId"]
    if svc.registry.store.get(kind, job_id) is not None:
        raise Conflict(f"a job with id {job_id!r} already exists")
    # The work starts at once, so an accepted job reads IN_PROGRESS until it ends: AWS's
    # sample notebooks poll ``while status == 'IN_PROGRESS'`` and would stop at any other
    # value (IN_PROGRESS_INITIALIZING included) before the job was done.
    doc = {k: v for k, v in body.items() if k not in ("tags",) and v is not None} | {
        "status": "IN_PROGRESS",
        "startTime": now_iso(),
        "arn": arn(kind.replace("_", "-"), job_id, svc.registry.region),
        "processedRecordsCount": 0,
        "totalRecordsCount": 0,
    }
    job = _Job(svc, kind, doc)
    job.save()
    threading.Thread(target=job.run, args=(work,), name=f"{kind}-{job_id}", daemon=True).start()


def _event(
    svc: Service, event_type: str, columns: list[str], row: Row
) -> tuple[Any, dict[str, str]]:
    if len(row) != len(columns):
        raise InvalidInput(f"row has {len(row)} fields, the header {len(columns)}")
    values = dict(zip(columns, row, strict=True))
    for column in REQUIRED:
        if not values[column].strip():
            raise InvalidInput(f"{column} is empty")
    variables = {k: v for k, v in values.items() if k not in META and v != ""}
    event = svc.make_event(
        event_type,
        values["EVENT_ID"],
        [{"entityType": values["ENTITY_TYPE"], "entityId": values["ENTITY_ID"]}],
        values["EVENT_TIMESTAMP"],
        variables,
    )
    return event, values


def _check_columns(svc: Service, event_type: str, columns: list[str]) -> None:
    known = svc.event_type(event_type).data_types
    unknown = [c for c in columns if c not in META and c not in known]
    if unknown:
        raise InvalidInput(
            f"column(s) {', '.join(unknown)} are not variables of event type {event_type!r}"
        )


# -- batch import -------------------------------------------------------------------------------


def create_batch_import_job(svc: Service, body: Body) -> Body:
    event_type = body["eventTypeName"]
    if not svc.event_type(event_type).ingestion:
        raise validation(f"event ingestion is DISABLED for event type {event_type!r}")
    source = svc.data_path(body["inputPath"], "inputPath")
    failures = _output_file(svc, body["outputPath"], body["jobId"], "failed-records")

    def work(job: _Job) -> None:
        with (
            _csv_rows(source) as (columns, rows),
            failures.open("w", newline="", encoding="utf-8") as out,
        ):
            _check_columns(svc, event_type, columns)
            done = failed = total = 0
            writer = csv.writer(out)
            writer.writerow([*columns, "ERROR"])
            for row in rows:
                total += 1
                try:
                    event, values = _event(svc, event_type, columns, row)
                    label = values.get("EVENT_LABEL") or None
                    svc.send_event(event, label, values.get("LABEL_TIMESTAMP") or None)
                    done += 1
                except FraudstreamError as exc:
                    failed += 1
                    writer.writerow([*row, str(exc)])
                if total % PROGRESS_EVERY == 0:
                    job.save(processedRecordsCount=done, failedRecordsCount=failed)
        svc.engine.flush()
        job.save(processedRecordsCount=done, failedRecordsCount=failed, totalRecordsCount=total)

    _start(svc, IMPORT, body, work)
    return {}


def _jobs(svc: Service, kind: str, body: Body, result: str) -> Body:
    job_id = body.get("jobId")
    if job_id is not None:
        doc = svc.registry.store.get(kind, job_id)
        if doc is None:
            raise NotFound(f"job {job_id!r} not found")
        docs = [doc]
    else:
        docs = svc.registry.store.list(kind)
    return paginate(docs, body, result, key=lambda d: str(d["jobId"]), page_size=50)


def _delete(svc: Service, kind: str, body: Body) -> Body:
    doc = svc.registry.store.get(kind, body["jobId"])
    if doc is not None and doc["status"].startswith("IN_PROGRESS"):
        raise Conflict(f"job {body['jobId']!r} is still running")
    svc.registry.store.delete(kind, body["jobId"])
    return {}


def get_batch_import_jobs(svc: Service, body: Body) -> Body:
    return _jobs(svc, IMPORT, body, "batchImports")


def delete_batch_import_job(svc: Service, body: Body) -> Body:
    return _delete(svc, IMPORT, body)


# -- batch prediction ---------------------------------------------------------------------------


def create_batch_prediction_job(svc: Service, body: Body) -> Body:
    event_type, detector_id = body["eventTypeName"], body["detectorName"]
    compiled = svc.engine.compiled(detector_id, body.get("detectorVersion"))
    if compiled.event_type != event_type:
        raise validation(
            f"detector {detector_id!r} scores {compiled.event_type!r} events, not {event_type!r}"
        )
    version = compiled.version_id
    scores = [m.score_name for m in compiled.models]
    source = svc.data_path(body["inputPath"], "inputPath")
    target = _output_file(svc, body["outputPath"], body["jobId"], "predictions")

    def work(job: _Job) -> None:
        with (
            _csv_rows(source) as (columns, rows),
            target.open("w", newline="", encoding="utf-8") as out,
        ):
            _check_columns(svc, event_type, columns)
            done = total = 0
            writer = csv.writer(out)
            writer.writerow(
                [
                    *REQUIRED,
                    "DETECTOR_ID",
                    "DETECTOR_VERSION_ID",
                    *scores,
                    "OUTCOMES",
                    "MATCHED_RULES",
                    "ERROR",
                ]
            )
            for row in rows:
                total += 1
                ids = dict(zip(columns, row, strict=False))
                head = [ids.get(c, "") for c in REQUIRED] + [detector_id, version]
                try:
                    event, _ = _event(svc, event_type, columns, row)
                    p = svc.predict(event, detector_id, version, store=False)
                    writer.writerow(
                        head
                        + [f"{p.scores.get(s, '')}" for s in scores]
                        + [";".join(p.outcomes), ";".join(r.rule_id for r in p.matched), ""]
                    )
                    done += 1
                except FraudstreamError as exc:
                    writer.writerow(head + [""] * len(scores) + ["", "", str(exc)])
                if total % PROGRESS_EVERY == 0:
                    job.save(processedRecordsCount=done)
        job.save(processedRecordsCount=done, totalRecordsCount=total)

    _start(svc, PREDICTION, {**body, "detectorVersion": version}, work)
    return {}


def get_batch_prediction_jobs(svc: Service, body: Body) -> Body:
    return _jobs(svc, PREDICTION, body, "batchPredictions")


def delete_batch_prediction_job(svc: Service, body: Body) -> Body:
    return _delete(svc, PREDICTION, body)


HANDLERS: dict[str, Handler] = {
    "CreateBatchImportJob": create_batch_import_job,
    "GetBatchImportJobs": get_batch_import_jobs,
    "DeleteBatchImportJob": delete_batch_import_job,
    "CreateBatchPredictionJob": create_batch_prediction_job,
    "GetBatchPredictionJobs": get_batch_prediction_jobs,
    "DeleteBatchPredictionJob": delete_batch_prediction_job,
}
