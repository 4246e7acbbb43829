"""Workers runtime benchmark: fetch and crypto.subtle in the sandbox against
raw Python doing the same work, and the cost of the new globals, in one run.

    .venv/bin/python bench/runtime.py [--json] [--reps N]

- parallel fetch: ten requests of 200 ms started together (Promise.all)
  against the same ten one after another, both in the guest; the ideal
  ratio is 0.1.
- fetch round trip: one GET of a small body from a local server, in the
  guest, against Python's http.client doing the same request.
- crypto.subtle: HMAC-SHA256 and SHA-256 of 1 MB in the guest against
  Python's hmac and hashlib.
- fresh run: a fresh instance running a trivial module, with the web
  platform in the guest and with the baseline guest built without it
  (built on first use by sandbox/build.py); the new globals are in the snapshot, so
  the two should be within noise.

Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bindings
from sandbox import Engine, Limits, build

TRIVIAL = "export default async function (event) { return { ok: true, n: event.n } }"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(0.2)
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


def timed(fn: Any, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


class Guest:
    """Runs snippets with fetch allowed to the local server."""

    def __init__(self, engine: Engine, server: str, tmp: Path) -> None:
        self.engine = engine
        self.sources = bindings.Sources(bindings.MemoryKV(), bindings.MemoryDirectory(),
                                        bindings.LocalObjectStore(tmp))
        self.policy = bindings.FetchPolicy(bindings.Egress.from_flags("public", [server]),
                                           bindings.FetchLimits(subrequests=1000))

    def runner(self, source: str, event: Any = None) -> Any:
        artifact = self.engine.compile(source, "bench.js")

        def run() -> Any:
            bundle = bindings.build(self.sources, account="bench", event={}, timeout=30,
                                    fetch=self.policy)
            result = self.engine.run(artifact, event, capabilities=bundle.capabilities,
                                     data=bundle.data, limits=Limits(timeout=30))
            if result.error is not None:
                raise RuntimeError(str(result.error))
            return result.value

        return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args(argv)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = f"127.0.0.1:{httpd.server_address[1]}"
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "flowbox-bench-runtime"
    rows: dict[str, Any] = {}
    with Engine(adapters=bindings.ADAPTERS) as engine:
        guest = Guest(engine, server, tmp)
        parallel = guest.runner(f"""export default async function () {{
          await Promise.all(Array.from({{length: 10}}, () => fetch("http://{server}/slow").then((r) => r.text())));
        }}""")
        serial = guest.runner(f"""export default async function () {{
          for (let i = 0; i < 10; i++) await (await fetch("http://{server}/slow")).text();
        }}""")
        p_par, _ = percentiles(timed(parallel, 5))
        p_ser, _ = percentiles(timed(serial, 3))
        rows["parallel_fetch"] = {"parallel_ms": p_par * 1e3, "serial_ms": p_ser * 1e3,
                                  "ratio": p_par / p_ser}

        one = guest.runner(f"""export default async function () {{
          return (await fetch("http://{server}/small")).text();
        }}""")

        def raw() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", httpd.server_address[1])
            conn.request("GET", "/small")
            conn.getresponse().read()
            conn.close()

        timed(one, 20)
        f50, f99 = percentiles(timed(one, args.reps))
        r50, r99 = percentiles(timed(raw, args.reps))
        rows["fetch_round_trip"] = {"flowbox_p50_ms": f50 * 1e3, "flowbox_p99_ms": f99 * 1e3,
                                    "python_p50_ms": r50 * 1e3, "python_p99_ms": r99 * 1e3,
                                    "ratio": f50 / r50}

        mb = os.urandom(1024 * 1024)
        event = {"hex": mb.hex()}
        prep = "const data = Uint8Array.fromHex(event.hex);"
        sha = guest.runner(f"""export default async function (event) {{ {prep}
          const t = performance.now(); await crypto.subtle.digest("SHA-256", data);
          return performance.now() - t; }}""", event)
        mac = guest.runner(f"""export default async function (event) {{ {prep}
          const k = await crypto.subtle.importKey("raw", new Uint8Array(32), {{name: "HMAC", hash: "SHA-256"}}, false, ["sign"]);
          const t = performance.now(); await crypto.subtle.sign("HMAC", k, data);
          return performance.now() - t; }}""", event)
        reps = max(10, args.reps // 10)
        g_sha = percentiles([sha() / 1e3 for _ in range(reps)])[0]
        g_mac = percentiles([mac() / 1e3 for _ in range(reps)])[0]
        p_sha = percentiles(timed(lambda: hashlib.sha256(mb).digest(), reps))[0]
        p_mac = percentiles(timed(lambda: hmac.new(bytes(32), mb, "sha256").digest(), reps))[0]
        rows["sha256_1mb"] = {"flowbox_ms": g_sha * 1e3, "python_ms": p_sha * 1e3,
                              "ratio": g_sha / p_sha}
        rows["hmac_sha256_1mb"] = {"flowbox_ms": g_mac * 1e3, "python_ms": p_mac * 1e3,
                                   "ratio": g_mac / p_mac}
        fresh_new = fresh_run(engine, args.reps)
    with Engine(wasm_path=build.build_wasm(baseline=True)) as base:
        fresh_base = fresh_run(base, args.reps)
    httpd.shutdown()
    rows["fresh_run"] = {"with_web_p50_ms": fresh_new[0] * 1e3,
                         "with_web_p99_ms": fresh_new[1] * 1e3,
                         "baseline_p50_ms": fresh_base[0] * 1e3,
                         "baseline_p99_ms": fresh_base[1] * 1e3,
                         "ratio": fresh_new[0] / fresh_base[0]}
    report(rows)
    if args.json:
        print(json.dumps({
            "parallel_fetch_ratio": round(rows["parallel_fetch"]["ratio"], 3),
            "fetch_overhead_ratio": round(rows["fetch_round_trip"]["ratio"], 2),
            "fresh_run_p50_ms": round(rows["fresh_run"]["with_web_p50_ms"], 3),
            "fresh_run_ratio": round(rows["fresh_run"]["ratio"], 3),
            "sha256_ratio": round(rows["sha256_1mb"]["ratio"], 2),
            "hmac_ratio": round(rows["hmac_sha256_1mb"]["ratio"], 2),
            "rows": rows}))
    return 0


def fresh_run(engine: Engine, reps: int) -> tuple[float, float]:
    artifact = engine.compile(TRIVIAL, "t.js")
    timed(lambda: engine.run(artifact, {"n": 1}), 50)
    return percentiles(timed(lambda: engine.run(artifact, {"n": 1}), reps * 5))


def report(rows: dict[str, Any]) -> None:
    pf, rt = rows["parallel_fetch"], rows["fetch_round_trip"]
    sha, mac, fr = rows["sha256_1mb"], rows["hmac_sha256_1mb"], rows["fresh_run"]
    lines = [
        ("measure", "flowbox", "peer", "ratio"),
        ("10 fetches of 200 ms, together vs one by one", f"{pf['parallel_ms']:.0f} ms",
         f"{pf['serial_ms']:.0f} ms (serial)", f"{pf['ratio']:.3f}"),
        ("fetch round trip p50 / p99", f"{rt['flowbox_p50_ms']:.2f} / {rt['flowbox_p99_ms']:.2f} ms",
         f"{rt['python_p50_ms']:.2f} / {rt['python_p99_ms']:.2f} ms (http.client)",
         f"{rt['ratio']:.2f}"),
        ("SHA-256 of 1 MB", f"{sha['flowbox_ms']:.2f} ms", f"{sha['python_ms']:.2f} ms (hashlib)",
         f"{sha['ratio']:.2f}"),
        ("HMAC-SHA256 of 1 MB", f"{mac['flowbox_ms']:.2f} ms", f"{mac['python_ms']:.2f} ms (hmac)",
         f"{mac['ratio']:.2f}"),
        ("fresh run p50 / p99", f"{fr['with_web_p50_ms']:.3f} / {fr['with_web_p99_ms']:.3f} ms",
         f"{fr['baseline_p50_ms']:.3f} / {fr['baseline_p99_ms']:.3f} ms (guest without web)",
         f"{fr['ratio']:.3f}"),
    ]
    widths = [max(len(r[i]) for r in lines) for i in range(4)]
    for r in lines:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    raise SystemExit(main())
