"""Cloudflare's Workers script upload, for the scripts durable workflows
run: `PUT /client/v4/accounts/{account_id}/workers/scripts/{script_name}`
in the multipart shape Cloudflare takes (a `metadata` part with
`main_module` and `bindings`, and module parts), plus GET and DELETE.

A script may have many modules, as wrangler uploads them: the main module
imports the others by name or relative path (server/durable/modules.py
says what each part's content type makes of it)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bindings import iso_time

from ..durable import requests
from ..durable.definitions import Script
from ..durable.modules import Part, script_modules
from ..envelope import cf_ok
from ..errors import InvalidRequest, NotFound
from ..inputs import parse_json, read_form, refuse_declared_size
from ..service import Service
from ..workflows import compile_code
from . import call, service_of

BASE = "/client/v4/accounts/{accountId}/workers/scripts/{scriptName}"
MAX_PARTS = 128


def _wire(script: Script) -> dict[str, Any]:
    return {"id": script.name, "main_module": script.main_module,
            "created_on": iso_time(script.created_at), "modified_on": iso_time(script.updated_at),
            "handlers": ["fetch"], "compatibility_date": None, "usage_model": "standard"}


async def _read_upload(request: Request) -> tuple[dict[str, Any], list[Part]]:
    """(metadata, module parts) of a multipart upload."""
    limit = service_of(request).config.max_body_bytes
    refuse_declared_size(request, limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("upload the script as multipart/form-data with a metadata part "
                             "and module parts", "Content-Type")
    form = await read_form(request, limit, max_files=MAX_PARTS, max_fields=MAX_PARTS)
    metadata: Any = None
    parts: list[Part] = []
    try:
        for name, value in form.multi_items():
            data = await value.read() if isinstance(value, UploadFile) else value.encode()
            if name == "metadata":
                metadata = parse_json(data, "the metadata part")
                continue
            upload = value if isinstance(value, UploadFile) else None
            parts.append(Part(upload.filename or name if upload else name,
                              upload.content_type or "" if upload else "", data))
    except InvalidRequest as exc:
        raise InvalidRequest(f"the metadata part: {exc.message}", "metadata") from None
    finally:
        await form.close()
    if not isinstance(metadata, dict):
        raise InvalidRequest("a metadata part (a JSON object) is required", "metadata")
    return metadata, parts


async def put(request: Request) -> Response:
    def work(service: Service, account: str,
             upload: tuple[dict[str, Any], list[Part]]) -> Response:
        metadata, parts = upload
        name = requests.script_name(request.path_params["scriptName"])
        modules = script_modules(metadata.get("main_module"), parts)
        env = requests.script_env(metadata.get("bindings"))
        artifact = compile_code(service.engine, modules.source, modules.main, field="files",
                                classes=True, modules=modules.others)
        script, created = service.definitions.put_script(
            account, name, modules.main, modules.source,
            artifact, env, modules.others)
        return cf_ok(_wire(script), 201 if created else 200)

    return await call(request, "write", work, rate="write", read=_read_upload)


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        script = service.definitions.script(account, request.path_params["scriptName"])
        if script is None:
            raise NotFound(f"no script {request.path_params['scriptName']!r}", "script_name")
        return cf_ok(_wire(script))

    return await call(request, "read", work)


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        name = request.path_params["scriptName"]
        if not service.definitions.delete_script(account, name):
            raise NotFound(f"no script {name!r}", "script_name")
        return cf_ok({"id": name})

    return await call(request, "write", work, rate="write")


routes = [Route(BASE, put, methods=["PUT"]), Route(BASE, get, methods=["GET"]),
          Route(BASE, delete, methods=["DELETE"])]
