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
from ...inputs import decode_cursor, page_limit
from ...platform import runs
from ...service import Service
from . import Caller, call, page
from .workflows import owned

ONE = "/api/workflows/{workflowId}/runs/{runId}"


def _run(service: Service, caller: Caller, request: Request) -> Instance:
    wf = owned(service, caller, request.path_params["workflowId"])
    found = service.platform_runs.get(caller.account, wf.id, request.path_params["runId"])
    if found is None:
        raise NotFound(f"no run {request.path_params['runId']!r} of this workflow", "runId")
    return found


async def list_all(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        workflow_id = request.path_params.get("workflowId")
        if workflow_id is not None:
            owned(service, caller, workflow_id)
        params = request.query_params
        items, more = service.platform_runs.page(
            caller.account, workflow_id=workflow_id, project_id=caller.project_id,
            status=runs.status_filter(params.get("status")),
            after=decode_cursor(params.get("cursor")), limit=page_limit(params.get("limit")))
        return page(items, more, lambda i: (i.created_at, i.id), runs.to_wire)

    return await call(request, "read", work)


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
