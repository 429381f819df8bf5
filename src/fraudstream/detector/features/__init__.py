"""Entity aggregates for fraud detection: one extractor used online and for training.

Like Amazon Fraud Detector's Transaction Fraud Insights, features describe each event against
the history of its entity (account age, time since last activity, activity counts, spending
patterns, novelty of IP / e-mail / device / card) and of values shared between entities (how
many accounts an IP or e-mail serves, card testing across a BIN).

Public API::

    schema = FeatureSchema.from_variables(afd_variables)      # or TRANSACTION_SCHEMA
    vocabulary = fit_vocabulary(training_events, schema)
    extractor = FeatureExtractor(schema, vocabulary)
    matrix = build_training_matrix(training_events, extractor)  # offline, time-ordered
    with MemoryStateStore(path) as store:                      # or RedisStateStore(url)
        vector, duplicate = extractor.process(event, store)     # online, one event
"""

from fraudstream.detector.features.extractor import FEATURE_VERSION, FeatureExtractor, Vector
from fraudstream.detector.features.schema import (
    ROLES,
    TRANSACTION_SCHEMA,
    VARIABLE_TYPES,
    FeatureSchema,
)
from fraudstream.detector.features.state import EntityState, StateFormatError
from fraudstream.detector.features.stores import (
    MemoryStateStore,
    RedisStateStore,
    StateConflict,
    StateStore,
)
from fraudstream.detector.features.training import build_training_matrix
from fraudstream.detector.features.vocabulary import Vocabulary, fit_vocabulary

__all__ = [
    "FEATURE_VERSION",
    "ROLES",
    "TRANSACTION_SCHEMA",
    "VARIABLE_TYPES",
    "EntityState",
    "FeatureExtractor",
    "FeatureSchema",
    "MemoryStateStore",
    "RedisStateStore",
    "StateConflict",
    "StateFormatError",
    "StateStore",
    "Vector",
    "Vocabulary",
    "build_training_matrix",
    "fit_vocabulary",
]
