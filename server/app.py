"""The Starlette application: routes, the error envelope, the per-IP rate
limit, and the service's start and stop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import openapi
from .accesslog import AccessLog
from .db import unavailable_errors
from .envelope import EXCEPTION_HANDLERS, failure
from .errors import RateLimited
from .ratelimit import Limiter
from .routes import (
    cf_instances,
    cf_scripts,
    cf_workflows,
    directory,
    events,
    files,
    runs,
    stores,
    workflows,
)
from .routes import platform as api
from .service import Service

HEALTH_CACHE = 1.0  # seconds a good database check stands for /health


class PerIPLimit:
    """Seed 003's global limit: requests per minute per client address,
    counted before anything else, authenticated or not."""

    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Load balancers probe /health often, from one address: never limited.
        if scope["type"] == "http" and scope["path"] != "/health":
            client = scope.get("client")
            wait = self.limiter.take(client[0] if client else "unknown")
            if wait:
                response = failure(RateLimited(
                    f"rate limit of {int(self.limiter.capacity)} requests per minute per "
                    "client address exceeded", wait))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def openapi_document(_request: Request) -> Response:
    return JSONResponse(openapi.document())


async def health(request: Request) -> Response:
    """200 while this node can serve: its database answers. 503 otherwise,
    so that a load balancer sends traffic elsewhere."""
    service: Service = request.app.state.service
    state = request.app.state
    # A database that answered within the last second is taken as up:
    # probes come often, and /health stays as cheap as a bare route.
    if time.monotonic() >= getattr(state, "database_ok_until", 0.0):
        try:
            await run_in_threadpool(service.db.ping)
        except unavailable_errors():
            return JSONResponse({"status": "unavailable", "database": "unreachable"},
                                status_code=503, headers={"Retry-After": "5"})
        state.database_ok_until = time.monotonic() + HEALTH_CACHE
    backlog = await run_in_threadpool(service.dispatcher.backlog)
    return JSONResponse({"status": "ok", "database": "ok", "backlog": backlog})


def create_app(service: Service) -> Starlette:
    """The ASGI app of one node; the service starts and stops with it."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    app = Starlette(
        routes=[Route("/openapi.json", openapi_document), Route("/health", health),
                *workflows.routes, *events.routes, *runs.routes, *directory.routes,
                *stores.routes, *files.routes, *cf_scripts.routes, *cf_workflows.routes,
                *cf_instances.routes, *api.all_routes()],
        exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(PerIPLimit, limiter=service.limiters.ip)
    if service.config.access_log == "on":
        app.add_middleware(AccessLog)  # outermost: it sees every answer, 429s included
    return app
