"""The live dashboard: the page, and the fragment its script fetches every few seconds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fraudstream.dashboard.config import PREFIX
from fraudstream.dashboard.filters import OUTCOMES, RANGES, ViewFilter
from fraudstream.dashboard.panels import live_panels, tiles
from fraudstream.dashboard.versions import active_thresholds
from fraudstream.dashboard.web import DashDep, SessionDep, redirect

__all__ = ["root_router", "router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)
root_router = APIRouter(include_in_schema=False)


def _params(request: Request) -> dict[str, list[str]]:
    return {k: request.query_params.getlist(k) for k in request.query_params}


@root_router.get("/")
def root() -> Response:
    """Browsers opening the server's address land on the dashboard."""
    return redirect(PREFIX + "/")


@router.get("")
def bare() -> Response:
    return redirect(PREFIX + "/")


@router.get("/")
def live_page(request: Request, dash: DashDep, session: SessionDep) -> Response:
    view = ViewFilter.parse(_params(request))
    snap = dash.live.snapshot(view)
    return dash.page(
        request,
        "live.html",
        session,
        nav="live",
        view=view,
        snap=snap,
        tiles=tiles(snap),
        charts=live_panels(snap, active_thresholds(dash.engine.registry, dash.config.detector_id)),
        ranges=RANGES,
        outcomes=OUTCOMES,
        choices=dash.live.choices(),
    )


@router.get("/live")
def live_fragment(request: Request, dash: DashDep, session: SessionDep) -> Response:
    view = ViewFilter.parse(_params(request))
    snap = dash.live.snapshot(view)
    return dash.page(
        request,
        "_live.html",
        session,
        view=view,
        snap=snap,
        tiles=tiles(snap),
        charts=live_panels(snap, active_thresholds(dash.engine.registry, dash.config.detector_id)),
    )
