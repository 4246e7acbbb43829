"""Seed 003's resource browser under `/api/resources`, read-only, for the
caller's account: its KV stores (namespaces), their keys and values; and
file buckets: `default`, the account's own files (what `/v1/.../files`
lists), or the bucket of one of its connections (`?connectionId=`).

Everything is read through the same scoping as the /v1 routes (the KV
queries name the account; own files live under the account's prefix), so
another account's data is never listed, only not found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bindings import BindingError, KVEntry, ObjectInfo, ObjectStore, S3ObjectStore, StorageError
from bindings.keys import MAX_KV_KEY_BYTES, kv_key, object_prefix, scope_prefix, store_name

from ...errors import InvalidRequest, NotFound, StorageFailed
from ...inputs import decode_cursor, page_limit
from ...platform.connections import s3_config
from ...service import Service
from ..files import info_wire
from . import Caller, call, page
from .connections import owned

BASE = "/api/resources"
DEFAULT_BUCKET = "default"
T = TypeVar("T")


# -- KV namespaces --------------------------------------------------------------------


def _namespace(service: Service, caller: Caller, request: Request) -> str:
    """The caller's store named in the path; NotFound when it holds no key."""
    try:
        store = store_name(request.path_params["namespaceId"])
    except BindingError as exc:
        raise InvalidRequest(str(exc), "namespaceId") from None
    if not service.kv.kv_list(caller.account, store, "", None, 1).entries:
        raise NotFound(f"no KV namespace {store!r}", "namespaceId")
    return store


def _key_wire(entry: KVEntry) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": entry.key}
    if entry.expiration is not None:
        wire["expiration"] = entry.expiration
    if entry.metadata is not None:
        wire["metadata"] = entry.metadata
    return wire


async def namespaces(request: Request) -> Response:
    """`GET /api/resources/kv/namespaces`: `{data: [{id, title}], nextCursor: null}`."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        names = service.kv.stores(caller.account)
        return JSONResponse({"data": [{"id": n, "title": n} for n in names],
                             "nextCursor": None})

    return await call(request, "read", work, account_wide=True)


async def keys(request: Request) -> Response:
    """`GET …/kv/namespaces/{namespaceId}/keys?prefix&cursor&limit`:
    `{data: [{name, expiration?, metadata?}], nextCursor}`, in key order."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        store = _namespace(service, caller, request)
        params = request.query_params
        prefix = params.get("prefix", "")
        if len(prefix.encode("utf-8", "surrogatepass")) > MAX_KV_KEY_BYTES:
            raise InvalidRequest(f"prefix is over {MAX_KV_KEY_BYTES} bytes", "prefix")
        limit, after = page_limit(params.get("limit")), decode_cursor(params.get("cursor"))
        found = service.kv.kv_list(caller.account, store, prefix, after[1] if after else None,
                                   limit)
        return page(found.entries, found.more, lambda e: (0.0, e.key), _key_wire)

    return await call(request, "read", work, account_wide=True)


async def value(request: Request) -> Response:
    """`GET …/kv/namespaces/{namespaceId}/values/{key}`: the value's bytes."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        store = _namespace(service, caller, request)
        try:
            key = kv_key(request.path_params["key"])
        except BindingError as exc:
            raise InvalidRequest(str(exc), "key") from None
        entry = service.kv.kv_get(caller.account, store, key)
        if entry is None:
            raise NotFound(f"no key {key!r} in namespace {store!r}", "key")
        return Response(entry.value, media_type="application/octet-stream")

    return await call(request, "read", work, account_wide=True)


# -- buckets ----------------------------------------------------------------------------


def _connection_id(request: Request) -> str | None:
    ident = request.query_params.get("connectionId")
    if ident is not None and not ident:
        raise InvalidRequest("connectionId must not be empty", "connectionId")
    return ident


def _storage(action: Callable[[], T]) -> T:
    try:
        return action()
    except StorageError as exc:  # its message is short and free of hosts and keys
        raise StorageFailed(f"listing the bucket failed: {exc}") from None


async def buckets(request: Request) -> Response:
    """`GET /api/resources/r2/buckets?connectionId=`: `{data: [{name,
    provider}], nextCursor: null}`; the account's own files without a
    connection, else the connection's bucket."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        ident = _connection_id(request)
        if ident is None:
            found = {"name": DEFAULT_BUCKET, "provider": "flowbox"}
        else:
            connection = owned(service, caller, ident, "connectionId")
            found = {"name": connection.credentials["bucket"], "provider": connection.provider}
        return JSONResponse({"data": [found], "nextCursor": None})

    return await call(request, "read", work, account_wide=True)


def _bucket(service: Service, caller: Caller, request: Request) -> tuple[ObjectStore, str]:
    """The object store of the bucket in the path, and the key prefix that
    scopes it (the account's, for its own files)."""
    bucket = request.path_params["bucketName"]
    ident = _connection_id(request)
    if ident is None:
        if bucket != DEFAULT_BUCKET:
            raise NotFound(f"no bucket {bucket!r}; without connectionId only "
                           f"{DEFAULT_BUCKET!r} exists", "bucketName")
        return service.objects, scope_prefix(caller.account)
    connection = owned(service, caller, ident, "connectionId")
    if bucket != connection.credentials["bucket"]:
        raise NotFound(f"connection {ident!r} has no bucket {bucket!r}", "bucketName")
    # Short timeouts and one attempt: a browser waits on this answer.
    config = s3_config(connection, service.fetch.egress, connect_timeout=3.0,
                       read_timeout=10.0, max_attempts=1)
    return S3ObjectStore(config), ""


async def objects(request: Request) -> Response:
    """`GET /api/resources/r2/buckets/{bucketName}/objects?prefix&cursor&limit
    &connectionId=`: `{data: [{key, size, etag, uploaded}], nextCursor}`."""
    def work(service: Service, caller: Caller, _: None) -> Response:
        store, scope = _bucket(service, caller, request)
        params = request.query_params
        try:
            prefix = object_prefix(params.get("prefix", ""))
        except BindingError as exc:
            raise InvalidRequest(str(exc), "prefix") from None
        limit, after = page_limit(params.get("limit")), decode_cursor(params.get("cursor"))
        found = _storage(lambda: store.list(
            scope + prefix, start_after=scope + after[1] if after else None, limit=limit,
            delimiter=None, with_metadata=False))

        def wire(info: ObjectInfo) -> dict[str, Any]:
            full = info_wire(info, scope)
            return {name: full[name] for name in ("key", "size", "etag", "uploaded")}

        # The listing's own continuation, relative to the scope, is the cursor.
        nxt = found.next_after
        return page(found.objects, nxt is not None,
                    lambda _: (0.0, (nxt or "")[len(scope):]), wire)

    return await call(request, "read", work, account_wide=True)


routes = [
    Route(BASE + "/kv/namespaces", namespaces, methods=["GET"]),
    Route(BASE + "/kv/namespaces/{namespaceId}/keys", keys, methods=["GET"]),
    Route(BASE + "/kv/namespaces/{namespaceId}/values/{key:path}", value, methods=["GET"]),
    Route(BASE + "/r2/buckets", buckets, methods=["GET"]),
    Route(BASE + "/r2/buckets/{bucketName}/objects", objects, methods=["GET"]),
]
