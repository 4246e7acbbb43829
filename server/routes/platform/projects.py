"""Seed 003's projects under `/api/projects`: list, create, read, rename and
delete the named groups of workflows of the caller's account. A key scoped
to a project sees that project alone, as if the account had no other, and
may not create projects (that would widen what it sees)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import Forbidden, NotFound
from ...platform.projects import Project, changes, creation
from ...service import Service
from .. import json_body
from . import Caller, PageQuery, call, page, page_query

BASE = "/api/projects"


def visible(service: Service, caller: Caller, project_id: str) -> Project:
    """The caller's project `project_id`; NotFound for an unknown id, another
    account's, or (for a project-scoped key) another project."""
    project = service.projects.get(caller.account, project_id)
    if project is None or (caller.project_id is not None and project.id != caller.project_id):
        raise NotFound(f"no project {project_id!r}", "id")
    return project


async def list_projects(request: Request) -> Response:
    """`GET /api/projects`: oldest first, `{data, nextCursor}`."""
    def work(service: Service, caller: Caller, query: PageQuery) -> Response:
        limit, after = query
        items, more = service.projects.page(caller.account, caller.project_id, after, limit)
        return page(items, more, lambda p: (p.created_at, p.id), Project.to_wire)

    return await call(request, "read", work, read=page_query)


async def create(request: Request) -> Response:
    """`POST /api/projects` `{name, slug?, description?}`: 201 and the project."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        if caller.project_id is not None:
            raise Forbidden("a key scoped to a project may not create projects; use a key "
                            "for the whole account", "Authorization")
        name, slug, description = creation(body)
        project = service.projects.create(caller.account, name, slug, description)
        return JSONResponse(project.to_wire(), status_code=201)

    return await call(request, "write", work, rate="write", read=json_body)


async def get(request: Request) -> Response:
    """`GET /api/projects/{id}`."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        return JSONResponse(visible(service, caller, request.path_params["id"]).to_wire())

    return await call(request, "read", work)


async def update(request: Request) -> Response:
    """`PATCH /api/projects/{id}` `{name?, description?}`: the updated project."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        project = visible(service, caller, request.path_params["id"])
        return JSONResponse(service.projects.update(project, changes(body)).to_wire())

    return await call(request, "write", work, rate="write", read=json_body)


async def delete(request: Request) -> Response:
    """`DELETE /api/projects/{id}`: `{id, deleted: true}`; 409 while the
    project holds workflows."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        project = visible(service, caller, request.path_params["id"])
        service.projects.delete(project)
        return JSONResponse({"id": project.id, "deleted": True})

    return await call(request, "write", work, rate="write")


routes = [
    Route(BASE, list_projects, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    Route(BASE + "/{id}", get, methods=["GET"]),
    Route(BASE + "/{id}", update, methods=["PATCH"]),
    Route(BASE + "/{id}", delete, methods=["DELETE"]),
]
