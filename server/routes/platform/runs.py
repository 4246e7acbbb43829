"""Runs (seed 003): the instances of deployed workflows. List across
workflows or per workflow (`status`, `cursor`, `limit`), get one with its
live status and steps, and pause, resume or terminate it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bindings import Env

from ...durable.instances import Instance
from ...errors import NotFound
from ...platform import runs
from ...service import Service
from . import Caller, PageQuery, call, page, page_query
from .workflows import owned, owned_or_none

ONE = "/api/workflows/{workflowId}/runs/{runId}"


def _run(service: Service, caller: Caller, request: Request) -> Instance:
    wf = owned(service, caller, request.path_params["workflowId"])
    found = service.platform_runs.get(caller.account, wf.id, request.path_params["runId"])
    if found is None:
        raise NotFound(f"no run {request.path_params['runId']!r} of this workflow", "runId")
    return found


async def list_all(request: Request) -> Response:
    def work(service: Service, caller: Caller, query: PageQuery) -> Response:
        limit, after = query
        workflow_id = owned_or_none(service, caller, request.path_params.get("workflowId"))
        items, more = service.platform_runs.page(
            caller.account, workflow_id=workflow_id, project_id=caller.project_id,
            status=runs.status_filter(request.query_params.get("status")), after=after,
            limit=limit)
        return page(items, more, lambda i: (i.created_at, i.id), runs.to_wire)

    return await call(request, "read", work, read=page_query)


async def get(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        run = _run(service, caller, request)
        script = service.definitions.script(caller.account, run.workflow_id)
        env = script.env.env() if script is not None else Env()
        return JSONResponse(runs.detail(run, service.instances.steps(run.id), env))

    return await call(request, "read", work)


def _control(action: str) -> Callable[[Request], Awaitable[Response]]:
    async def control(request: Request) -> Response:
        def work(service: Service, caller: Caller, _: None) -> Response:
            run = _run(service, caller, request)
            status = service.instances.act(run, action)
            if status == "queued":
                service.dispatcher.submit([(run.id, caller.account)])
            return JSONResponse({"id": run.id, "instanceId": run.name, "status": status})

        return await call(request, "deploy", work, rate="deploy")

    return control


routes = [Route("/api/runs", list_all, methods=["GET"]),
          Route("/api/workflows/{workflowId}/runs", list_all, methods=["GET"]),
          Route(ONE, get, methods=["GET"]),
          *(Route(f"{ONE}/{action}", _control(action), methods=["POST"])
            for action in ("pause", "resume", "terminate"))]
