"""AFD's resources and their rules of life, kept as AFD-shaped documents.

Documents use AFD's own field names (camelCase) so the AFD-compatible API can return them as
they are, and a boto3 user sees the shapes they know.

Each resource family lives in its own module, as a layer over the one it depends on:
``core`` (store, ARNs) <- ``metadata`` (entity types, labels, outcomes, variables, event types)
<- ``models`` <- ``detectors`` (and rules) <- ``versions`` (detector versions); ``lists`` stands
alone. A layer calls the methods of the layers below it; a check that looks the other way ("is
this still in use?") reads the store directly. :class:`Registry` only puts them together.
"""

from __future__ import annotations

from fraudstream.detector.registry.lists import LIST_UPDATE_MODES, MAX_LIST_ELEMENTS, ListResources
from fraudstream.detector.registry.metadata import DATA_SOURCES, DATA_TYPES
from fraudstream.detector.registry.models import MODEL_TYPES, score_variable
from fraudstream.detector.registry.versions import RULE_MODES, DetectorVersionResources

__all__ = [
    "DATA_SOURCES",
    "DATA_TYPES",
    "LIST_UPDATE_MODES",
    "MAX_LIST_ELEMENTS",
    "MODEL_TYPES",
    "RULE_MODES",
    "Registry",
    "score_variable",
]


class Registry(DetectorVersionResources, ListResources):
    """All AFD resources of one installation, over a :class:`DocumentStore`."""
