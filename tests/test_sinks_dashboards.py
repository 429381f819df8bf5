"""The OpenSearch Dashboards saved objects (docs/opensearch) against the saved-objects format and
against the index mapping the sink installs.

Checked: each line is one JSON object with ``type``, ``id``, ``attributes``, ``references``;
ids are unique; every reference resolves to an object of the file with the right type; the
JSON-in-strings (``visState``, ``searchSourceJSON``, ``panelsJSON``, ``optionsJSON``) parses;
each visualization's ``indexRefName`` and each dashboard panel's ``panelRefName`` name one of
its references; every field an aggregation uses exists in ``DECISION_MAPPING`` with a type
that aggregation accepts; the reference dashboard's panels are all there. Not checked (no
OpenSearch Dashboards runs here): that a live instance renders them; see the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fraudstream.sinks.opensearch import DECISION_MAPPING

SAVED_OBJECTS = (
    Path(__file__).parent.parent / "docs" / "opensearch" / "fraudstream-dashboards.ndjson"
)
#: Aggregation type -> mapping types it can run on.
AGG_FIELD_TYPES = {
    "sum": {"double", "long", "integer", "float"},
    "avg": {"double", "long", "integer", "float"},
    "percentiles": {"double", "long", "integer", "float"},
    "terms": {"keyword", "boolean", "long", "integer"},
    "geohash_grid": {"geo_point"},
    "date_histogram": {"date"},
}


def field_type(path: str) -> str | None:
    node: dict[str, Any] = {"properties": DECISION_MAPPING["properties"]}
    for part in path.split("."):
        props = node.get("properties")
        if not isinstance(props, dict) or part not in props:
            return None
        node = props[part]
    kind = node.get("type")
    return str(kind) if kind else None


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    lines = SAVED_OBJECTS.read_text().splitlines()
    assert lines, "empty saved objects file"
    parsed = [orjson.loads(line) for line in lines]
    assert all(isinstance(o, dict) for o in parsed)
    return parsed


def test_every_line_is_a_saved_object_whose_references_resolve(
    objects: list[dict[str, Any]],
) -> None:
    by_id = {}
    for obj in objects:
        assert {"type", "id", "attributes", "references"} <= set(obj)
        assert obj["type"] in {"index-pattern", "visualization", "dashboard"}
        assert isinstance(obj["attributes"], dict)
        assert obj["attributes"]["title"]
        assert (obj["type"], obj["id"]) not in by_id
        by_id[(obj["type"], obj["id"])] = obj
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names))
        for ref in obj["references"]:
            assert set(ref) == {"name", "type", "id"}
            assert (ref["type"], ref["id"]) in by_id or any(
                (o["type"], o["id"]) == (ref["type"], ref["id"]) for o in objects
            ), f"{obj['id']}: unresolved reference {ref}"
    (pattern,) = [o for o in objects if o["type"] == "index-pattern"]
    assert pattern["attributes"]["title"] == "processed_transactions*"
    assert field_type(pattern["attributes"]["timeFieldName"]) == "date"


def test_visualizations_parse_and_aggregate_fields_the_mapping_supports(
    objects: list[dict[str, Any]],
) -> None:
    visualizations = [o for o in objects if o["type"] == "visualization"]
    kinds = set()
    for vis in visualizations:
        attrs = vis["attributes"]
        state = orjson.loads(attrs["visState"])
        assert state["title"] == attrs["title"]
        assert isinstance(state["params"], dict)
        kinds.add(state["type"])
        source = orjson.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["indexRefName"] in {r["name"] for r in vis["references"]}
        assert source["query"]["language"] == "kuery"
        assert orjson.loads(attrs["uiStateJSON"]) == {}
        ids = [agg["id"] for agg in state["aggs"]]
        assert len(ids) == len(set(ids))
        assert any(agg["schema"] == "metric" for agg in state["aggs"])
        for agg in state["aggs"]:
            field = agg["params"].get("field")
            if agg["type"] == "count":
                assert field is None
                continue
            assert field is not None, f"{vis['id']}: {agg['type']} without a field"
            kind = field_type(field)
            assert kind in AGG_FIELD_TYPES[agg["type"]], (
                f"{vis['id']}: {agg['type']} on {field} ({kind})"
            )
        query = source["query"]["query"]
        if query:
            assert "fd.outcome" in query
            assert field_type("fd.outcome") == "keyword"
    assert kinds == {"metric", "pie", "histogram", "tile_map", "line"}
    titles = {v["attributes"]["title"] for v in visualizations}
    for wanted in (
        "Transactions",
        "Revenue",
        "Blocked revenue",
        "Fraud count",
        "Outcomes",
        "Fraud by currency",
        "Transactions map",
        "Latency over time",
    ):
        assert f"[fraudstream] {wanted}" in titles


def test_the_dashboard_places_every_visualization(objects: list[dict[str, Any]]) -> None:
    (dashboard,) = [o for o in objects if o["type"] == "dashboard"]
    attrs = dashboard["attributes"]
    panels = orjson.loads(attrs["panelsJSON"])
    assert isinstance(orjson.loads(attrs["optionsJSON"]), dict)
    orjson.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    placed = set()
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        ref = refs[panel["panelRefName"]]
        assert ref["type"] == "visualization"
        placed.add(ref["id"])
        grid = panel["gridData"]
        assert grid["x"] + grid["w"] <= 48
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, "panels overlap"
                cells.add((x, y))
    assert placed == {o["id"] for o in objects if o["type"] == "visualization"}
