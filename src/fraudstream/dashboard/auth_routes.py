"""Logging in and out.

The login form is protected against login CSRF by a token that lives both in the form and in
a short-lived signed cookie; failed attempts are throttled per user name and per client.
"""

from __future__ import annotations

import secrets
from typing import Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudstream.dashboard.config import PREFIX
from fraudstream.dashboard.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    DashDep,
    FormDep,
    redirect,
    safe_next,
    tokens_match,
)

__all__ = ["router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LOGIN_TTL: Final = 3600


def _login_form(
    dash: DashDep, request: Request, next_path: str, error: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = dash.page(
        request,
        "login.html",
        None,
        status=status,
        login_token=token,
        next_path=safe_next(next_path),
        error=error,
    )
    dash.set_cookie(response, LOGIN_COOKIE, dash.sessions.signer.sign(token), LOGIN_TTL)
    return response


@router.get("/login")
def login_page(request: Request, dash: DashDep, next: str = "") -> Response:
    if dash.session(request) is not None:
        return redirect(safe_next(next))
    return _login_form(dash, request, next)


@router.post("/login")
async def login(request: Request, dash: DashDep) -> Response:
    body = await request.body()
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    user = fields.get("username", "").strip()
    password = fields.get("password", "")
    next_path = fields.get("next", "")
    expected = dash.sessions.signer.unsign(request.cookies.get(LOGIN_COOKIE))
    if not tokens_match(fields.get("login_token"), expected):
        return _login_form(
            dash, request, next_path, "Your login form expired; please try again.", 400
        )
    client = request.client.host if request.client else "?"
    if dash.throttle.blocked(user, client):
        return _login_form(
            dash, request, next_path, "Too many failed attempts; wait a few minutes.", 429
        )
    # scrypt takes ~50 ms of CPU: off the event loop that also scores transactions.
    ok = await run_in_threadpool(dash.config.users.authenticate, user, password)
    if not ok:
        dash.throttle.failed(user, client)
        return _login_form(dash, request, next_path, "Wrong user name or password.", 401)
    dash.throttle.succeeded(user)
    _session, cookie = dash.sessions.create(user)
    response = redirect(safe_next(next_path))
    dash.set_cookie(response, SESSION_COOKIE, cookie, int(dash.sessions.absolute_seconds))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(posted: FormDep, dash: DashDep) -> Response:
    dash.sessions.end(posted.session)
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
