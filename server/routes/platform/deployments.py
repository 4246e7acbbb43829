"""Deployments (seed 003): deploy a version, the same as a stream of
Server-Sent Events (one `progress` event per stage, or an `error` event
naming the failing stage), take a workflow down, and list deployments."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ...errors import ApiError, Conflict, InvalidRequest, NotFound
from ...inputs import unknown_fields
from ...platform.connections import Connection
from ...platform.deploy import DeployFailed, Deployment, Progress
from ...platform.versions import Version
from ...platform.workflows import PlatformWorkflow
from ...service import Service
from .. import optional_json_body
from . import Caller, PageQuery, call, connections, page, page_query
from .workflows import owned, owned_or_none

ONE = "/api/workflows/{workflowId}"


Plan = tuple[PlatformWorkflow, Version, Connection | None]


def _plan(service: Service, caller: Caller, request: Request, body: dict[str, Any]) -> Plan:
    """What a deploy request names, checked before anything starts."""
    unknown_fields(body, ("connectionId", "versionId"))
    wf = owned(service, caller, request.path_params["workflowId"])
    version_id, connection_id = body.get("versionId"), body.get("connectionId")
    for field, value in (("versionId", version_id), ("connectionId", connection_id)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidRequest(f"{field} must be an id", field)
    version = (service.versions.get(caller.account, wf.id, version_id) if version_id
               else service.versions.latest(caller.account, wf.id))
    if version is None:
        raise (NotFound(f"no version {version_id!r} of this workflow", "versionId")
               if version_id else Conflict("this workflow has no version to deploy: create one "
                                           "(POST /api/workflows/:id/versions)", "versionId"))
    if version.locked:
        raise Conflict(f"version {version.number} is locked; unlock it to deploy it",
                       "versionId")
    connection = (connections.owned(service, caller, connection_id, "connectionId")
                  if connection_id is not None else None)
    return wf, version, connection


def _failed(exc: DeployFailed) -> ApiError:
    error_type = ApiError if exc.__cause__ is not None else InvalidRequest
    return error_type(f"deploy failed at {exc.stage}: {exc.message}", code="deploy_failed",
                      stage=exc.stage, deploymentId=exc.deployment_id)


async def deploy(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        try:
            deployment = service.deployer.run(*_plan(service, caller, request, body))
        except DeployFailed as exc:
            raise _failed(exc) from None
        return JSONResponse(deployment.to_wire(), 201)

    return await call(request, "deploy", work, rate="deploy", read=optional_json_body)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _stream(service: Service, plan: Plan) -> Iterator[bytes]:
    """The deploy's events as it runs on a thread of its own: a reader that
    goes away stops reading, not deploying."""
    reports: queue.Queue[Progress | DeployFailed | None] = queue.Queue()

    def deploy() -> None:
        try:
            service.deployer.run(*plan, report=reports.put)
        except DeployFailed as exc:
            reports.put(exc)
        finally:
            reports.put(None)

    threading.Thread(target=deploy, name="deploy", daemon=True).start()
    while (item := reports.get()) is not None:
        if isinstance(item, DeployFailed):
            yield _sse("error", {"stage": item.stage, "error": item.message,
                                 "deploymentId": item.deployment_id})
        else:
            yield _sse("progress", {"stage": item.stage, **item.detail})


async def deploy_stream(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        plan = _plan(service, caller, request, body)  # bad input is an ordinary error
        return StreamingResponse(_stream(service, plan), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return await call(request, "deploy", work, rate="deploy", read=optional_json_body)


async def takedown(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        unknown_fields(body, ("connectionId",))
        wf = owned(service, caller, request.path_params["workflowId"])
        if wf.active_version_id is None:
            raise Conflict("this workflow is not deployed", "workflowId")
        service.deployer.take_down(wf)
        return JSONResponse({"workflowId": wf.id, "activeVersionId": None,
                             "status": "taken_down"})

    return await call(request, "deploy", work, rate="deploy", read=optional_json_body)


async def list_all(request: Request) -> Response:
    def work(service: Service, caller: Caller, query: PageQuery) -> Response:
        limit, after = query
        workflow_id = owned_or_none(service, caller, request.path_params.get("workflowId"))
        items, more = service.deployments.page(
            caller.account, workflow_id=workflow_id, project_id=caller.project_id,
            after=after, limit=limit)
        return page(items, more, lambda d: (d.created_at, d.id), Deployment.to_wire)

    return await call(request, "read", work, read=page_query)


routes = [Route("/api/deployments", list_all, methods=["GET"]),
          Route(ONE + "/deployments", list_all, methods=["GET"]),
          Route(ONE + "/deploy", deploy, methods=["POST"]),
          Route(ONE + "/deploy-stream", deploy_stream, methods=["POST"]),
          Route(ONE + "/takedown", takedown, methods=["POST"])]
