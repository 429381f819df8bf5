"""The AFD operations fraudstream implements: operation name -> handler(service, body) -> dict.

Handlers receive a body already validated against the operation's input shape, so they only
check what the model cannot express (cross-field rules, existence, state). Any operation of
the service model that is not here is refused with a ValidationException naming it: a client
must never mistake an unsupported call for a success.
"""

from __future__ import annotations

from fraudstream.api.errors import validation
from fraudstream.api.operations import batch, detectors, events, lists, metadata, models
from fraudstream.api.operations.common import Body, Handler
from fraudstream.api.service import Service

HANDLERS: dict[str, Handler] = {
    **metadata.HANDLERS,
    **models.HANDLERS,
    **detectors.HANDLERS,
    **events.HANDLERS,
    **lists.HANDLERS,
    **batch.HANDLERS,
}

#: Run on the event loop: short, CPU-bound and latency-critical (a thread hop costs more).
INLINE = frozenset({"GetEventPrediction"})
#: Operations that change events, not the registry: no compiled-version refresh needed.
EVENT_WRITES = frozenset(
    {"SendEvent", "UpdateEventLabel", "DeleteEvent", "DeleteEventsByEventType"}
)
_READ_PREFIXES = ("Get", "Describe", "List", "BatchGet")


def changes_registry(operation: str) -> bool:
    return not operation.startswith(_READ_PREFIXES) and operation not in EVENT_WRITES


def unsupported(operation: str) -> Exception:
    return validation(f"{operation} is not supported by fraudstream", [("$", "unsupported")])


def dispatch(service: Service, operation: str, body: Body) -> Body:
    """Run one operation; writes are made visible to scoring before the answer goes out."""
    handler = HANDLERS.get(operation)
    if handler is None:
        raise unsupported(operation)
    try:
        return handler(service, body)
    finally:
        if changes_registry(operation):
            service.changed()


__all__ = ["HANDLERS", "INLINE", "Body", "Handler", "changes_registry", "dispatch"]
