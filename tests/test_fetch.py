"""`fetch` from user code: real HTTP requests to real servers on loopback,
under the egress policy (loopback is refused unless a test allows its
server's port by name) and the per-execution limits."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import bindings
from sandbox import Engine, Limits, RunResult, UserError


class Handler(BaseHTTPRequestHandler):
    """/echo answers what it got; /slow?ms= sleeps first; /big?n= sends n
    bytes; /redirect?to= redirects (302 unless &status=); /status?code=."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def _answer(self) -> None:
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/slow":
            time.sleep(int(params.get("ms", "200")) / 1000)
        if path == "/redirect":
            self.send_response(int(params.get("status", "302")))
            self.send_header("location", params["to"].replace("%3A", ":").replace("%2F", "/"))
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if path == "/big":
            data = b"x" * int(params["n"])
        else:
            data = json.dumps({"method": self.command, "path": self.path,
                               "headers": {k.lower(): v for k, v in self.headers.items()},
                               "body": body.decode("latin-1")}).encode()
        self.send_response(int(params.get("code", "200")))
        self.send_header("content-type", "application/json")
        self.send_header("x-multi", "a")
        self.send_header("x-multi", "b")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def fetch_run(engine: Engine, sources: bindings.Sources, source: str, *, allow: tuple[str, ...] = (), mode: str = "public",
              limits: bindings.FetchLimits | None = None, timeout: float = 10.0,
              resolver: Any = None) -> RunResult:
    egress = bindings.Egress.from_flags(mode, allow)
    if resolver is not None:
        egress = bindings.Egress(egress.mode, egress.allow, resolver)
    bundle = bindings.build(sources, account="a", event={}, timeout=timeout,
                            fetch=bindings.FetchPolicy(egress, limits or bindings.FetchLimits()))
    artifact = engine.compile(source, "w.js")
    return bundle.finish(engine.run(artifact, bundle.event, capabilities=bundle.capabilities,
                                    data=bundle.data, limits=Limits(timeout=timeout)))


@pytest.fixture
def fetch(engine: Engine, tmp_path: Path) -> Callable[..., RunResult]:
    """Runs a snippet with fetch under the given policy: fetch(source, allow=...)."""
    sources = bindings.Sources(bindings.MemoryKV(), bindings.MemoryDirectory(),
                               bindings.LocalObjectStore(tmp_path / "files"))
    return functools.partial(fetch_run, engine, sources)


def value(result: RunResult) -> Any:
    assert result.error is None, result.error
    return result.value


def test_get_returns_a_standard_response(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const r = await fetch("http://{server}/echo?q=1", {{ headers: {{ "X-Hello": "there" }} }});
      const body = await r.json();
      return [r.status, r.ok, r.statusText, r.headers.get("x-multi"), r.headers.get("Content-Type"),
              r.url, r.redirected, body.method, body.path, body.headers["x-hello"], r.bodyUsed];
    }}""", allow=(server,)))
    assert out == [200, True, "OK", "a, b", "application/json", f"http://{server}/echo?q=1",
                   False, "GET", "/echo?q=1", "there", True]


@pytest.mark.parametrize("body, expect_type, expect", [
    ('"plain text"', "text/plain;charset=UTF-8", "plain text"),
    ("JSON.stringify({a: 1})", "text/plain;charset=UTF-8", '{"a":1}'),
    ("new URLSearchParams({a: '1', b: 'x y'})", "application/x-www-form-urlencoded;charset=UTF-8",
     "a=1&b=x+y"),
    ("new Uint8Array([104, 105])", None, "hi"),
    ("new Blob(['blob'], {type: 'text/x'})", "text/x", "blob"),
    ("new ReadableStream({start(c) { c.enqueue(new TextEncoder().encode('str')); c.close(); }})",
     None, "str"),
])
def test_post_bodies_arrive_as_sent(fetch: Callable[..., RunResult], server: str, body: str,
                                    expect_type: str | None, expect: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const r = await fetch("http://{server}/echo", {{ method: "POST", body: {body} }});
      const got = await r.json();
      return [got.body, got.headers["content-type"] ?? null];
    }}""", allow=(server,)))
    assert out == [expect, expect_type]


def test_form_data_body_is_multipart(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const form = new FormData();
      form.append("name", "ada");
      form.append("doc", new File(["contents"], "a.txt", {{ type: "text/plain" }}));
      const r = await fetch("http://{server}/echo", {{ method: "POST", body: form }});
      const got = await r.json();
      const back = await new Request("http://x/", {{ method: "POST", body: got.body,
        headers: {{ "content-type": got.headers["content-type"] }} }}).formData();
      return [back.get("name"), back.get("doc").name, await back.get("doc").text()];
    }}""", allow=(server,)))
    assert out == ["ada", "a.txt", "contents"]


def test_requests_started_together_are_in_flight_together(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const t = Date.now();
      const all = await Promise.all(Array.from({{ length: 10 }},
        () => fetch("http://{server}/slow?ms=200").then((r) => r.status)));
      return [all, Date.now() - t];
    }}""", allow=(server,)))
    assert out[0] == [200] * 10
    assert out[1] < 1000, f"10 requests of 200 ms took {out[1]} ms: not in parallel"


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1:9/", "loopback"),
    ("http://localhost:9/", "loopback"),
    ("http://[::1]:9/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://0.0.0.0:9/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://2130706433:9/", "loopback"),
    ("http://[::ffff:127.0.0.1]:9/", "loopback"),
])
def test_non_public_addresses_are_refused(fetch: Callable[..., RunResult], url: str, kind: str) -> None:
    out = value(fetch(f"""export default async function () {{
      try {{ await fetch("{url}"); return "fetched"; }}
      catch (e) {{ return [e instanceof TypeError, e.message]; }}
    }}"""))
    assert out[0] is True and "not allowed by the egress policy" in out[1] and kind in out[1]


def test_allowing_one_port_does_not_allow_another(fetch: Callable[..., RunResult], server: str) -> None:
    host, port = server.split(":")
    out = value(fetch(f"""export default async function () {{
      try {{ await fetch("http://{host}:{int(port) + 1}/"); return "fetched"; }}
      catch (e) {{ return e.message; }}
    }}""", allow=(server,)))
    assert "not allowed by the egress policy" in out


def test_a_redirect_to_a_refused_address_is_refused(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      try {{ await fetch("http://{server}/redirect?to=http%3A%2F%2F127.0.0.2%3A{server.split(':')[1]}%2Fecho"); return "followed"; }}
      catch (e) {{ return e.message; }}
    }}""", allow=(server,)))
    assert "127.0.0.2" in out and "not allowed by the egress policy" in out


def test_redirect_modes(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const to = "/redirect?to=http%3A%2F%2F{server}%2Fecho&status=303";
      const followed = await fetch("http://{server}" + to, {{ method: "POST", body: "x" }});
      const manual = await fetch("http://{server}" + to, {{ redirect: "manual" }});
      let error;
      try {{ await fetch("http://{server}" + to, {{ redirect: "error" }}); }} catch (e) {{ error = e.name; }}
      const got = await followed.json();
      return [followed.redirected, followed.url, got.method, manual.status,
              manual.headers.get("location"), error];
    }}""", allow=(server,)))
    assert out == [True, f"http://{server}/echo", "GET", 303, f"http://{server}/echo",
                   "TypeError"]


def test_egress_none_refuses_even_public_hosts(fetch: Callable[..., RunResult]) -> None:
    out = value(fetch("""export default async function () {
      try { await fetch("https://example.com/"); return "fetched"; }
      catch (e) { return e.message; }
    }""", mode="none", resolver=lambda host, port: ["93.184.216.34"]))
    assert "egress none" in out


def test_a_name_resolving_to_a_private_address_is_refused(fetch: Callable[..., RunResult]) -> None:
    # DNS that points a public-looking name at the inside (rebinding).
    out = value(fetch("""export default async function () {
      try { await fetch("http://rebind.example/"); return "fetched"; }
      catch (e) { return e.message; }
    }""", resolver=lambda host, port: ["10.0.0.5"]))
    assert "resolves to 10.0.0.5" in out and "private" in out


def test_a_slow_server_times_out_naming_the_limit(fetch: Callable[..., RunResult], server: str) -> None:
    started = time.monotonic()
    out = value(fetch(f"""export default async function () {{
      try {{ await fetch("http://{server}/slow?ms=3000"); return "fetched"; }}
      catch (e) {{ return [e.name, e.message]; }}
    }}""", allow=(server,), limits=bindings.FetchLimits(timeout=0.3)))
    assert out[0] == "TypeError" and "timed out" in out[1] and "limit timeout" in out[1]
    assert time.monotonic() - started < 2.5


def test_a_fetch_never_outlives_the_execution(fetch: Callable[..., RunResult], server: str) -> None:
    result = fetch(f"""export default async function () {{
      await fetch("http://{server}/slow?ms=3000");
    }}""", allow=(server,), timeout=0.5)
    assert result.error is not None and "timeout" in str(result.error)


def test_a_response_over_the_size_limit_is_refused(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const small = await (await fetch("http://{server}/big?n=1000")).text();
      try {{ await fetch("http://{server}/big?n=5000"); return "fetched"; }}
      catch (e) {{ return [small.length, e.name, e.message]; }}
    }}""", allow=(server,), limits=bindings.FetchLimits(response_bytes=4096)))
    assert out[0] == 1000 and out[1] == "RangeError" and "response_bytes" in out[2]


def test_the_subrequest_limit_is_catchable_and_named(fetch: Callable[..., RunResult], server: str) -> None:
    out = value(fetch(f"""export default async function () {{
      const done = [];
      for (let i = 0; i < 4; i++) {{
        try {{ done.push((await fetch("http://{server}/echo")).status); }}
        catch (e) {{ done.push(e.message); }}
      }}
      return done;
    }}""", allow=(server,), limits=bindings.FetchLimits(subrequests=3)))
    assert out[:3] == [200, 200, 200]
    assert "Too many subrequests" in out[3] and "limit subrequests" in out[3]


def test_abort_stops_a_request_in_flight(fetch: Callable[..., RunResult], server: str) -> None:
    started = time.monotonic()
    out = value(fetch(f"""export default async function () {{
      const c = new AbortController();
      setTimeout(() => c.abort(), 50);
      const timed = fetch("http://{server}/slow?ms=2000", {{ signal: AbortSignal.timeout(80) }})
        .catch((e) => e.name);
      try {{ await fetch("http://{server}/slow?ms=2000", {{ signal: c.signal }}); return "fetched"; }}
      catch (e) {{ return [e.name, await timed]; }}
    }}""", allow=(server,)))
    assert out == ["AbortError", "TimeoutError"]
    assert time.monotonic() - started < 1.5


def test_subrequests_are_logged_without_query_or_secrets(fetch: Callable[..., RunResult], server: str) -> None:
    result = fetch(f"""export default async function () {{
      await fetch("http://{server}/echo?token=hunter2", {{ method: "PUT", body: "x" }});
    }}""", allow=(server,))
    assert result.error is None
    [entry] = [e for e in result.logs if e.message.startswith("fetch ")]
    assert entry.message.startswith(f"fetch PUT http://{server}/echo -> 200 (")
    assert "hunter2" not in entry.message


def test_only_http_urls_can_be_fetched(fetch: Callable[..., RunResult]) -> None:
    out = value(fetch("""export default async function () {
      const out = [];
      for (const u of ["file:///etc/passwd", "data:text/plain,hi", "ftp://x/", "relative"]) {
        try { await fetch(u); out.push("fetched"); } catch (e) { out.push(e.name); }
      }
      return out;
    }"""))
    assert out == ["TypeError"] * 4


def test_without_a_policy_fetch_says_there_is_no_network(run: Any) -> None:
    r = run("export default async function () { await fetch('https://example.com/') }")
    assert isinstance(r.error, UserError) and "no network access" in r.error.reason


# -- the policy's rules, directly ---------------------------------------------------


@pytest.mark.parametrize("address, kind", [
    ("8.8.8.8", None), ("1.1.1.1", None), ("2606:4700::1111", None),
    ("127.0.0.1", "loopback"), ("127.255.0.1", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("100.64.0.1", "shared (CGNAT)"), ("100.127.255.254", "shared (CGNAT)"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("::ffff:10.0.0.1", "private"), ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
])
def test_refused_kinds(address: str, kind: str | None) -> None:
    from bindings.egress import refused_kind

    assert refused_kind(address) == kind


@pytest.mark.parametrize("spec, parsed", [
    ("minio.internal", ("minio.internal", None)), ("127.0.0.1:9000", ("127.0.0.1", 9000)),
    ("[::1]:8080", ("::1", 8080)), ("[::1]", ("::1", None)), ("Host.Example:443", ("host.example", 443)),
])
def test_parse_allow(spec: str, parsed: tuple[str, int | None]) -> None:
    from bindings.egress import parse_allow

    assert parse_allow(spec) == parsed


@pytest.mark.parametrize("spec", ["", "host:0", "host:99999", "host:http", ":80"])
def test_parse_allow_refuses_bad_entries(spec: str) -> None:
    from bindings.egress import parse_allow

    with pytest.raises(ValueError):
        parse_allow(spec)


def test_unknown_egress_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="egress mode"):
        bindings.Egress("open")
