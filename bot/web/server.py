"""Build the Starlette app that `tenkepause run` serves."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.runtime import Runtime
from bot.web.http_guards import BodyLimit, SecurityHeaders
from scheduler.metrics import REGISTRY
from storage.models import Delivery, SchedulerLease


async def _health(runtime: Runtime) -> dict[str, object]:
    """Say whether the database answers and a scheduler leads; nothing about the host."""
    async with runtime.sessions() as session:
        await session.execute(text("SELECT 1"))
        pending = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
        )
        leader = await session.scalar(select(SchedulerLease.holder).limit(1))
    return {
        "status": "ok",
        "scheduler_leader": leader is not None,
        "outbox_pending": pending,
        "channels": sorted(runtime.plugins),
    }


def _bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def build_app(runtime: Runtime, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    """Return the app with health, metrics and every enabled platform's routes."""

    async def healthz(request: Request) -> Response:
        try:
            return JSONResponse(await _health(runtime))
        except Exception as error:  # a health check must answer, not raise
            return JSONResponse({"status": "error", "error": type(error).__name__}, 503)

    token = runtime.settings.metrics_token

    async def metrics(request: Request) -> Response:
        if token is not None and not _bearer_ok(request, token.get_secret_value()):
            return Response(
                "metrics need a bearer token",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    for plugin in runtime.plugins.values():
        routes.extend(plugin.routes())
    routes.extend(extra_routes or [])
    # The size limit is outermost, so no route reads a byte of an oversized body.
    app = Starlette(routes=routes, middleware=[Middleware(BodyLimit), Middleware(SecurityHeaders)])
    app.state.runtime = runtime
    return app
