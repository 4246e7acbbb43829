"""`POST /functions/{workflowId}`: a deployed function's URL. Public, as a
Worker's URL is: the workflow id (64 random bits) is the address. The JSON
body is `event.payload`; the function's answer is the JSON response. A
failure is a 500 with the error's code, name and message (never a stack)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import NotFound
from ...inputs import parse_json, read_body
from ...platform.functions import invoke
from ...service import Service
from .. import service_of


def _run(service: Service, workflow_id: str, payload: Any) -> Response:
    wf = service.platform_workflows.by_id(workflow_id)
    script = service.definitions.script(wf.account, wf.id) if wf is not None else None
    if wf is None or wf.kind != "script" or wf.active_version_id is None or script is None:
        raise NotFound(f"no deployed function {workflow_id!r}", "workflowId")
    result = invoke(service.engine, service.durable.activator, script, payload, service.limits,
                    service.files_limits)
    if result.error is not None:
        error = {k: v for k, v in result.error.to_dict().items() if k != "stack"}
        return JSONResponse({"error": {**error, "code": error.get("code", "function_error")}},
                            500)
    return JSONResponse(result.value)


async def post(request: Request) -> Response:
    service = service_of(request)
    body = await read_body(request, service.config.max_body_bytes)
    payload = parse_json(body) if body.strip() else None
    return await run_in_threadpool(_run, service, request.path_params["workflowId"], payload)


routes = [Route("/functions/{workflowId}", post, methods=["POST"])]
