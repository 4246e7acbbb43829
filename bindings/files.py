"""`files`: object storage scoped to one account (and to one room for
room-scoped workflows), with the shape of Cloudflare's R2 binding
(js/files.js builds R2Object and R2ObjectBody from the replies).

Raw host methods (keys are relative to the scope):
  put(key, bytes | null, {httpMetadata, customMetadata}) -> object
  get(key) -> [object, body bytes] (a sandbox Binary), or null
  head(key) -> object or null
  delete(key | [keys]) -> null
  list({prefix, limit, cursor, delimiter, include}) -> {objects, truncated,
       cursor?, delimitedPrefixes}
An object is {key, version, size, etag, httpEtag, uploaded (ms), httpMetadata,
customMetadata}.

Every backend call runs on a worker thread and is abandoned when it
outlives the execution's deadline or the per-call timeout, so a hung
object store costs user code an error, never the host a stuck thread of
its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox import Binary

from . import keys
from .errors import (
    BackendUnavailable,
    BindingLimitExceeded,
    InvalidArgument,
    KeyRejected,
    ObjectTooLarge,
    StorageError,
)
from .storage import ObjectInfo, ObjectStore

T = TypeVar("T")
MiB = 1024 * 1024
HTTP_METADATA = ("contentType", "contentLanguage", "contentDisposition", "contentEncoding",
                 "cacheControl")
MAX_CUSTOM_METADATA_BYTES = 2048
MAX_LIST_LIMIT = 1000
MAX_DELETE_KEYS = 1000

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="flowbox-files")


@dataclass(frozen=True)
class FilesLimits:
    """Bounds on what one execution may move through `files`."""

    max_object_bytes: int = 5 * MiB  # one object's body, on put and on get
    execution_bytes: int = 32 * MiB  # bodies put plus bodies read, per execution
    call_timeout: float = 10.0  # seconds one backend call may take


class FilesBinding:
    """The `files` capability of one account (or room) for one execution."""

    methods = ("put", "get", "head", "delete", "list")
    adapter = "files"

    def __init__(self, store: ObjectStore, account: str, room: str | None = None, *,
                 limits: FilesLimits | None = None, deadline: float | None = None) -> None:
        self.store = store
        self.scope = keys.scope_prefix(account, room)
        self.limits = limits or FilesLimits()
        self.deadline = deadline
        self.bytes_used = 0

    def call(self, method: str, args: list[Any]) -> Any:
        args = [*args, None, None, None][:3]
        if method == "put":
            return self.put(args[0], args[1], args[2])
        if method == "get":
            return self.get(args[0], args[1])
        if method == "head":
            info = self._backend("head", lambda: self.store.head(self._key(args[0])))
            return self._object(info) if info else None
        if method == "delete":
            return self.delete(args[0])
        return self.list(args[0])

    # -- methods ---------------------------------------------------------------

    def put(self, key: Any, body: Any, options: Any) -> dict[str, Any]:
        full = self._key(key)
        data = _body(body)
        if len(data) > self.limits.max_object_bytes:
            raise BindingLimitExceeded(
                f"files.put: the object is {len(data)} bytes; the limit max_object_bytes "
                f"is {self.limits.max_object_bytes}")
        http, custom = _put_options(options)
        self._charge("put", len(data))
        info = self._backend("put", lambda: self.store.put(full, data, http, custom))
        return self._object(info)

    def get(self, key: Any, options: Any) -> Binary | None:
        full = self._key(key)
        if options not in (None, {}):
            raise InvalidArgument("files.get: options (onlyIf, range) are not supported")
        limit = self.limits.max_object_bytes
        try:
            found = self._backend("get", lambda: self.store.get(full, max_bytes=limit))
        except ObjectTooLarge as exc:
            raise BindingLimitExceeded(
                f"files.get: the object is {exc.size} bytes; the limit max_object_bytes "
                f"is {limit}") from None
        if found is None:
            return None
        self._charge("get", found[0].size)
        info, data = found
        return Binary(self._object(info), data)

    def delete(self, which: Any) -> None:
        if isinstance(which, list):
            if len(which) > MAX_DELETE_KEYS:
                raise InvalidArgument(f"files.delete: at most {MAX_DELETE_KEYS} keys at once")
            full = [self._key(k) for k in which]
        else:
            full = [self._key(which)]
        self._backend("delete", lambda: self.store.delete(full))

    def list(self, options: Any) -> dict[str, Any]:
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise InvalidArgument("files.list: options must be an object")
        prefix = keys.object_prefix(options.get("prefix") or "", "files.list: prefix")
        limit = options.get("limit", MAX_LIST_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) \
                or not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidArgument(f"files.list: limit must be an integer from 1 to "
                                  f"{MAX_LIST_LIMIT}")
        delimiter = options.get("delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or not delimiter):
            raise InvalidArgument("files.list: delimiter must be a non-empty string")
        include = options.get("include") or []
        if not isinstance(include, list) or not set(include) <= {"httpMetadata",
                                                                  "customMetadata"}:
            raise InvalidArgument("files.list: include may hold 'httpMetadata' and "
                                  "'customMetadata'")
        cursor = options.get("cursor")
        after = self.scope + keys.decode_cursor(cursor, "files.list") if cursor else None
        page = self._backend("list", lambda: self.store.list(
            self.scope + prefix, start_after=after, limit=limit, delimiter=delimiter,
            with_metadata=bool(include)))
        strip = len(self.scope)
        reply: dict[str, Any] = {
            "objects": [self._object(o, include) for o in page.objects],
            "truncated": page.next_after is not None,
            "delimitedPrefixes": [p[strip:] for p in page.prefixes],
        }
        if page.next_after is not None:
            reply["cursor"] = keys.encode_cursor(page.next_after[strip:])
        return reply

    # -- helpers ---------------------------------------------------------------

    def _key(self, key: Any) -> str:
        return self.scope + keys.object_key(key)

    def _charge(self, method: str, size: int) -> None:
        if self.bytes_used + size > self.limits.execution_bytes:
            raise BindingLimitExceeded(
                f"files.{method}: this execution has moved {self.bytes_used} bytes; "
                f"{size} more would pass the limit execution_bytes "
                f"({self.limits.execution_bytes})")
        self.bytes_used += size

    def _object(self, info: ObjectInfo,
                include: Sequence[str] = ("httpMetadata", "customMetadata")) -> dict[str, Any]:
        return {
            "key": info.key[len(self.scope):], "version": info.version, "size": info.size,
            "etag": info.etag, "httpEtag": f'"{info.etag}"',
            "uploaded": round(info.uploaded * 1000),
            "httpMetadata": info.http_metadata if "httpMetadata" in include else {},
            "customMetadata": info.custom_metadata if "customMetadata" in include else {},
        }

    def _backend(self, method: str, fn: Callable[[], T]) -> T:
        timeout = self.limits.call_timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
        if timeout <= 0:
            raise BackendUnavailable(f"files.{method}: no time is left in this execution")
        future = _pool.submit(fn)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            raise BackendUnavailable(f"files.{method}: the storage backend did not answer "
                                     f"within {timeout:.1f} s") from None
        except KeyRejected as exc:
            raise InvalidArgument(f"files.{method}: {exc}") from None
        except StorageError as exc:
            raise BackendUnavailable(f"files.{method}: storage backend unavailable: {exc}") \
                from None


def _body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    raise InvalidArgument("files.put: the value must be a string, ArrayBuffer, typed array "
                          "or null")


def _put_options(options: Any) -> tuple[dict[str, str], dict[str, str]]:
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise InvalidArgument("files.put: options must be an object")
    unknown = set(options) - {"httpMetadata", "customMetadata"}
    if unknown:
        raise InvalidArgument(f"files.put: option {sorted(unknown)[0]!r} is not supported "
                              "(use httpMetadata and customMetadata)")
    http = options.get("httpMetadata") or {}
    custom = options.get("customMetadata") or {}
    if not isinstance(http, dict) or not all(isinstance(v, str) for v in http.values()):
        raise InvalidArgument("files.put: httpMetadata must be an object of strings")
    bad = set(http) - set(HTTP_METADATA)
    if bad:
        raise InvalidArgument(f"files.put: httpMetadata.{sorted(bad)[0]} is not supported; "
                              f"use {', '.join(HTTP_METADATA)}")
    if not isinstance(custom, dict) or not all(isinstance(v, str) for v in custom.values()):
        raise InvalidArgument("files.put: customMetadata must be an object of strings")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in custom.items())
    if size > MAX_CUSTOM_METADATA_BYTES:
        raise BindingLimitExceeded(f"files.put: customMetadata is {size} bytes; at most "
                                   f"{MAX_CUSTOM_METADATA_BYTES}")
    for text in (*http.values(), *custom, *custom.values()):
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise InvalidArgument("files.put: metadata must not contain control characters")
    return http, custom
