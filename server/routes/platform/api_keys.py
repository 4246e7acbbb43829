"""Seed 003's API keys under `/api/api-keys`, managed with the operator's
session only (an API key must not mint or revoke keys, or a leaked key
could outlive its own revocation). The secret is answered once, when the
key is created; listings show everything but the secret and its hash."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bindings import iso_time

from ...accounts import SCOPES, ApiKey, InvalidInput, parse_scopes
from ...errors import InvalidRequest, NotFound
from ...inputs import parse_time, unknown_fields
from ...platform.projects import text
from ...service import Service
from .. import json_body
from . import Caller, call

BASE = "/api/api-keys"
MAX_NAME = 200
FIELDS = ("name", "projectId", "scopes", "expiresAt")


def status(key: ApiKey, now: float) -> str:
    """`active`, `revoked` or `expired` (revocation wins: it was deliberate)."""
    if key.revoked_at is not None:
        return "revoked"
    return "expired" if key.expired(now) else "active"


def to_wire(key: ApiKey, now: float) -> dict[str, Any]:
    """A key as the API shows it: never its secret or hash."""
    def at(t: float | None) -> str | None:
        return None if t is None else iso_time(t)

    return {"id": key.id, "name": key.name, "projectId": key.project_id,
            "scopes": list(key.scopes), "createdAt": iso_time(key.created_at),
            "expiresAt": at(key.expires_at), "revokedAt": at(key.revoked_at),
            "status": status(key, now)}


def scopes_of(value: Any) -> tuple[str, ...]:
    """The `scopes` member: a non-empty array of read/write/deploy that
    includes read (seed 003: every key needs at least read)."""
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise InvalidRequest(f"scopes must be an array of {', '.join(SCOPES)}", "scopes")
    try:
        scopes = parse_scopes(value)
    except InvalidInput as exc:
        raise InvalidRequest(str(exc), "scopes") from None
    if "read" not in scopes:
        raise InvalidRequest("scopes must include 'read': every key needs at least read",
                             "scopes")
    return scopes


def expiry_of(value: Any, now: float) -> float | None:
    """The `expiresAt` member: an ISO 8601 time in the future, or null/absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest("expiresAt must be an ISO 8601 time string", "expiresAt")
    at = parse_time(value, "expiresAt")
    assert at is not None
    if at <= now:
        raise InvalidRequest("expiresAt must be in the future", "expiresAt")
    return at


def creation(body: dict[str, Any], now: float) -> tuple[str, str | None, tuple[str, ...],
                                                        float | None]:
    """(name, projectId, scopes, expiresAt) of `POST /api-keys`, checked
    except for whether the project exists."""
    unknown_fields(body, FIELDS)
    name = text(body, "name", MAX_NAME, required=True, empty=False)
    assert name is not None
    project_id = body.get("projectId")
    if project_id is not None and (not isinstance(project_id, str) or not project_id):
        raise InvalidRequest("projectId must be a project id string", "projectId")
    if "scopes" not in body:
        raise InvalidRequest("scopes is required", "scopes")
    return name, project_id, scopes_of(body["scopes"]), expiry_of(body.get("expiresAt"), now)


async def list_keys(request: Request) -> Response:
    """`GET /api/api-keys`: the account's keys, newest first, revoked and
    expired included (one page: an account holds few keys)."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        now = time.time()
        keys = service.accounts.keys(caller.account)
        return JSONResponse({"data": [to_wire(k, now) for k in keys], "nextCursor": None})

    return await call(request, "read", work, session_only=True)


async def create(request: Request) -> Response:
    """`POST /api/api-keys`: 201, the key and, this once, its secret as `key`."""
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        now = time.time()
        name, project_id, scopes, expires_at = creation(body, now)
        if project_id is not None and service.projects.get(caller.account,
                                                            project_id) is None:
            raise NotFound(f"no project {project_id!r}", "projectId")
        key, secret = service.accounts.create_key(caller.account, scopes, name,
                                                  project_id=project_id,
                                                  expires_at=expires_at)
        return JSONResponse({**to_wire(key, now), "key": secret}, status_code=201)

    return await call(request, "write", work, rate="write", read=json_body, session_only=True)


async def revoke(request: Request) -> Response:
    """`DELETE /api/api-keys/{id}`: `{id, revoked: true}`; 404 for an unknown,
    another account's or an already revoked key."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        key_id = request.path_params["id"]
        # A session id here is not found: `revoke` takes keys only.
        if not service.accounts.revoke(caller.account, key_id):
            raise NotFound(f"no active API key {key_id!r}", "id")
        return JSONResponse({"id": key_id, "revoked": True})

    return await call(request, "write", work, rate="write", session_only=True)


routes = [
    Route(BASE, list_keys, methods=["GET"]),
    Route(BASE, create, methods=["POST"]),
    Route(BASE + "/{id}", revoke, methods=["DELETE"]),
]
