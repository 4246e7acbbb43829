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

from ..auth import authorize, project_key_refused
from ..errors import Forbidden, NotFound
from ..inputs import parse_json_object, read_body, read_json, require_json_type
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
    key = authorize(service.accounts, request.headers.get("authorization"), account, scope,
                    limiter)
    if key.project_id is not None:
        within_project(service, request, key.account, key.project_id)
    value = await read(request) if read is not None else None
    return await run_in_threadpool(work, service, account, value)


def within_project(service: Service, request: Request, account: str, project_id: str) -> None:
    """A key scoped to one project reaches only that project's workflows
    (their scripts and instances) on /client/v4, by name; others are 404.
    The /v1 API, and lists of every workflow, are the whole account's: 403."""
    if request.url.path.startswith("/v1/"):
        raise Forbidden(project_key_refused(project_id, "/v1 is the whole account's"),
                        "Authorization")
    name = request.path_params.get("workflowName") or request.path_params.get("scriptName")
    if name is None:
        raise Forbidden(project_key_refused(project_id, "this lists the whole account (list "
                                            "the project's workflows with GET "
                                            "/api/workflows)"), "Authorization")
    if service.platform_workflows.get(account, name, project_id) is None:
        field = "workflow_name" if "workflowName" in request.path_params else "script_name"
        raise NotFound(f"no workflow {name!r} in this key's project", field)


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object body, within the configured size."""
    return await read_json(request, service_of(request).config.max_body_bytes)


async def optional_json_body(request: Request) -> dict[str, Any]:
    """A JSON object body, or {} when the body is empty (SDKs send nothing
    for calls without arguments)."""
    body = await read_body(request, service_of(request).config.max_body_bytes)
    if not body.strip():
        return {}
    require_json_type(request)
    return parse_json_object(body)
