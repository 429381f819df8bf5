"""One worker thread per channel: takes due alerts from the ledger, sends them, records them.

A channel that fails is retried with exponential backoff (``retry_initial`` doubling up to
``retry_max``) by its own worker, so a dead SMTP server never delays the webhook, and the
alerts wait in the ledger meanwhile: nothing is lost, and after ``give_up_after`` seconds an
alert still undelivered is marked ``failed`` and logged as an error.

Digests (``digest_rate``): a channel sends at most ``digest_rate`` messages per rolling minute
one by one. When more alerts are due than that budget allows, all of them go out together in
one digest message, at most one digest per ``digest_every`` seconds (further alerts wait for
the next digest). An alert appears in exactly one message either way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from fraudstream.alerts.channel import Channel, delivery_id
from fraudstream.alerts.errors import AlertConfigError, ChannelError, LedgerUnavailable
from fraudstream.alerts.ledger import Ledger
from fraudstream.alerts.message import Alert

__all__ = ["ChannelWorker", "DispatchSettings"]

log = logging.getLogger(__name__)

_WINDOW_MS: Final = 60_000
_EXPIRE_EVERY: Final = 60.0


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """How workers retry, recover and digest (see the module docs)."""

    #: A ``sending`` row older than this is sent again (its worker is presumed dead). Must
    #: exceed the longest send (the channels' timeouts).
    lease: float = 60.0
    retry_initial: float = 1.0
    retry_max: float = 300.0
    #: How often an idle worker looks for due alerts without being woken.
    idle_poll: float = 0.5
    digest_rate: int | None = None
    digest_every: float = 60.0
    digest_max: int = 500
    give_up_after: float = 7 * 86400.0

    def __post_init__(self) -> None:
        if self.digest_rate is not None and self.digest_rate < 1:
            raise AlertConfigError("digest_rate must be >= 1 message per minute")
        if self.lease <= 0 or self.retry_initial <= 0 or self.retry_max < self.retry_initial:
            raise AlertConfigError("lease and retry delays must be positive (max >= initial)")
        if self.digest_max < 2:
            raise AlertConfigError("digest_max must be >= 2")

    def backoff(self, failures: int) -> float:
        return float(min(self.retry_max, self.retry_initial * 2 ** max(failures - 1, 0)))


class ChannelWorker:
    """Delivers one channel's alerts from the ledger in a thread (see the module docs).

    ``on_sent(channel_name, alerts)`` is called after each recorded delivery (metrics, tests).
    """

    def __init__(
        self,
        channel: Channel,
        ledger: Ledger,
        settings: DispatchSettings | None = None,
        *,
        on_sent: Callable[[str, Sequence[Alert]], None] | None = None,
    ) -> None:
        self.channel = channel
        self.ledger = ledger
        self.settings = settings or DispatchSettings()
        self._on_sent = on_sent
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.sent_messages = 0
        self._last_expire = 0.0

    @property
    def name(self) -> str:
        return self.channel.name

    def start(self) -> None:
        if self._thread is not None:
            return
        recovered = self.ledger.recover(self.name)
        if recovered:
            log.warning(
                "%s: %d alerts were being sent when a previous process died; sending them"
                " again (a receiver may see them twice: same Idempotency-Key/Message-ID)",
                self.name,
                recovered,
            )
        self._thread = threading.Thread(
            target=self._loop, name=f"fraudstream-alerts-{self.name}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """New alerts were queued: look now instead of at the next idle poll."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the message in flight (if any), then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Cleared before looking, so a wake-up that comes while we look is not lost.
            self._wake.clear()
            try:
                wait = self.step()
            except LedgerUnavailable as exc:
                self.failures += 1
                wait = self.settings.backoff(self.failures)
                log.warning("%s: alert ledger unavailable (%s); retrying in %.1fs",
                            self.name, exc, wait)  # fmt: skip
            except Exception:
                # A bug must not kill the worker silently; back off and keep going.
                self.failures += 1
                wait = self.settings.backoff(self.failures)
                log.exception("%s: alert worker error; retrying in %.1fs", self.name, wait)
            if wait > 0:
                self._wake.wait(wait)

    def step(self) -> float:
        """Send what is due; returns how long to wait before the next step."""
        s = self.settings
        now = time.monotonic()
        if now - self._last_expire >= _EXPIRE_EVERY:
            self._last_expire = now
            expired = self.ledger.expire(self.name, s.give_up_after)
            if expired:
                log.error("%s: gave up on %d alerts undelivered for %.0fs",
                          self.name, expired, s.give_up_after)  # fmt: skip
        due = self.ledger.due_count(self.name, s.lease)
        if due == 0:
            return s.idle_poll
        limit = 1
        if s.digest_rate is not None:
            now_ms = int(time.time() * 1000)
            budget = s.digest_rate - self.ledger.messages_since(self.name, now_ms - _WINDOW_MS)
            if due > budget:
                last = self.ledger.last_digest_ms(self.name)
                wait_ms = 0 if last is None else last + int(s.digest_every * 1000) - now_ms
                if wait_ms > 0:
                    return min(wait_ms / 1000.0, s.idle_poll)
                limit = s.digest_max
        alerts = self.ledger.claim(self.name, limit, s.lease)
        if not alerts:
            return 0.0
        return self._send(alerts)

    def _send(self, alerts: Sequence[Alert]) -> float:
        ids = [a.event_id for a in alerts]
        started = time.perf_counter()
        try:
            self.channel.send(alerts)
        except Exception as exc:
            self.failures += 1
            delay = self.settings.backoff(self.failures)
            error = str(exc) if isinstance(exc, ChannelError) else type(exc).__name__
            self.ledger.mark_retry(self.name, ids, error, delay)
            log.warning(
                "%s: %d alert(s) not delivered (%s; %d failures in a row); retrying in %.1fs",
                self.name,
                len(ids),
                error,
                self.failures,
                delay,
            )
            return delay
        self._record(alerts)
        self.failures = 0
        self.sent_messages += 1
        kind = f"digest of {len(ids)} alerts" if len(ids) > 1 else "alert"
        log.info("%s: sent %s for event %s in %.0f ms", self.name, kind, ids[0],
                 (time.perf_counter() - started) * 1000)  # fmt: skip
        if self._on_sent is not None:
            self._on_sent(self.name, alerts)
        return 0.0

    def _record(self, alerts: Sequence[Alert]) -> None:
        """Mark delivered; retried hard, because until it succeeds a crash re-sends."""
        ids = [a.event_id for a in alerts]
        digest = delivery_id(alerts, self.name) if len(alerts) > 1 else None
        attempt = 0
        while True:
            try:
                self.ledger.mark_sent(self.name, ids, digest)
                return
            except LedgerUnavailable as exc:
                attempt += 1
                if attempt >= 20:
                    log.error("%s: could not record a delivery (%s); it will be sent again"
                              " after the lease", self.name, exc)  # fmt: skip
                    return
                time.sleep(min(0.05 * 2**attempt, 2.0))
