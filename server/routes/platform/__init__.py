"""The platform API (seed 003) under `/api`, one module per resource.

Who calls: an API key (`Authorization: Bearer fbk_…`) or the operator's
session (`Bearer fbs_…`, or the `flowbox_session` cookie); the account is
the credential's, never a path segment, so another account's ids are
simply not found. A key scoped to a project sees only that project. Keys
are managed with a session only (`session_only`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...accesslog import ACCOUNT_KEY
from ...accounts import ApiKey
from ...auth import bearer, permit, project_key_refused
from ...errors import Forbidden, Unauthorized
from ...inputs import decode_cursor, encode_cursor, page_limit
from ...service import Service
from .. import service_of

SESSION_COOKIE = "flowbox_session"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of an /api route."""

    key: ApiKey

    @property
    def account(self) -> str:
        return self.key.account

    @property
    def project_id(self) -> str | None:
        """The one project this caller may see, or None for all of them."""
        return self.key.project_id


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _secret(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and "authorization" not in request.headers:
        _same_origin(request)
        return cookie
    return bearer(request.headers.get("authorization"))


def _same_origin(request: Request) -> None:
    """A change made with the session cookie must come from this server's
    own pages: a browser names the page's origin on every cross-site
    request, so another site's form or script is refused here."""
    origin = request.headers.get("origin")
    if request.method in SAFE_METHODS or origin is None:
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden(f"a request from {origin} may not use the session cookie to change "
                        "anything: send the session as Authorization: Bearer instead",
                        "Origin")


def authorize(service: Service, request: Request, scope: str, rate: str | None = None,
              *, session_only: bool = False) -> Caller:
    """The caller, checked for `scope`, then the `rate` limiter spent."""
    key = service.accounts.authenticate(_secret(request))
    if key is None:
        raise Unauthorized("invalid, revoked or expired credential", "Authorization")
    if session_only and key.kind != "session":
        raise Forbidden("API keys are managed with the operator's session "
                        "(flowbox sessions create), not with an API key", "Authorization")
    request.scope[ACCOUNT_KEY] = key.account  # for the access log
    permit(key, scope, getattr(service.limiters, rate) if rate else None,
           f"{rate} " if rate else "")
    return Caller(key)


Work = Callable[[Service, Caller, Any], Response]


async def call(request: Request, scope: str, work: Work, *, rate: str | None = None,
               read: Callable[[Request], Awaitable[Any]] | None = None,
               session_only: bool = False, account_wide: bool = False) -> Response:
    """Authorizes the caller, reads the input with `read(request)`, then
    runs `work(service, caller, input)` on a worker thread. An
    `account_wide` resource (env vars, connections, KV, buckets) is refused
    to a key scoped to one project."""
    service = service_of(request)
    caller = authorize(service, request, scope, rate, session_only=session_only)
    if account_wide and caller.project_id is not None:
        raise Forbidden(project_key_refused(caller.project_id, "this resource is the "
                                            "whole account's"), "Authorization")
    value = await read(request) if read is not None else None
    return await run_in_threadpool(work, service, caller, value)


PageQuery = tuple[int, tuple[float, str] | None]  # (limit, position after)


async def page_query(request: Request) -> PageQuery:
    """`limit` and `cursor` of a list route, read after authorization so a
    caller without a credential learns nothing from how they are refused."""
    return (page_limit(request.query_params.get("limit")),
            decode_cursor(request.query_params.get("cursor")))


def page(items: list[Any], more: bool, position: Callable[[Any], tuple[float, str]],
         wire: Callable[[Any], dict[str, Any]]) -> JSONResponse:
    """A list in seed 003's shape: `{data, nextCursor}`."""
    cursor = encode_cursor(position(items[-1])) if more and items else None
    return JSONResponse({"data": [wire(i) for i in items], "nextCursor": cursor})


def all_routes() -> list[Any]:
    # Imported here: the route modules import this package's helpers.
    from . import (
        api_keys,
        connections,
        deployments,
        env_vars,
        functions,
        projects,
        resources,
        runs,
        versions,
        workflows,
    )
    return [*projects.routes, *workflows.routes, *versions.routes, *deployments.routes,
            *runs.routes, *env_vars.routes, *connections.routes, *resources.routes,
            *api_keys.routes, *functions.routes]
