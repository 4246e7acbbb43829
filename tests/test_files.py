"""`files` through the sandbox, with R2's shape, on both backends."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from helpers import run_with

import bindings
from bindings import FilesLimits, MemoryDirectory, MemoryKV, ObjectStore, Sources
from sandbox import Engine


def bundle_for(objects: ObjectStore, account: str = "acme", room_scope: str | None = None,
               limits: FilesLimits | None = None) -> bindings.Bundle:
    event = bindings.make_event(account, "user.created", {"userId": "u1"})
    return bindings.build(Sources(MemoryKV(), MemoryDirectory(), objects), account=account,
                          event=event, room_scope=room_scope, files_limits=limits, timeout=10)


def js(engine: Engine, objects: ObjectStore, body: str, **kwargs: Any) -> Any:
    result = run_with(engine, "export default async function(event, { files }) {\n"
                      + body + "\n}", bundle_for(objects, **kwargs))
    assert result.error is None, result.error
    return result.value


def test_put_returns_an_r2_object(engine: Engine, objects: ObjectStore) -> None:
    value = js(engine, objects, """
      const o = await files.put("notes/today.txt", "héllo", {
        httpMetadata: { contentType: "text/plain" }, customMetadata: { Author: "ann" } });
      return { key: o.key, size: o.size, etag: o.etag, httpEtag: o.httpEtag, version: typeof o.version,
               uploaded: o.uploaded instanceof Date && Math.abs(Date.now() - o.uploaded) < 60000,
               http: o.httpMetadata, custom: o.customMetadata, cls: o.storageClass };""")
    assert value == {"key": "notes/today.txt", "size": 6,
                     "etag": hashlib.md5("héllo".encode()).hexdigest(),
                     "httpEtag": f'"{hashlib.md5("héllo".encode()).hexdigest()}"',
                     "version": "string", "uploaded": True, "http": {"contentType": "text/plain"},
                     "custom": {"Author": "ann"}, "cls": "Standard"}


def test_get_reads_the_body_every_way(engine: Engine, objects: ObjectStore) -> None:
    value = js(engine, objects, """
      await files.put("doc.json", JSON.stringify({ a: [1, "é"] }));
      const out = [];
      for (const how of ["text", "json", "arrayBuffer", "bytes"]) {
        const o = await files.get("doc.json");
        const v = await o[how]();
        out.push(how === "arrayBuffer" ? v.byteLength : how === "bytes" ? v.length : v);
      }
      const o = await files.get("doc.json");
      const before = o.bodyUsed;
      await o.text();
      let again;
      try { await o.text() } catch (e) { again = e.message }
      return { out, before, after: o.bodyUsed, again, missing: await files.get("nope") };""")
    assert value == {"out": ['{"a":[1,"é"]}', {"a": [1, "é"]}, 14, 14], "before": False,
                     "after": True, "again": "files: the body was already read", "missing": None}


def test_binary_bodies_are_exact(engine: Engine, objects: ObjectStore) -> None:
    value = js(engine, objects, """
      const all = new Uint8Array(256).map((_, i) => i);
      await files.put("all.bin", all.buffer);
      await files.put("view.bin", all.subarray(10, 20));
      await files.put("dv.bin", new DataView(all.buffer, 250, 6));
      await files.put("empty.bin", null);
      const read = async (k) => [...await (await files.get(k)).bytes()];
      const a = await read("all.bin");
      return [a.length, a.every((b, i) => b === i), await read("view.bin"), await read("dv.bin"),
              (await files.head("empty.bin")).size];""")
    assert value == [256, True, list(range(10, 20)), list(range(250, 256)), 0]


def test_head_delete_and_list(engine: Engine, objects: ObjectStore) -> None:
    value = js(engine, objects, """
      for (const k of ["a.txt", "docs/1", "docs/2", "docs/sub/3", "z.txt"]) await files.put(k, k);
      const head = await files.head("docs/1");
      await files.delete("a.txt");
      await files.delete(["docs/2", "never-existed"]);
      const all = await files.list();
      const top = await files.list({ delimiter: "/" });
      const docs = await files.list({ prefix: "docs/", include: ["customMetadata"] });
      return { head: [head.key, head.size, typeof head.text], missing: await files.head("a.txt"),
               all: all.objects.map(o => o.key), truncated: all.truncated,
               top: [top.objects.map(o => o.key), top.delimitedPrefixes],
               docs: docs.objects.map(o => o.key), uploaded: all.objects[0].uploaded instanceof Date };""")
    assert value == {"head": ["docs/1", 6, "undefined"], "missing": None,
                     "all": ["docs/1", "docs/sub/3", "z.txt"], "truncated": False,
                     "top": [["z.txt"], ["docs/"]], "docs": ["docs/1", "docs/sub/3"],
                     "uploaded": True}


def test_list_pages_with_a_cursor(engine: Engine, objects: ObjectStore) -> None:
    value = js(engine, objects, """
      for (let i = 0; i < 7; i++) await files.put(`k${i}`, "x");
      const seen = [];
      let cursor, pages = 0;
      do {
        const page = await files.list({ limit: 3, cursor });
        seen.push(...page.objects.map(o => o.key));
        cursor = page.truncated ? page.cursor : undefined;
        pages++;
      } while (cursor);
      return { seen, pages };""")
    assert value == {"seen": [f"k{i}" for i in range(7)], "pages": 3}


BAD_KEYS = {
    "../escape": "'..' segments", "/etc/passwd": "leading '/'", "a/../../b": "'..' segments",
    "a//b": "empty", "": "must not be empty", "nul\u0000byte": "NUL", "back\\slash": "backslashes",
    "%2e%2e/x": "percent-encoded", "a/%2F/b": "percent-encoded", "./a": "'.'",
    "x" * 1025: "at most 1024",
}


def test_bad_keys_are_catchable_errors_and_write_nothing(engine: Engine,
                                                         objects: ObjectStore) -> None:
    value = js(engine, objects, f"""
      const out = {{}};
      for (const key of {list(BAD_KEYS)!r}) {{
        try {{ await files.put(key, "x"); out[key] = "stored!" }}
        catch (e) {{ out[key] = `${{e.name}}: ${{e.message}}` }}
      }}
      try {{ await files.get(42) }} catch (e) {{ out.number = e.message }}
      out.listed = (await files.list()).objects.length;
      return out;""")
    for key, reason in BAD_KEYS.items():
        assert value[key].startswith("TypeError: ") and reason in value[key], (key, value[key])
    assert value["number"] == "key must be a string, got number"
    assert value["listed"] == 0
    assert objects.list("", start_after=None, limit=10, delimiter=None,
                        with_metadata=False).objects == []


def test_object_size_limit(engine: Engine, objects: ObjectStore) -> None:
    limits = FilesLimits(max_object_bytes=1000)
    objects.put("acme/big", b"x" * 1001, {}, {})  # written by the operator, not through files
    value = js(engine, objects, """
      const out = [];
      try { await files.put("k", "y".repeat(1001)) } catch (e) { out.push(`${e.name}: ${e.message}`) }
      try { await files.get("big") } catch (e) { out.push(`${e.name}: ${e.message}`) }
      out.push((await files.put("k", "y".repeat(1000))).size);
      return out;""", limits=limits)
    assert value == [
        "RangeError: files.put: the object is 1001 bytes; the limit max_object_bytes is 1000",
        "RangeError: files.get: the object is 1001 bytes; the limit max_object_bytes is 1000",
        1000]


def test_execution_byte_budget(engine: Engine, objects: ObjectStore) -> None:
    limits = FilesLimits(max_object_bytes=1000, execution_bytes=2500)
    value = js(engine, objects, """
      const x = "x".repeat(1000);
      await files.put("a", x);
      await files.put("b", x);
      let err;
      try { await files.get("a") } catch (e) { err = `${e.name}: ${e.message}` }
      return [err, (await files.head("a")).size, (await files.list()).objects.length];""",
               limits=limits)
    assert value == ["RangeError: files.get: this execution has moved 2000 bytes; 1000 more "
                     "would pass the limit execution_bytes (2500)", 1000, 2]


def test_bad_options_are_named(engine: Engine, objects: ObjectStore) -> None:
    value = js(engine, objects, """
      const out = [];
      const tries = [
        () => files.put("k", "v", { md5: "x" }),
        () => files.put("k", "v", { httpMetadata: { expires: "x" } }),
        () => files.put("k", "v", { customMetadata: { a: 1 } }),
        () => files.put("k", "v", { customMetadata: { a: "x".repeat(3000) } }),
        () => files.put("k", 42),
        () => files.get("k", { range: { offset: 1 } }),
        () => files.list({ limit: 0 }),
        () => files.list({ include: ["everything"] }),
        () => files.list({ cursor: "!!!" }),
        () => files.delete(Array.from({ length: 1001 }, (_, i) => `k${i}`)),
      ];
      for (const t of tries) { try { await t(); out.push("ok") } catch (e) { out.push(e.message) } }
      return out;""")
    assert value[0] == "files.put: option 'md5' is not supported (use httpMetadata and customMetadata)"
    assert value[1].startswith("files.put: httpMetadata.expires is not supported")
    assert value[2] == "files.put: customMetadata must be an object of strings"
    assert value[3] == "files.put: customMetadata is 3001 bytes; at most 2048"
    assert value[4].startswith("files.put: the value must be a string, ArrayBuffer")
    assert value[5] == "files.get: options (onlyIf, range) are not supported"
    assert value[6] == "files.list: limit must be an integer from 1 to 1000"
    assert value[7].startswith("files.list: include may hold")
    assert value[8] == "files.list: cursor is not one this binding returned"
    assert value[9] == "files.delete: at most 1000 keys at once"


def test_room_scoped_files_see_only_their_room(engine: Engine, objects: ObjectStore) -> None:
    js(engine, objects, 'await files.put("shared.txt", "account-wide");')
    js(engine, objects, 'await files.put("mine.txt", "room r1");', room_scope="r1")
    js(engine, objects, 'await files.put("mine.txt", "room r2");', room_scope="r2")
    in_r1 = js(engine, objects, """
      return [(await files.list()).objects.map(o => o.key), await (await files.get("mine.txt")).text(),
              await files.get("shared.txt"), await files.get("../r2/mine.txt").catch(e => e.name)];""",
               room_scope="r1")
    assert in_r1 == [["mine.txt"], "room r1", None, "TypeError"]
    account = js(engine, objects, "return (await files.list()).objects.map(o => o.key);")
    assert account == ["rooms/r1/mine.txt", "rooms/r2/mine.txt", "shared.txt"]


@pytest.mark.parametrize("account", ["../other", "a/b", ".", "x%2F"])
def test_unusual_account_ids_stay_one_segment(objects: ObjectStore, account: str) -> None:
    b = bundle_for(objects, account=account)
    files = b.capabilities["files"]
    files.call("put", ["k", b"v", None])
    [info] = objects.list("", start_after=None, limit=10, delimiter=None,
                          with_metadata=False).objects
    assert info.key.count("/") == 1 and info.key.endswith("/k")
    assert not info.key.startswith((".", "/"))
