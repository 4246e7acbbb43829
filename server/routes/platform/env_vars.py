"""Seed 003's environment variables under `/api/env-vars`: the account's
global variables and secrets, listed by name. A secret's value is masked
in every answer, including the one that creates it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import NotFound
from ...platform.envvars import EnvVar, changes, creation
from ...service import Service
from .. import json_body
from . import Caller, PageQuery, call, page, page_query

BASE = "/api/env-vars"


def _owned(service: Service, caller: Caller, var_id: str) -> EnvVar:
    """The caller's env var; NotFound for an unknown id or another account's."""
    var = service.env_vars.get(caller.account, var_id)
    if var is None:
        raise NotFound(f"no env var {var_id!r}", "id")
    return var


async def list_vars(request: Request) -> Response:
    """`GET /api/env-vars`: by name, `{data, nextCursor}`."""
    def work(service: Service, caller: Caller, query: PageQuery) -> Response:
        limit, after = query  # listed by name: the cursor's id is the last name
        items, more = service.env_vars.page(caller.account, after[1] if after else None, limit)
        return page(items, more, lambda v: (0.0, v.name), EnvVar.to_wire)

    return await call(request, "read", work, read=page_query, account_wide=True)


async def create(request: Request) -> Response:
    """`POST /api/env-vars` `{name, value, isSecret?}`: 201 and the variable."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        name, value, is_secret = creation(body)
        var = service.env_vars.create(caller.account, name, value, is_secret)
        return JSONResponse(var.to_wire(), status_code=201)

    return await call(request, "write", work, rate="write", read=json_body, account_wide=True)


async def update(request: Request) -> Response:
    """`PATCH /api/env-vars/{id}` `{name?, value?, isSecret?}`: the variable."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        var = _owned(service, caller, request.path_params["id"])
        name, value, is_secret = changes(var, body)
        return JSONResponse(service.env_vars.update(var, name, value, is_secret).to_wire())

    return await call(request, "write", work, rate="write", read=json_body, account_wide=True)


async def delete(request: Request) -> Response:
    """`DELETE /api/env-vars/{id}`: `{id, deleted: true}`."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        var = _owned(service, caller, request.path_params["id"])
        service.env_vars.delete(var)
        return JSONResponse({"id": var.id, "deleted": True})

    return await call(request, "write", work, rate="write", account_wide=True)


routes = [
    Route(BASE, list_vars, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    Route(BASE + "/{id}", update, methods=["PATCH"]),
    Route(BASE + "/{id}", delete, methods=["DELETE"]),
]
