"""The account's files, as the `files` binding sees them:
`PUT`/`GET`/`DELETE /v1/accounts/{accountId}/files/{key}` (the body is the
object) and `GET …/files?prefix=` to list. `?roomId=` addresses the files of
a room, which is what a workflow scoped to that room sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bindings import BindingError, KeyRejected, ObjectInfo, StorageError, iso_time
from bindings.errors import ObjectTooLarge
from bindings.keys import object_key, object_prefix, scope_prefix

from ..envelope import ok
from ..errors import (
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    StorageFailed,
    UnsupportedMediaType,
)
from ..inputs import decode_cursor, encode_cursor, page_limit, read_body
from ..service import Service
from . import call, service_of

BASE = "/v1/accounts/{accountId}/files"
T = TypeVar("T")


def _scope(account: str, request: Request) -> str:
    room = request.query_params.get("roomId")
    if room is not None and not room:
        raise InvalidRequest("roomId must not be empty", "roomId")
    return scope_prefix(account, room)


def _key(request: Request) -> str:
    try:
        return object_key(request.path_params["key"])
    except BindingError as exc:
        raise InvalidRequest(str(exc), "key") from None


def _storage(action: Callable[[], T]) -> T:
    try:
        return action()
    except KeyRejected as exc:
        raise InvalidRequest(f"key cannot be stored: {exc}", "key") from None
    except StorageError as exc:
        raise StorageFailed(f"file storage failed: {exc}") from None


def info_wire(info: ObjectInfo, scope: str) -> dict[str, Any]:
    return {"key": info.key[len(scope):], "size": info.size, "etag": info.etag,
            "uploaded": iso_time(info.uploaded), "httpMetadata": info.http_metadata,
            "customMetadata": info.custom_metadata}


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def _body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        # A form would be stored as its own encoding, boundaries and all.
        raise UnsupportedMediaType(
            f"a file is uploaded as the request body itself, not as a form ({content_type}): "
            "curl --data-binary @FILE -H 'Content-Type: TYPE'", "Content-Type")
    return await read_body(request, service_of(request).config.max_file_bytes)


async def put(request: Request) -> Response:
    def work(service: Service, account: str, body: bytes) -> Response:
        scope, key = _scope(account, request), _key(request)
        content_type = request.headers.get("content-type")
        http = {"contentType": content_type} if content_type else {}
        info = _storage(lambda: service.objects.put(scope + key, body, http, {}))
        return ok("File saved", {"file": info_wire(info, scope)})

    return await call(request, "write", work, rate="write", read=_body)


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        scope, key = _scope(account, request), _key(request)
        limit = service.config.max_file_bytes
        try:
            found = _storage(lambda: service.objects.get(scope + key, max_bytes=limit))
        except ObjectTooLarge:
            raise PayloadTooLarge(f"file is larger than {limit} bytes", "key") from None
        if found is None:
            raise NotFound(f"no file {key!r}", "key")
        info, body = found
        return Response(body, media_type=info.http_metadata.get("contentType",
                                                                "application/octet-stream"),
                        headers={"ETag": f'"{info.etag}"'})

    return await call(request, "read", work)


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        scope, key = _scope(account, request), _key(request)
        if _storage(lambda: service.objects.head(scope + key)) is None:
            raise NotFound(f"no file {key!r}", "key")
        _storage(lambda: service.objects.delete([scope + key]))
        return ok("File deleted", {"file": {"key": key}})

    return await call(request, "write", work, rate="write")


async def list_files(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        scope = _scope(account, request)
        params = request.query_params
        try:
            prefix = object_prefix(params.get("prefix", ""))
        except BindingError as exc:
            raise InvalidRequest(str(exc), "prefix") from None
        limit = page_limit(params.get("limit"))
        after = decode_cursor(params.get("cursor"))
        page = _storage(lambda: service.objects.list(
            scope + prefix, start_after=scope + after[1] if after else None, limit=limit,
            delimiter=None, with_metadata=True))
        cursor = (encode_cursor((0.0, page.next_after[len(scope):]))
                  if page.next_after else None)
        return ok("Files", {"files": [info_wire(i, scope) for i in page.objects],
                            "next_cursor": cursor})

    return await call(request, "read", work)


routes = [
    Route(BASE, list_files, methods=["GET"]),
    Route(BASE + "/{key:path}", put, methods=["PUT"]),
    Route(BASE + "/{key:path}", get, methods=["GET"]),
    Route(BASE + "/{key:path}", delete, methods=["DELETE"]),
]
