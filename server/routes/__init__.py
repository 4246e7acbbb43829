"""The HTTP routes, one module per resource. Each handler authorizes the
caller, reads and checks its input, then does its work on a worker thread,
since storage calls block. Authorization comes first, so a caller without
a valid key learns nothing about what its input would have done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..auth import authorize
from ..inputs import parse_json_object, read_body, read_json
from ..service import Service


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Work = Callable[[Service, str, Any], Response]


async def call(request: Request, scope: str, work: Work, *, rate: str | None = None,
               read: Callable[[Request], Awaitable[Any]] | None = None) -> Response:
    """Authorizes the caller for the path's account and `scope` and spends
    the `rate` limiter ("write" or "events"); then `read(request)` takes the
    input and `work(service, account, input)` runs on a worker thread."""
    service = service_of(request)
    account: str = request.path_params["accountId"]
    limiter = getattr(service.limiters, rate) if rate else None
    # On the event loop: keys are cached, so this rarely touches the database.
    authorize(service.accounts, request.headers.get("authorization"), account, scope, limiter)
    value = await read(request) if read is not None else None
    return await run_in_threadpool(work, service, account, value)


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object body, within the configured size."""
    return await read_json(request, service_of(request).config.max_body_bytes)


async def optional_json_body(request: Request) -> dict[str, Any]:
    """A JSON object body, or {} when the body is empty (SDKs send nothing
    for calls without arguments)."""
    body = await read_body(request, service_of(request).config.max_body_bytes)
    return parse_json_object(body) if body.strip() else {}
