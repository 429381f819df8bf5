"""Request plumbing shared by the dashboard's routes: sessions, CSRF, pages and redirects.

Every page needs a session (else a redirect to the login page; a script's fetch gets 401).
Every state-changing request must be a POST carrying the session's CSRF token, in the
``X-CSRF-Token`` header or the ``csrf_token`` form field, and, when the browser sends an
``Origin``, come from this host. Cookies are HttpOnly and SameSite=Strict; pages forbid
framing and inline scripts (Content-Security-Policy).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import parse_qs, quote, urlparse

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from fraudstream.dashboard.config import PREFIX, DashboardConfig
from fraudstream.dashboard.sessions import LoginThrottle, Session, SessionStore
from fraudstream.sinks import DecisionStore

if TYPE_CHECKING:
    from fraudstream.dashboard.backtest import BacktestJobs
    from fraudstream.dashboard.live import LiveSource
    from fraudstream.detector import Engine

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CsrfRejected",
    "DashDep",
    "Dashboard",
    "FormDep",
    "LoginRequired",
    "Posted",
    "SessionDep",
    "safe_next",
]

SESSION_COOKIE: Final = "fs_session"
LOGIN_COOKIE: Final = "fs_login"
CSRF_HEADER: Final = "x-csrf-token"
CSRF_FIELD: Final = "csrf_token"
#: Our script marks its background requests so an expired session answers 401, not a page.
FETCH_HEADER: Final = "x-fraudstream-fetch"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    def __init__(self, next_path: str, fetch: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.fetch = fetch


class CsrfRejected(Exception):
    """A state-changing request without this session's token (or from another origin)."""


@dataclass
class Dashboard:
    """What the routes share; one per app (``app.state.dashboard``)."""

    config: DashboardConfig
    engine: Engine
    sessions: SessionStore
    throttle: LoginThrottle
    live: LiveSource
    jobs: BacktestJobs
    templates: Environment

    @property
    def store(self) -> DecisionStore:
        return self.config.store

    def session(self, request: Request) -> Session | None:
        return self.sessions.lookup(request.cookies.get(SESSION_COOKIE))

    def page(
        self,
        request: Request,
        template: str,
        session: Session | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A full page (or fragment) with the security headers."""
        body = self.templates.get_template(template).render(
            request=request,
            session=session,
            user=session.user if session else None,
            csrf=session.csrf if session else "",
            flashes=session.take_flashes() if session else [],
            refresh_seconds=self.config.refresh_seconds,
            latency_metric=self.config.latency_metric,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.config.secure_cookies,
        )


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST the browser GETs the next page."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def safe_next(target: str | None) -> str:
    """Only paths inside the dashboard (never another host) are followed after login."""
    if not target or not target.startswith(PREFIX) or target.startswith("//"):
        return PREFIX + "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return PREFIX + "/"
    return target


def get_dashboard(request: Request) -> Dashboard:
    dash: Dashboard = request.app.state.dashboard
    return dash


def current_session(request: Request) -> Session:
    """The caller's session, or :class:`LoginRequired`."""
    session = get_dashboard(request).session(request)
    if session is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path, fetch=FETCH_HEADER in request.headers)
    return session


@dataclass(frozen=True)
class Posted:
    """A CSRF-checked form post: the session and the form's fields."""

    session: Session
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return self.fields.get(name, [])


def _same_origin(request: Request) -> bool:
    """No ``Origin`` (older clients): the token decides. ``null`` (sandboxed or redirected
    across sites): refused. Otherwise it must name this host (as the browser or a reverse
    proxy's ``X-Forwarded-Host`` saw it)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    hosts = {request.headers.get("host", ""), request.headers.get("x-forwarded-host", "")}
    return urlparse(origin).netloc in hosts - {""}


async def posted_form(request: Request) -> Posted:
    """Session + urlencoded form + CSRF token check (:class:`CsrfRejected` otherwise)."""
    session = current_session(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    body = await request.body()
    if body and ctype != "application/x-www-form-urlencoded":
        raise CsrfRejected("only urlencoded forms are accepted")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    token = request.headers.get(CSRF_HEADER) or (fields.get(CSRF_FIELD) or [""])[0]
    if not _same_origin(request) or not session.csrf_ok(token):
        raise CsrfRejected("missing or wrong CSRF token")
    return Posted(session, fields)


def login_url(next_path: str) -> str:
    return f"{PREFIX}/login?next={quote(next_path, safe='/')}"


def tokens_match(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


DashDep = Annotated[Dashboard, Depends(get_dashboard)]
SessionDep = Annotated[Session, Depends(current_session)]
FormDep = Annotated[Posted, Depends(posted_form)]
