"""The embedded transport: Kafka's semantics in one SQLite file, no server.

One concept a module, the transport at the top:

* :mod:`.transport` — :class:`EmbeddedTransport`, opening the file and handing out clients;
* :mod:`.database` / :mod:`.schema` — the connection (locking, error mapping) and the tables;
* :mod:`.storage` — topics and messages: the topic catalog, appending rows, reading them;
* :mod:`.headers` — the header BLOB encoding;
* :mod:`.assignor` / :mod:`.groups` — which member owns which partition, membership,
  heartbeats and committed offsets;
* :mod:`.producer`, :mod:`.consumer`, :mod:`.transactions` — the clients of the contract in
  :mod:`fraudstream.stream.transport.base`.
"""

from __future__ import annotations

from fraudstream.stream.transport.embedded.assignor import range_assignment
from fraudstream.stream.transport.embedded.consumer import EmbeddedConsumer
from fraudstream.stream.transport.embedded.producer import EmbeddedProducer
from fraudstream.stream.transport.embedded.schema import SCHEMA_VERSION
from fraudstream.stream.transport.embedded.transactions import EmbeddedTransactionalProducer
from fraudstream.stream.transport.embedded.transport import EmbeddedTransport

__all__ = [
    "SCHEMA_VERSION",
    "EmbeddedConsumer",
    "EmbeddedProducer",
    "EmbeddedTransactionalProducer",
    "EmbeddedTransport",
    "range_assignment",
]
