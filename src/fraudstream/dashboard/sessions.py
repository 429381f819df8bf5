"""Server-side sessions, their signed cookie, CSRF tokens and a login throttle.

The cookie holds only a random session id and its HMAC (``<id>.<mac>``); who is logged in,
since when and the session's CSRF token stay in this process. So logging out really ends a
session, and a restart logs everybody out (the price of keeping no session database).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["LoginThrottle", "Session", "SessionStore", "Signer"]

#: Sessions end after this long without a request, and after ABSOLUTE_SECONDS in any case.
IDLE_SECONDS: Final = 8 * 3600.0
ABSOLUTE_SECONDS: Final = 24 * 3600.0
MAX_SESSIONS: Final = 10_000
MAX_FLASHES: Final = 5


class Signer:
    """HMAC-SHA256 signatures of short texts, with this process's secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self._key = key

    def _mac(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(value)}"

    def unsign(self, signed: str | None) -> str | None:
        """The value of a signed text, or None when it is missing, malformed or forged."""
        if not signed or signed.count(".") != 1 or not signed.isascii():
            return None
        value, mac = signed.split(".")
        return value if hmac.compare_digest(mac, self._mac(value)) else None


@dataclass
class Session:
    id: str
    user: str
    csrf: str
    created: float
    seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def flash(self, kind: str, text: str) -> None:
        """A message for the next page this session sees (``kind``: ok, warn, error)."""
        self.flashes = [*self.flashes[-(MAX_FLASHES - 1) :], (kind, text)]

    def take_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf)


class SessionStore:
    """Live sessions by id, oldest evicted first beyond ``max_sessions``. Thread-safe."""

    def __init__(
        self,
        signer: Signer,
        *,
        idle_seconds: float = IDLE_SECONDS,
        absolute_seconds: float = ABSOLUTE_SECONDS,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self.max_sessions = max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, user: str) -> tuple[Session, str]:
        """A new session for ``user`` and the cookie value naming it."""
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return session, self.signer.sign(session.id)

    def lookup(self, cookie: str | None) -> Session | None:
        """The live session a cookie names (touching it), or None."""
        sid = self.signer.unsign(cookie)
        if sid is None:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.seen > self.idle_seconds or now - session.created > (
                self.absolute_seconds
            ):
                del self._sessions[sid]
                return None
            session.seen = now
            self._sessions.move_to_end(sid)
            return session

    def end(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def __len__(self) -> int:
        return len(self._sessions)


class LoginThrottle:
    """Refuses logins after too many failures in ``window`` seconds: ``user_limit`` for one
    user name (guessing one password), ``client_limit`` for one client address (spraying
    many names; higher, since a proxy may put many people behind one address)."""

    def __init__(
        self,
        user_limit: int = 5,
        client_limit: int = 50,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"user": user_limit, "client": client_limit}
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, user: str, client: str) -> bool:
        now = self._clock()
        with self._lock:
            return any(
                len(self._recent((kind, value), now)) >= self.limits[kind]
                for kind, value in (("user", user.lower()), ("client", client))
            )

    def failed(self, user: str, client: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            self._recent(("user", user.lower()), now).append(now)
            self._recent(("client", client), now).append(now)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(("user", user.lower()), None)
