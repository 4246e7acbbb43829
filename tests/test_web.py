"""The web platform in the guest, class by class, with the standard
behaviour Workers code relies on (fetch itself: test_fetch.py;
crypto.subtle: test_subtle.py; against Cloudflare's engine:
test_differential.py)."""

from __future__ import annotations

from typing import Any

import pytest


def js(run: Any, body: str) -> Any:
    result = run(f"export default async function () {{ {body} }}")
    assert result.error is None, result.error
    return result.value


def test_headers_are_case_insensitive_multi_valued_and_sorted(run: Any) -> None:
    got = js(run, """
      const h = new Headers([["X-B", "2"], ["x-a", "1"]]);
      h.append("X-A", " 3 ");
      h.append("Set-Cookie", "a=1");
      h.append("set-cookie", "b=2");
      const errors = [];
      try { h.append("bad name", "x"); } catch (e) { errors.push(e.name); }
      try { h.set("x", "a\\nb"); } catch (e) { errors.push(e.name); }
      h.delete("x-b");
      return [[...h], h.get("X-A"), h.getSetCookie(), h.has("x-b"), errors];
    """)
    assert got == [[["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-a", "1, 3"]], "1, 3",
                   ["a=1", "b=2"], False, ["TypeError", "TypeError"]]


@pytest.mark.parametrize("body, text, content_type", [
    ('"text"', "text", "text/plain;charset=UTF-8"),
    ("new Uint8Array([104, 105])", "hi", None),
    ("new Uint8Array([0, 104, 105]).subarray(1)", "hi", None),
    ("new Uint16Array([0x6968]).buffer", "hi", None),
    ("new URLSearchParams('a=1&b=2')", "a=1&b=2", "application/x-www-form-urlencoded;charset=UTF-8"),
    ("new Blob(['b', 'lob'], {type: 'Text/X'})", "blob", "text/x"),
    ("new ReadableStream({start(c) { c.enqueue(new TextEncoder().encode('st')); c.enqueue(new TextEncoder().encode('ream')); c.close(); }})", "stream", None),
])
def test_response_bodies(run: Any, body: str, text: str, content_type: str | None) -> None:
    got = js(run, f"""
      const r = new Response({body});
      return [await r.text(), r.headers.get("content-type"), r.bodyUsed];
    """)
    assert got == [text, content_type, True]


def test_a_body_reads_once_and_clone_reads_twice(run: Any) -> None:
    got = js(run, """
      const r = new Response("once");
      const c = r.clone();
      const first = await r.text();
      let second;
      try { await r.text(); } catch (e) { second = e.name; }
      return [first, second, await c.arrayBuffer().then((b) => b.byteLength), [...await new Response("ab").bytes()]];
    """)
    assert got == ["once", "TypeError", 4, [97, 98]]


def test_response_statics_and_status_rules(run: Any) -> None:
    got = js(run, """
      const j = Response.json({a: [1]}, {status: 202});
      const errors = [];
      for (const f of [() => new Response("x", {status: 204}), () => new Response(null, {status: 99}),
                       () => Response.redirect("https://a/", 200)]) {
        try { f(); } catch (e) { errors.push(e.name); }
      }
      const e = Response.error();
      return [j.status, j.headers.get("content-type"), await j.json(),
              Response.redirect("https://a.example/x").status, e.type, e.status, errors,
              new Response(null, {status: 204}).body];
    """)
    assert got == [202, "application/json", {"a": [1]}, 302, "error", 0,
                   ["TypeError", "RangeError", "RangeError"], None]


def test_request_rules(run: Any) -> None:
    got = js(run, """
      const errors = [];
      for (const f of [() => new Request("/relative"), () => new Request("https://a/", {method: "GET", body: "x"}),
                       () => new Request("https://a/", {method: "TRACE"}), () => new Request("https://a/", {redirect: "sometimes"})]) {
        try { f(); } catch (e) { errors.push(e.name); }
      }
      const r = new Request("https://a.example/p", {method: "patch", headers: {"X-Y": "z"}, body: "data"});
      const copy = new Request(r, {headers: {"x-other": "1"}});
      return [r.method, r.url, r.redirect, r.signal.aborted, await copy.text(), copy.headers.get("x-y"),
              copy.headers.get("x-other"), errors];
    """)
    assert got == ["PATCH", "https://a.example/p", "follow", False, "data", None, "1",
                   ["TypeError"] * 4]


def test_form_data_and_files(run: Any) -> None:
    got = js(run, """
      const f = new FormData();
      f.append("a", "1");
      f.append("a", "2");
      f.set("b", new Blob(["x"]), "x.bin");
      const file = new File(["hello"], "h.txt", {type: "text/plain", lastModified: 5});
      f.append("c", file);
      const back = await new Response(f).formData();
      return [f.getAll("a"), f.get("b").name, file.name, file.size, file.lastModified, file.type,
              [...back.keys()], await back.get("c").text(), back.get("c").type,
              await new Blob(["abcdef"]).slice(1, -1).text()];
    """)
    assert got == [["1", "2"], "x.bin", "h.txt", 5, 5, "text/plain", ["a", "a", "b", "c"],
                   "hello", "text/plain", "bcde"]


def test_streams(run: Any) -> None:
    got = js(run, """
      let pulls = 0;
      const counted = new ReadableStream({
        pull(c) { pulls++; if (pulls > 3) c.close(); else c.enqueue(pulls); },
      }, {highWaterMark: 0});
      const seen = [];
      for await (const n of counted) seen.push(n);
      const written = [];
      const sink = new WritableStream({ write(chunk) { written.push(chunk); } });
      await ReadableStream.from(["x", "y"]).pipeTo(sink);
      const reader = new Blob(["abc"]).stream().getReader({mode: "byob"});
      const part = await reader.read(new Uint8Array(2));
      const decoded = [];
      const dec = new TextDecoderStream();
      const w = dec.writable.getWriter();
      w.write(new Uint8Array([0xe2, 0x82])); w.write(new Uint8Array([0xac])); w.close();
      for await (const s of dec.readable) decoded.push(s);
      let locked;
      const s = new ReadableStream();
      s.getReader();
      try { s.getReader(); } catch (e) { locked = e.name; }
      return [seen, written, [...part.value], decoded.join(""), locked];
    """)
    assert got == [[1, 2, 3], ["x", "y"], [97, 98], "\u20ac", "TypeError"]


def test_abort_signals_and_events(run: Any) -> None:
    got = js(run, """
      const c = new AbortController();
      const any = AbortSignal.any([c.signal, AbortSignal.timeout(10_000)]);
      const seen = [];
      any.onabort = () => seen.push("onabort");
      any.addEventListener("abort", (e) => seen.push(e.type));
      c.abort("why");
      let thrown;
      try { any.throwIfAborted(); } catch (e) { thrown = e; }
      const t = AbortSignal.timeout(5);
      await scheduler.wait(20);
      const target = new EventTarget();
      let count = 0;
      target.addEventListener("ping", () => count++, {once: true});
      target.dispatchEvent(new Event("ping"));
      target.dispatchEvent(new Event("ping"));
      const custom = new CustomEvent("x", {detail: {n: 1}});
      return [any.aborted, any.reason, seen, thrown, t.reason.name, count, custom.detail,
              AbortSignal.abort().reason.name];
    """)
    assert got == [True, "why", ["onabort", "abort"], "why", "TimeoutError", 1, {"n": 1},
                   "AbortError"]


def test_navigator_scheduler_and_globals_exist(run: Any) -> None:
    got = js(run, """
      const t = Date.now();
      await scheduler.wait(30);
      return [navigator.userAgent, Date.now() - t >= 25,
              ["fetch", "Request", "Response", "Headers", "FormData", "Blob", "File", "ReadableStream",
               "WritableStream", "TransformStream", "AbortController", "AbortSignal", "Event", "EventTarget",
               "TextEncoderStream", "TextDecoderStream", "CryptoKey"].filter((n) => typeof globalThis[n] !== "function"),
              typeof crypto.subtle.digest];
    """)
    assert got == ["Cloudflare-Workers", True, [], "function"]


def test_globals_replaced_by_user_code_do_not_leak_into_the_next_run(run: Any, engine: Any) -> None:
    art = engine.compile("export default async function (e) { if (e.patch) { globalThis.Response = null; "
                         "Headers.prototype.get = () => 'pwned'; } return new Headers({a: '1'}).get('a') }",
                         "w.js")
    assert engine.run(art, {"patch": True}).value == "pwned"
    assert engine.run(art, {"patch": False}).value == "1"
