"""`/api/workflows/{workflowId}/versions`: create (compile), list, get
(source and compiled form), lock and unlock, revert, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox import Artifact

from ...errors import InvalidRequest, NotFound
from ...inputs import unknown_fields
from ...platform.versions import Version, compile_version, submission
from ...platform.workflows import PlatformWorkflow
from ...service import Service
from .. import json_body, optional_json_body
from . import Caller, call
from .workflows import owned

BASE = "/api/workflows/{workflowId}/versions"


def version_of(service: Service, caller: Caller, request: Request) -> tuple[PlatformWorkflow,
                                                                            Version]:
    wf = owned(service, caller, request.path_params["workflowId"])
    version = service.versions.get(caller.account, wf.id, request.path_params["versionId"])
    if version is None:
        raise NotFound(f"no version {request.path_params['versionId']!r} of this workflow",
                       "versionId")
    return wf, version


async def create(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        wf = owned(service, caller, request.path_params["workflowId"])
        code, language = submission(body)
        artifact = compile_version(service.engine, wf.kind, code, language)
        version = service.versions.create(caller.account, wf.id, code, language, artifact)
        return JSONResponse(version.detail(wf.active_version_id, artifact), 201)

    return await call(request, "write", work, rate="write", read=json_body)


async def list_all(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        wf = owned(service, caller, request.path_params["workflowId"])
        versions = service.versions.all(caller.account, wf.id)
        return JSONResponse({"data": [v.summary(wf.active_version_id) for v in versions],
                             "nextCursor": None})

    return await call(request, "read", work)


async def get(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        wf, version = version_of(service, caller, request)
        artifact = Artifact.from_bytes(service.versions.artifact(version))
        return JSONResponse(version.detail(wf.active_version_id, artifact))

    return await call(request, "read", work)


async def lock(request: Request) -> Response:
    def work(service: Service, caller: Caller, body: dict[str, Any]) -> Response:
        wf, version = version_of(service, caller, request)
        unknown_fields(body, ("locked",))
        if not isinstance(body.get("locked"), bool):
            raise InvalidRequest("locked is required: true or false", "locked")
        changed = service.versions.set_locked(version, body["locked"])
        return JSONResponse(changed.summary(wf.active_version_id))

    return await call(request, "write", work, rate="write", read=json_body)


async def revert(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: dict[str, Any]) -> Response:
        wf, old = version_of(service, caller, request)
        artifact = compile_version(service.engine, wf.kind, old.source, old.language)
        version = service.versions.create(caller.account, wf.id, old.source, old.language,
                                          artifact, reverted_from=old.id)
        return JSONResponse(version.detail(wf.active_version_id, artifact), 201)

    return await call(request, "write", work, rate="write", read=optional_json_body)


async def delete(request: Request) -> Response:
    def work(service: Service, caller: Caller, _: None) -> Response:
        wf, version = version_of(service, caller, request)
        service.versions.delete(version, wf.active_version_id)
        return JSONResponse({"id": version.id, "deleted": True})

    return await call(request, "write", work, rate="write")


routes = [Route(BASE, list_all, methods=["GET"]), Route(BASE, create, methods=["POST"]),
          Route(BASE + "/{versionId}", get, methods=["GET"]),
          Route(BASE + "/{versionId}", lock, methods=["PATCH"]),
          Route(BASE + "/{versionId}", delete, methods=["DELETE"]),
          Route(BASE + "/{versionId}/revert", revert, methods=["POST"])]
