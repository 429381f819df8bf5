"""Every decision into OpenSearch, as the reference system's Kafka Connect sink did.

Each decision record is indexed as it is on the topic, plus ``location`` (a ``geo_point`` from
``billing_latitude``/``billing_longitude``), ``@timestamp`` (= ``event_time``) and ``kafka``
(topic, partition, offset), with ``_id`` = ``topic+partition+offset`` — Kafka Connect's
document id — so a replay overwrites the same document instead of adding one. Ground truth
goes to ``truth_index`` with ``_id`` = ``event_id``.

An index template (``PUT _index_template/...``) maps every field so dashboards can aggregate:
text fields are ``keyword``, amounts and latencies ``double``, times ``date``, the billing
position ``geo_point``. With ``data_stream=True`` the template declares a data stream instead
of a plain index; documents are then written with ``create`` and a replayed one answers 409,
which counts as already written.

Failures: a connection error or an HTTP 429/5xx (for the request or for any item) raises
:class:`~fraudstream.sinks.errors.SinkUnavailable` — the sink consumer retries the whole batch,
which is harmless because ids are fixed. Any other item error (e.g. a mapping conflict) can
never succeed; it is logged (id and error type only: the reason may quote field values) and
counted as rejected.

This is a write-only sink: querying is OpenSearch Dashboards' job (``docs/opensearch/``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from fraudstream.sinks.base import DecisionSink, WriteResult
from fraudstream.sinks.errors import SinkError, SinkUnavailable
from fraudstream.sinks.records import Batch, DecisionRow, TruthRow

__all__ = [
    "DECISION_TEMPLATE",
    "TRUTH_TEMPLATE",
    "OpenSearchSink",
    "bulk_body",
    "decision_document",
    "index_template",
]

log = logging.getLogger(__name__)

DECISION_TEMPLATE: Final = "fraudstream-decisions"
TRUTH_TEMPLATE: Final = "fraudstream-truth"
_RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})

_KEYWORD: Final = {"type": "keyword", "ignore_above": 1024}
_DOUBLE: Final = {"type": "double"}
_DATE: Final = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}

#: The decision mapping: the reference record's 19 fields, ``fd``, and our additions.
DECISION_MAPPING: Final[dict[str, Any]] = {
    "dynamic_templates": [
        {"scores_as_doubles": {"path_match": "fd.scores.*", "mapping": _DOUBLE}},
        {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _KEYWORD}},
    ],
    "properties": {
        "@timestamp": _DATE,
        "event_time": _DATE,
        "event_id": _KEYWORD,
        "entity_id": _KEYWORD,
        "transaction_amt": _DOUBLE,
        "transaction_currency": _KEYWORD,
        "product_category": _KEYWORD,
        "email_address": _KEYWORD,
        "ip_address": _KEYWORD,
        "card_bin": _KEYWORD,
        "phone": _KEYWORD,
        "customer_name": _KEYWORD,
        "customer_job": _KEYWORD,
        "user_agent": _KEYWORD,
        "billing_street": _KEYWORD,
        "billing_city": _KEYWORD,
        "billing_state": _KEYWORD,
        "billing_zip": _KEYWORD,
        "billing_latitude": _DOUBLE,
        "billing_longitude": _DOUBLE,
        "location": {"type": "geo_point"},
        "fd": {
            "properties": {
                "outcome": _KEYWORD,
                "outcomes": _KEYWORD,
                "ttdf": _DOUBLE,
                "proc_time": _DOUBLE,
                "frauddetector_time": _DOUBLE,
                "queue_time": _DOUBLE,
                "decision_time": _DATE,
                "scores": {"type": "object", "dynamic": True},
                "rules": {
                    "properties": {
                        "rule_id": _KEYWORD,
                        "rule_version": _KEYWORD,
                        "outcomes": _KEYWORD,
                    }
                },
                "reasons": {
                    "properties": {"feature": _KEYWORD, "value": _DOUBLE, "impact": _DOUBLE}
                },
                "detector_id": _KEYWORD,
                "detector_version_id": _KEYWORD,
                "model_versions": _KEYWORD,
                "duplicate": {"type": "boolean"},
            }
        },
        "kafka": {
            "properties": {
                "topic": _KEYWORD,
                "partition": {"type": "integer"},
                "offset": {"type": "long"},
            }
        },
    },
}

TRUTH_MAPPING: Final[dict[str, Any]] = {
    "dynamic_templates": [
        {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _KEYWORD}}
    ],
    "properties": {
        "@timestamp": _DATE,
        "event_time": _DATE,
        "event_id": _KEYWORD,
        "entity_id": _KEYWORD,
        "is_fraud": {"type": "boolean"},
        "fraud_kind": _KEYWORD,
    },
}


def index_template(
    pattern: str, mapping: Mapping[str, Any], *, data_stream: bool = False
) -> dict[str, Any]:
    """A composable index template for indices (or a data stream) matching ``pattern``."""
    body: dict[str, Any] = {
        "index_patterns": [pattern],
        "priority": 200,
        "template": {"settings": {"index": {"refresh_interval": "1s"}}, "mappings": mapping},
        "_meta": {"managed_by": "fraudstream"},
    }
    if data_stream:
        body["data_stream"] = {"timestamp_field": {"name": "@timestamp"}}
    return body


def decision_document(row: DecisionRow) -> dict[str, Any]:
    """The document of a decision: its record plus ``@timestamp``, ``location``, ``kafka``."""
    doc: dict[str, Any] = orjson.loads(row.record)
    doc["@timestamp"] = row.event_ms
    if row.latitude is not None and row.longitude is not None:
        doc["location"] = {"lat": row.latitude, "lon": row.longitude}
    doc["kafka"] = {"topic": row.topic, "partition": row.partition, "offset": row.offset}
    return doc


def truth_document(row: TruthRow) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": row.event_id,
        "entity_id": row.entity_id,
        "is_fraud": row.is_fraud,
        "fraud_kind": row.kind,
    }
    if row.event_ms is not None:
        doc["@timestamp"] = doc["event_time"] = row.event_ms
    return doc


def bulk_body(
    decisions: Sequence[DecisionRow],
    truths: Sequence[TruthRow],
    index: str,
    truth_index: str,
    *,
    data_stream: bool = False,
) -> bytes:
    """The ``_bulk`` NDJSON: an action line and a document line per row, newline-terminated."""
    op = "create" if data_stream else "index"
    lines: list[bytes] = []
    for row in decisions:
        lines.append(orjson.dumps({op: {"_index": index, "_id": row.doc_id}}))
        lines.append(orjson.dumps(decision_document(row)))
    for truth in truths:
        lines.append(orjson.dumps({op: {"_index": truth_index, "_id": truth.event_id}}))
        lines.append(orjson.dumps(truth_document(truth)))
    return b"\n".join(lines) + b"\n"


class OpenSearchSink(DecisionSink):
    """Bulk-indexes batches into OpenSearch (see the module docs)."""

    def __init__(
        self,
        client: OpenSearch,
        *,
        index: str = "processed_transactions",
        truth_index: str | None = None,
        data_stream: bool = False,
        create_template: bool = True,
        description: str = "opensearch",
    ) -> None:
        self.client = client
        self.index = index
        self.truth_index = truth_index or "simulator_truth"
        self.data_stream = data_stream
        self._description = description
        self._template_pending = create_template

    @classmethod
    def connect(
        cls,
        hosts: Sequence[str],
        *,
        http_auth: tuple[str, str] | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        timeout: float = 30.0,
        **options: Any,
    ) -> OpenSearchSink:
        """A sink with its own client for ``hosts`` (``http(s)://host:port``)."""
        client = OpenSearch(
            hosts=list(hosts),
            http_auth=http_auth,
            verify_certs=verify_certs,
            ca_certs=ca_certs,
            timeout=timeout,
            max_retries=0,  # the sink consumer retries, with backoff
        )
        return cls(client, description="opensearch " + ",".join(hosts), **options)

    def describe(self) -> str:
        return f"{self._description} index {self.index}"

    def close(self) -> None:
        self.client.close()

    def setup(self) -> None:
        """Create or update the index templates (idempotent)."""
        try:
            self.client.indices.put_index_template(
                name=DECISION_TEMPLATE,
                body=index_template(
                    f"{self.index}*", DECISION_MAPPING, data_stream=self.data_stream
                ),
            )
            self.client.indices.put_index_template(
                name=TRUTH_TEMPLATE,
                body=index_template(
                    f"{self.truth_index}*", TRUTH_MAPPING, data_stream=self.data_stream
                ),
            )
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise SinkUnavailable(f"{self.describe()}: {type(exc).__name__}") from exc
        except TransportError as exc:
            if _status(exc) in _RETRY_STATUS:
                raise SinkUnavailable(f"{self.describe()}: HTTP {exc.status_code}") from exc
            raise SinkError(
                f"{self.describe()}: index template refused: HTTP {exc.status_code} {exc.error}"
            ) from exc
        self._template_pending = False

    def write(self, batch: Batch) -> WriteResult:
        if not batch.decisions and not batch.truths:
            return WriteResult(rejected=len(batch.rejected))
        if self._template_pending:
            self.setup()
        body = bulk_body(
            batch.decisions,
            batch.truths,
            self.index,
            self.truth_index,
            data_stream=self.data_stream,
        )
        try:
            response = self.client.bulk(body=body)
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise SinkUnavailable(f"{self.describe()}: {type(exc).__name__}") from exc
        except TransportError as exc:
            if _status(exc) in _RETRY_STATUS:
                raise SinkUnavailable(f"{self.describe()}: HTTP {exc.status_code}") from exc
            raise SinkError(f"{self.describe()}: bulk refused: HTTP {exc.status_code}") from exc
        return self._result(response, batch)

    def _result(self, response: Mapping[str, Any], batch: Batch) -> WriteResult:
        items = response.get("items") or []
        if len(items) != len(batch.decisions) + len(batch.truths):
            raise SinkUnavailable(
                f"{self.describe()}: bulk answered {len(items)} items for"
                f" {len(batch.decisions) + len(batch.truths)}"
            )
        written = duplicates = rejected = retry = 0
        for position, item in enumerate(items):
            (op_result,) = item.values()
            status = int(op_result.get("status", 0))
            if 200 <= status < 300:
                if position >= len(batch.decisions):
                    continue  # truth documents are not decisions
                if op_result.get("result") == "created":
                    written += 1
                else:
                    duplicates += 1
            elif status == 409 and self.data_stream:
                duplicates += position < len(batch.decisions)
            elif status in _RETRY_STATUS:
                retry += 1
            else:
                rejected += 1
                error = op_result.get("error") or {}
                log.error(
                    "document %s refused by %s: HTTP %d %s",
                    op_result.get("_id"),
                    self.index,
                    status,
                    error.get("type", "?") if isinstance(error, Mapping) else "?",
                )
        if retry:
            raise SinkUnavailable(f"{self.describe()}: {retry} documents must be retried")
        return WriteResult(written, duplicates, rejected + len(batch.rejected))


def _status(exc: TransportError) -> int:
    code = exc.status_code
    return code if isinstance(code, int) else 503
