"""`store`: read-only access to an account's KV stores, with the read half
of Cloudflare's KV binding API (js/store.js shapes it).

Raw host methods, all scoped to the account given at construction:
  get(store, key | [keys], type, withMetadata)
      -> null | {value} | {b64}  (plus metadata when asked); a list for [keys]
  list(store, {prefix, limit, cursor}) -> {keys, list_complete, cursor?}
`store` null is the account's default store.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from . import keys
from .errors import InvalidArgument, InvalidValue
from .storage import KVEntry, KVSource

DEFAULT_STORE = "default"
TYPES = ("text", "json", "arrayBuffer")
MAX_BULK_KEYS = 100
MAX_LIST_LIMIT = 1000


class StoreBinding:
    """The `store` capability of one account."""

    methods = ("get", "list")
    adapter = "store"

    def __init__(self, source: KVSource, account: str, default_store: str = DEFAULT_STORE) -> None:
        self.source = source
        self.account = account
        self.default_store = default_store  # a KV binding of a script names its namespace

    def call(self, method: str, args: list[Any]) -> Any:
        store = self.default_store if not args or args[0] is None else keys.store_name(args[0])
        if method == "get":
            return self.get(store, *args[1:4])
        return self.list(store, args[1] if len(args) > 1 else None)

    def get(self, store: str, key: Any = None, kind: Any = "text",
            with_metadata: Any = False) -> Any:
        if kind not in TYPES:
            raise InvalidArgument(f"store.get: type must be one of {', '.join(TYPES)}; "
                                  f"got {kind!r}")
        if isinstance(key, list):
            if not 0 < len(key) <= MAX_BULK_KEYS:
                raise InvalidArgument(f"store.get: a list of keys must hold 1 to "
                                      f"{MAX_BULK_KEYS} keys")
            return [self._one(store, k, kind, bool(with_metadata)) for k in key]
        return self._one(store, key, kind, bool(with_metadata))

    def _one(self, store: str, key: Any, kind: str, with_metadata: bool) -> Any:
        entry = self.source.kv_get(self.account, store, keys.kv_key(key))
        if entry is None:
            return None
        reply = _value(entry, kind)
        if with_metadata:
            reply["metadata"] = entry.metadata
        return reply

    def list(self, store: str, options: Any) -> dict[str, Any]:
        options = options if options is not None else {}
        if not isinstance(options, dict):
            raise InvalidArgument("store.list: options must be an object")
        prefix = options.get("prefix") or ""
        limit = options.get("limit", MAX_LIST_LIMIT)
        cursor = options.get("cursor")
        if not isinstance(prefix, str):
            raise InvalidArgument("store.list: prefix must be a string")
        if not isinstance(limit, int) or isinstance(limit, bool) \
                or not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidArgument(f"store.list: limit must be an integer from 1 to "
                                  f"{MAX_LIST_LIMIT}")
        after = keys.decode_cursor(cursor, "store.list") if cursor else None
        page = self.source.kv_list(self.account, store, prefix, after, limit)
        listed = []
        for e in page.entries:
            item: dict[str, Any] = {"name": e.key}
            if e.expiration is not None:
                item["expiration"] = e.expiration
            if e.metadata is not None:
                item["metadata"] = e.metadata
            listed.append(item)
        reply: dict[str, Any] = {"keys": listed, "list_complete": not page.more}
        if page.more and page.entries:
            reply["cursor"] = keys.encode_cursor(page.entries[-1].key)
        return reply


def _value(entry: KVEntry, kind: str) -> dict[str, Any]:
    if kind == "arrayBuffer":
        return {"b64": base64.b64encode(entry.value).decode()}
    text = entry.value.decode("utf-8", "replace")
    if kind == "json":
        try:
            return {"value": json.loads(text)}
        except ValueError:
            raise InvalidValue(f"store.get: the value of {entry.key!r} is not valid JSON") \
                from None
    return {"value": text}
