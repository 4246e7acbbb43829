"""KV stores the `store` binding reads, written by the operator:
`PUT`/`GET`/`DELETE /v1/accounts/{accountId}/stores/{store}/keys/{key}`
(the body is the value, as is), `GET …/stores/{store}/keys?prefix=`,
`PUT …/stores/{store}/keys` (many entries at once, as Cloudflare KV's bulk
write: one transaction, one write for the rate limit) and `GET …/stores`
(the names of the account's stores)."""

from __future__ import annotations

import base64
import binascii
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
from ..inputs import (
    decode_cursor,
    encode_cursor,
    is_number,
    page_limit,
    parse_json,
    read_body,
    require_json_type,
    unknown_fields,
)
from ..service import Service
from . import call, service_of

BASE = "/v1/accounts/{accountId}/stores/{store}/keys"
MAX_METADATA_BYTES = 1024  # as Cloudflare KV
MAX_EXPIRATION = 253402300799  # 9999-12-31T23:59:59Z
MAX_BULK = 10_000  # entries in one bulk write, as Cloudflare KV


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
        try:
            metadata = parse_json(params["metadata"].encode())
        except InvalidRequest as exc:
            raise InvalidRequest(f"metadata: {exc.message}", "metadata") from None
        _check_metadata(metadata, "metadata")
    expiration = None
    if "expiration" in params:
        text = params["expiration"]
        if not is_number(text):
            raise InvalidRequest(_EXPIRATION_RULE, "expiration")
        expiration = _check_expiration(int(text), now, "expiration")
    return metadata, expiration


_EXPIRATION_RULE = ("expiration must be a time in the future (before the year 10000), in "
                    "seconds since the epoch")


def _check_metadata(metadata: Any, field: str) -> None:
    if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
        raise InvalidRequest(f"{field} is over {MAX_METADATA_BYTES} bytes", field)


def _check_expiration(value: Any, now: float, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or \
            not now < value <= MAX_EXPIRATION:
        raise InvalidRequest(_EXPIRATION_RULE.replace("expiration", field, 1), field)
    return value


def bulk_entries(body: Any, now: float) -> list[KVEntry]:
    """The entries of a bulk write: a JSON array of {key, value, base64?,
    metadata?, expiration?}, each checked, the offending one named by index."""
    if not isinstance(body, list) or not body:
        raise InvalidRequest("the body must be a non-empty JSON array of {key, value} entries",
                             "entries")
    if len(body) > MAX_BULK:
        raise InvalidRequest(f"at most {MAX_BULK} entries in one bulk write", "entries")
    entries, seen = [], set()
    for i, item in enumerate(body):
        at = f"entries[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"{at} must be an object", at)
        unknown_fields(item, ("key", "value", "base64", "metadata", "expiration"), at + ".")
        try:
            key = kv_key(item.get("key"))
        except BindingError as exc:
            raise InvalidRequest(f"{at}.key: {exc}", at + ".key") from None
        if key in seen:
            raise InvalidRequest(f"{at}.key {key!r} is written twice", at + ".key")
        seen.add(key)
        value = item.get("value")
        if not isinstance(value, str):
            raise InvalidRequest(f"{at}.value must be a string", at + ".value")
        if item.get("base64", False) not in (True, False):
            raise InvalidRequest(f"{at}.base64 must be true or false", at + ".base64")
        try:
            data = base64.b64decode(value, validate=True) if item.get("base64") else value.encode()
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{at}.value is not base64", at + ".value") from None
        if "metadata" in item:
            _check_metadata(item["metadata"], at + ".metadata")
        expiration = (_check_expiration(item["expiration"], now, at + ".expiration")
                      if item.get("expiration") is not None else None)
        entries.append(KVEntry(key, data, item.get("metadata"), expiration))
    return entries


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


async def put_many(request: Request) -> Response:
    def work(service: Service, account: str, body: Any) -> Response:
        store, _key = check_names(request.path_params["store"])
        entries = bulk_entries(body, time.time())
        service.kv.put_many(account, store, entries)
        return ok("Keys saved", {"written": len(entries)})

    return await call(request, "write", work, rate="write", read=_json_array)


async def _json_array(request: Request) -> Any:
    require_json_type(request)
    return parse_json(await read_body(request, service_of(request).config.max_body_bytes),
                      "a JSON array of entries")


async def list_stores(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        return ok("Stores", {"stores": service.kv.stores(account)})

    return await call(request, "read", work)


routes = [
    Route("/v1/accounts/{accountId}/stores", list_stores, methods=["GET"]),
    Route(BASE, put_many, methods=["PUT"]),
    Route(BASE, list_keys, methods=["GET"]),
    Route(BASE + "/{key:path}", put, methods=["PUT"]),
    Route(BASE + "/{key:path}", get, methods=["GET"]),
    Route(BASE + "/{key:path}", delete, methods=["DELETE"]),
]
