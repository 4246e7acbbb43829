"""`store`: Cloudflare KV's read API over an account's named stores."""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers import run_with

import bindings
from bindings import KVEntry, MemoryDirectory, MemoryKV, Sources
from sandbox import Engine


@pytest.fixture
def kv() -> MemoryKV:
    kv = MemoryKV()
    kv.put("acme", "default", KVEntry("greeting", "héllo".encode()))
    kv.put("acme", "default", KVEntry("config", b'{"retries": 3, "on": true}', {"v": 2}))
    kv.put("acme", "default", KVEntry("blob", bytes([0, 255, 7])))
    kv.put("acme", "default", KVEntry("broken", b"{not json"))
    kv.put("acme", "default", KVEntry("expired", b"old", expiration=int(time.time()) - 10))
    kv.put("acme", "default", KVEntry("later", b"soon", expiration=int(time.time()) + 3600))
    kv.put("acme", "flags", KVEntry("beta", b"on"))
    return kv


def js(engine: Engine, kv: MemoryKV, body: str) -> Any:
    event = bindings.make_event("acme", "user.created", {"userId": "u1"})
    bundle = bindings.build(Sources(kv, MemoryDirectory(), NoFiles()), account="acme",
                            event=event)
    result = run_with(engine, "export default async function(event, { store }) {\n" + body + "\n}",
                      bundle)
    assert result.error is None, result.error
    return result.value


class NoFiles:
    """An object store these tests must never touch."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError("files must not be used here")


def test_get_in_every_type(engine: Engine, kv: MemoryKV) -> None:
    assert js(engine, kv, """
      const ab = await store.get("blob", "arrayBuffer");
      return [await store.get("greeting"), await store.get("greeting", "text"),
              await store.get("config", "json"), await store.get("config", { type: "json" }),
              ab instanceof ArrayBuffer, [...new Uint8Array(ab)], await store.get("missing"),
              await store.get("missing", "json")];""") == [
        "héllo", "héllo", {"retries": 3, "on": True}, {"retries": 3, "on": True}, True,
        [0, 255, 7], None, None]


def test_expired_keys_are_gone(engine: Engine, kv: MemoryKV) -> None:
    assert js(engine, kv, """
      const list = await store.list();
      return [await store.get("expired"), await store.get("later"),
              list.keys.map(k => k.name), list.keys.find(k => k.name === "later").expiration > 0];""") == [
        None, "soon", ["blob", "broken", "config", "greeting", "later"], True]


def test_get_with_metadata_and_bulk_get(engine: Engine, kv: MemoryKV) -> None:
    assert js(engine, kv, """
      const one = await store.getWithMetadata("config", "json");
      const none = await store.getWithMetadata("missing");
      const many = await store.get(["greeting", "missing"]);
      const manyMeta = await store.getWithMetadata(["config", "greeting"]);
      return [one, none, many instanceof Map, [...many], manyMeta.get("config").metadata,
              manyMeta.get("greeting").metadata];""") == [
        {"value": {"retries": 3, "on": True}, "metadata": {"v": 2}, "cacheStatus": None},
        {"value": None, "metadata": None, "cacheStatus": None}, True,
        [["greeting", "héllo"], ["missing", None]], {"v": 2}, None]


def test_list_with_prefix_limit_and_cursor(engine: Engine, kv: MemoryKV) -> None:
    for i in range(5):
        kv.put("acme", "default", KVEntry(f"user:{i}", b"x", {"n": i}))
    assert js(engine, kv, """
      const names = [];
      let cursor, pages = 0, page;
      do {
        page = await store.list({ prefix: "user:", limit: 2, cursor });
        names.push(...page.keys.map(k => k.name));
        cursor = page.cursor;
        pages++;
      } while (!page.list_complete);
      const first = await store.list({ prefix: "user:", limit: 2 });
      return [names, pages, first.keys[1], first.list_complete, typeof first.cursor];""") == [
        [f"user:{i}" for i in range(5)], 3, {"name": "user:1", "metadata": {"n": 1}}, False,
        "string"]


def test_named_stores(engine: Engine, kv: MemoryKV) -> None:
    assert js(engine, kv, """
      const flags = store.namespace("flags");
      return [await flags.get("beta"), await flags.get("greeting"), await store.get("beta"),
              (await store.namespace("empty").list()).keys.length];""") == ["on", None, None, 0]


def test_writes_and_bad_input_are_clear_catchable_errors(engine: Engine, kv: MemoryKV) -> None:
    value = js(engine, kv, """
      const out = [];
      const tries = [
        () => store.put("k", "v"), () => store.delete("greeting"), () => store.get("broken", "json"),
        () => store.get("k", "stream"), () => store.get(""), () => store.get("x".repeat(513)),
        () => store.get(42), () => store.namespace("../other").get("k"), () => store.list({ limit: 1001 }),
        () => store.list({ cursor: "%%%" }), () => store.get(Array.from({ length: 101 }, (_, i) => `k${i}`)),
      ];
      for (const t of tries) { try { await t(); out.push("ok") } catch (e) { out.push(`${e.name}: ${e.message}`) } }
      return out;""")
    assert value == [
        "TypeError: store.put: the store binding is read-only; write keys through the Flowbox API",
        "TypeError: store.delete: the store binding is read-only; write keys through the Flowbox API",
        "SyntaxError: store.get: the value of 'broken' is not valid JSON",
        "TypeError: store.get: type must be one of text, json, arrayBuffer; got 'stream'",
        "TypeError: key must not be empty, '.' or '..'",
        "TypeError: key is 513 bytes; at most 512",
        "TypeError: key must be a string, got number",
        "TypeError: store name '../other' is not valid: use 1 to 64 letters, digits, '_', '-' or "
        "'.', starting with a letter or digit",
        "TypeError: store.list: limit must be an integer from 1 to 1000",
        "TypeError: store.list: cursor is not one this binding returned",
        "TypeError: store.get: a list of keys must hold 1 to 100 keys",
    ]
    assert kv.kv_get("acme", "default", "greeting") is not None


def test_a_store_call_counts_against_host_calls(engine: Engine, kv: MemoryKV) -> None:
    from sandbox import HostCallLimitExceeded, Limits

    event = bindings.make_event("acme", "user.created", {})
    bundle = bindings.build(Sources(kv, MemoryDirectory(), NoFiles()), account="acme",
                            event=event)
    result = run_with(engine, """export default async function(event, { store }) {
      for (;;) { try { await store.get("greeting") } catch (e) {} } }""", bundle,
                      Limits(host_calls=20))
    # The 21st call is the one refused.
    assert isinstance(result.error, HostCallLimitExceeded) and result.host_calls == 21
