"""KV stores the `store` binding reads, written by the operator:
`PUT`/`GET`/`DELETE /v1/accounts/{accountId}/stores/{store}/keys/{key}`
(the body is the value, as is), and `GET …/stores/{store}/keys?prefix=`."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bindings import BindingError, KVEntry
from bindings.keys import kv_key, store_name

from ..envelope import ok
from ..errors import InvalidRequest, NotFound
from ..inputs import decode_cursor, encode_cursor, is_number, page_limit, read_body
from ..service import Service
from . import call, service_of

BASE = "/v1/accounts/{accountId}/stores/{store}/keys"
MAX_METADATA_BYTES = 1024  # as Cloudflare KV
MAX_EXPIRATION = 253402300799  # 9999-12-31T23:59:59Z


def check_names(store: str, key: str | None = None) -> tuple[str, str | None]:
    try:
        store = store_name(store)
    except BindingError as exc:
        raise InvalidRequest(str(exc), "store") from None
    try:
        return store, kv_key(key) if key is not None else None
    except BindingError as exc:
        raise InvalidRequest(str(exc), "key") from None


def check_options(params: dict[str, str], now: float) -> tuple[Any, int | None]:
    """The `metadata` (JSON, at most 1 KiB) and `expiration` (epoch
    seconds, in the future) query parameters of a put."""
    metadata = None
    if "metadata" in params:
        if len(params["metadata"].encode()) > MAX_METADATA_BYTES:
            raise InvalidRequest(f"metadata is over {MAX_METADATA_BYTES} bytes", "metadata")
        try:
            metadata = json.loads(params["metadata"])
        except ValueError:
            raise InvalidRequest("metadata must be JSON", "metadata") from None
    expiration = None
    if "expiration" in params:
        text = params["expiration"]
        if not is_number(text) or not now < int(text) <= MAX_EXPIRATION:
            raise InvalidRequest("expiration must be a time in the future (before the year "
                                 "10000), in seconds since the epoch", "expiration")
        expiration = int(text)
    return metadata, expiration


async def _value(request: Request) -> bytes:
    return await read_body(request, service_of(request).config.max_body_bytes)


async def put(request: Request) -> Response:
    def work(service: Service, account: str, value: bytes) -> Response:
        store, key = check_names(request.path_params["store"], request.path_params["key"])
        assert key is not None
        metadata, expiration = check_options(dict(request.query_params), time.time())
        service.kv.put(account, store, KVEntry(key, value, metadata, expiration))
        return ok("Key saved", {"key": {"name": key, "metadata": metadata,
                                        "expiration": expiration, "size": len(value)}})

    return await call(request, "write", work, rate="write", read=_value)


def _entry(service: Service, account: str, request: Request) -> tuple[str, KVEntry]:
    store, key = check_names(request.path_params["store"], request.path_params["key"])
    assert key is not None
    entry = service.kv.kv_get(account, store, key)
    if entry is None:
        raise NotFound(f"no key {key!r} in store {store!r}", "key")
    return store, entry


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        _store, entry = _entry(service, account, request)
        headers = {}
        if entry.metadata is not None:
            headers["X-Flowbox-Metadata"] = json.dumps(entry.metadata, ensure_ascii=True)
        if entry.expiration is not None:
            headers["X-Flowbox-Expiration"] = str(entry.expiration)
        return Response(entry.value, media_type="application/octet-stream", headers=headers)

    return await call(request, "read", work)


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        store, entry = _entry(service, account, request)
        service.kv.delete(account, store, entry.key)
        return ok("Key deleted", {"key": {"name": entry.key}})

    return await call(request, "write", work, rate="write")


async def list_keys(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        store, _key = check_names(request.path_params["store"])
        params = request.query_params
        limit = page_limit(params.get("limit"))
        after = decode_cursor(params.get("cursor"))
        page = service.kv.kv_list(account, store, params.get("prefix", ""),
                                  after[1] if after else None, limit)
        keys = [{"name": e.key, "metadata": e.metadata, "expiration": e.expiration}
                for e in page.entries]
        cursor = encode_cursor((0.0, page.entries[-1].key)) if page.more else None
        return ok("Keys", {"keys": keys, "next_cursor": cursor})

    return await call(request, "read", work)


routes = [
    Route(BASE, list_keys, methods=["GET"]),
    Route(BASE + "/{key:path}", put, methods=["PUT"]),
    Route(BASE + "/{key:path}", get, methods=["GET"]),
    Route(BASE + "/{key:path}", delete, methods=["DELETE"]),
]
