"""The registry of AFD resources: event types, variables, models, rules, detectors, lists."""

from __future__ import annotations

from fraudstream.detector.registry.registry import Registry, score_variable
from fraudstream.detector.registry.store import DocumentStore, SQLiteDocumentStore

__all__ = ["DocumentStore", "Registry", "SQLiteDocumentStore", "score_variable"]
