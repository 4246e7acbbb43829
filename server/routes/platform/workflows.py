"""`/api/workflows`: workflows and functions (seed 003): list, get, full,
create, update, move, delete, and trigger a durable run."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...durable import requests
from ...errors import Conflict, Forbidden, InvalidRequest, NotFound
from ...inputs import unknown_fields
from ...platform import workflows as rules
from ...platform.projects import Project
from ...platform.workflows import PlatformWorkflow
from ...service import Service
from .. import json_body, optional_json_body
from . import Caller, PageQuery, call, page, page_query

BASE = "/api/workflows"


def owned(service: Service, caller: Caller, workflow_id: str) -> PlatformWorkflow:
    """The caller's workflow, or 404 (another account's or project's too)."""
    found = service.platform_workflows.get(caller.account, workflow_id, caller.project_id)
    if found is None:
        raise NotFound(f"no workflow {workflow_id!r}", "workflowId")
    return found


def owned_or_none(service: Service, caller: Caller,
                  workflow_id: str | None) -> str | None:
    """For routes that list per workflow or across all: the caller's
    workflow id (404 for another's), or None when the path names none."""
    return None if workflow_id is None else owned(service, caller, workflow_id).id


def project_for(service: Service, caller: Caller, project_id: str | None,
                field: str = "projectId") -> Project:
    """The project a workflow goes to: the named one, the caller's, or the
    account's default project."""
    if project_id is None:
        project_id = caller.project_id
    if project_id is None:
        return service.projects.default(caller.account)
    if caller.project_id is not None and project_id != caller.project_id:
        raise Forbidden("this API key is scoped to another project", field)
    project = service.projects.get(caller.account, project_id)
    if project is None:
        raise NotFound(f"no project {project_id!r}", field)
    return project


async def list_all(request: Request) -> Response:
    def work(service: Service, caller: Caller, query: PageQuery) -> Response:
        limit, after = query
        project = request.query_params.get("projectId")
        if project is not None:
            project_for(service, caller, project)
        items, more = service.platform_workflows.page(
            caller.account, project or caller.project_id, after, limit)
        return page(items, more, lambda w: (w.created_at, w.id), PlatformWorkflow.to_wire)

    return await call(request, "read", work, read=page_query)


async def get(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        return JSONResponse(owned(service, caller, request.path_params["id"]).to_wire())

    return await call(request, "read", work)


async def full(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        wf = owned(service, caller, request.path_params["id"])
        versions = service.versions.all(caller.account, wf.id)
        wanted = request.query_params.get("version")
        current = next((v for v in versions if v.id == wanted), None) if wanted else (
            next((v for v in versions if v.id == wf.active_version_id), None)
            or (versions[0] if versions else None))
        if wanted and current is None:
            raise NotFound(f"no version {wanted!r} of this workflow", "version")
        active = service.deployments.active(caller.account, wf.id)
        return JSONResponse({
            "workflow": wf.to_wire(),
            "currentVersion": None if current is None else {
                **current.summary(wf.active_version_id), "source": current.source},
            "versions": [v.summary(wf.active_version_id) for v in versions],
            "activeDeployment": active.to_wire() if active else None})

    return await call(request, "read", work)


async def create(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        name, description, kind, project_id = rules.creation(body)
        project = project_for(service, caller, project_id)
        wf = service.platform_workflows.create(caller.account, project.id, name, description,
                                               kind)
        return JSONResponse(wf.to_wire(), 201)

    return await call(request, "write", work, rate="write", read=json_body)


async def update(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        wf = owned(service, caller, request.path_params["id"])
        changed = service.platform_workflows.update(wf, rules.changes(body, wf))
        return JSONResponse(changed.to_wire())

    return await call(request, "write", work, rate="write", read=json_body)


async def move(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        wf = owned(service, caller, request.path_params["id"])
        unknown_fields(body, ("targetProjectId",))
        target = body.get("targetProjectId")
        if not isinstance(target, str) or not target:
            raise InvalidRequest("targetProjectId is required (a project id)", "targetProjectId")
        project = project_for(service, caller, target, "targetProjectId")
        moved = service.platform_workflows.update(wf, {"project_id": project.id})
        return JSONResponse(moved.to_wire())

    return await call(request, "write", work, rate="write", read=json_body)


async def delete(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        wf = owned(service, caller, request.path_params["id"])
        service.deployer.take_down(wf)
        service.instances.delete_workflow(wf.id)
        service.platform_workflows.delete(wf)
        return JSONResponse({"id": wf.id, "deleted": True})

    return await call(request, "write", work, rate="write")


async def trigger(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        wf = owned(service, caller, request.path_params["id"])
        unknown_fields(body, ("connectionId", "params"))
        if wf.kind == "script":
            raise InvalidRequest("a function (kind \"script\") has no runs: invoke it with an "
                                 f"HTTP POST to /functions/{wf.id}", "kind")
        new = requests.new_instance({"params": body["params"]} if "params" in body else {},
                                    "params")
        durable = service.definitions.workflow(caller.account, wf.id)
        if wf.active_version_id is None or durable is None:
            raise Conflict("this workflow is not deployed: deploy a version first",
                           "workflowId")
        service.dispatcher.admit(caller.account, 1)
        [instance] = service.instances.create(caller.account, wf.id, durable.version_id, [new],
                                              "api", skip_existing=False)
        service.dispatcher.submit([(instance.id, caller.account)])
        return JSONResponse({"id": instance.id, "instanceId": instance.name,
                             "status": instance.status}, 201)

    return await call(request, "deploy", work, rate="deploy", read=optional_json_body)


routes = [Route(BASE, list_all, methods=["GET"]), Route(BASE, create, methods=["POST"]),
          Route(BASE + "/{id}", get, methods=["GET"]),
          Route(BASE + "/{id}", update, methods=["PATCH"]),
          Route(BASE + "/{id}", delete, methods=["DELETE"]),
          Route(BASE + "/{id}/full", full, methods=["GET"]),
          Route(BASE + "/{id}/move", move, methods=["PATCH"]),
          Route(BASE + "/{id}/trigger", trigger, methods=["POST"])]
