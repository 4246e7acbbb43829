"""Seed 003's connections under `/api/connections`: the account's S3 and R2
buckets. Answers carry `redacted` credentials only; `verify-token` checks
credentials against the service before they are saved."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import InvalidRequest, NotFound
from ...inputs import unknown_fields
from ...platform.connections import (
    Connection,
    changes,
    check_provider,
    checked,
    creation,
    redacted,
    verify,
)
from ...service import Service
from .. import json_body
from . import Caller, PageQuery, call, page, page_query

BASE = "/api/connections"


def owned(service: Service, caller: Caller, connection_id: str,
          field: str = "id") -> Connection:
    """The caller's connection; NotFound for an unknown id or another account's."""
    connection = service.connections.get(caller.account, connection_id)
    if connection is None:
        raise NotFound(f"no connection {connection_id!r}", field)
    return connection


async def list_connections(request: Request) -> Response:
    """`GET /api/connections`: oldest first, `{data, nextCursor}`, redacted."""
    def work(service: Service, caller: Caller, query: PageQuery) -> Response:
        limit, after = query
        items, more = service.connections.page(caller.account, after, limit)
        return page(items, more, lambda c: (c.created_at, c.id), redacted)

    return await call(request, "read", work, read=page_query, account_wide=True)


async def create(request: Request) -> Response:
    """`POST /api/connections` `{provider, credentials, name?}`: 201, redacted."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        name, provider, credentials = creation(body)
        connection = service.connections.create(caller.account, name, provider, credentials)
        return JSONResponse(redacted(connection), status_code=201)

    return await call(request, "write", work, rate="write", read=json_body, account_wide=True)


async def update(request: Request) -> Response:
    """`PATCH /api/connections/{id}` `{name?, credentials?}`: redacted."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        connection = owned(service, caller, request.path_params["id"])
        name, credentials = changes(connection.provider, body)
        return JSONResponse(redacted(service.connections.update(connection, name,
                                                                credentials)))

    return await call(request, "write", work, rate="write", read=json_body, account_wide=True)


async def delete(request: Request) -> Response:
    """`DELETE /api/connections/{id}`: `{id, deleted: true}`."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        connection = owned(service, caller, request.path_params["id"])
        service.connections.delete(connection)
        return JSONResponse({"id": connection.id, "deleted": True})

    return await call(request, "write", work, rate="write", account_wide=True)


async def verify_token(request: Request) -> Response:
    """`POST /api/connections/verify-token` `{provider, credentials}`: 200 and
    `{valid: true, buckets}` or `{valid: false, error}`; 400 for input that
    is not credentials at all."""
    def work(service: Service, _caller: Caller, body: dict[str, Any]) -> Response:
        unknown_fields(body, ("provider", "credentials"))
        for field in ("provider", "credentials"):
            if field not in body:
                raise InvalidRequest(f"{field} is required", field)
        provider = check_provider(body["provider"])
        return JSONResponse(verify(provider, checked(provider, body["credentials"]),
                                   service.fetch.egress))

    return await call(request, "write", work, rate="verify", read=json_body, account_wide=True)


routes = [
    Route(BASE, list_connections, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    # Before `/{id}`, so the literal path is never taken for an id.
    Route(BASE + "/verify-token", verify_token, methods=["POST"]),
    Route(BASE + "/{id}", update, methods=["PATCH"]),
    Route(BASE + "/{id}", delete, methods=["DELETE"]),
]
