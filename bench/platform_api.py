"""Platform API benchmark: a real `flowbox serve` process on loopback.

    .venv/bin/python bench/platform_api.py [--json] [--deploys N] [--calls N]

Measures, one request at a time unless said:
  - compile: `POST /api/workflows/:id/versions` of a ~15-line TypeScript
    workflow, p50 and p99;
  - deploy: `POST /api/workflows/:id/deploy` (every stage: artifact check,
    env and bindings, Worker script, Cloudflare workflow, activation);
  - function: `POST /functions/:id` with a small JSON body, answered by a
    fresh sandbox each time, p50 and p99; and calls per second with 16
    connections in flight.
The peer, in the same run against the same server, is its HTTP floor:
`GET /health` measured the same way. Prints a table; with --json the last
line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service import ROOT, Connection, Server, percentile

WORKFLOW = """
import { WorkflowEntrypoint } from "cloudflare:workers";
type Order = { id: string; total: number };
export class Billing extends WorkflowEntrypoint {
  async run(event: { payload: Order }, step: any) {
    const order = event.payload;
    const charged = await step.do("charge", async () => ({ id: order.id, at: Date.now() }));
    await step.sleep("settle", "1 second");
    const receipt: string = await step.do("receipt", async () => `${this.env.SHOP} ${order.total}`);
    return { charged, receipt };
  }
}
"""
FUNCTION = "export default async (event, env) => ({ echo: event.payload, shop: env.SHOP });"


def timed(client: httpx.Client, n: int, method: str, path: str,
          body: dict[str, object] | None = None, expect: int = 200) -> list[float]:
    """Milliseconds of n requests made one after another."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.request(method, path, json=body)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == expect, r.text
    return out


async def per_second(server: Server, n: int, method: str, path: str, body: bytes) -> float:
    """Requests per second with 16 connections in flight."""
    counter = iter(range(n))
    connections = [await Connection.open(server.url, server.key) for _ in range(16)]

    async def worker(conn: Connection) -> None:
        for _ in counter:
            status, answer = await conn.request(method, path, body)
            assert status == 200, answer

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - start
    for conn in connections:
        conn.close()
    return n / elapsed


def measure(server: Server, session: str, deploys: int, calls: int) -> dict[str, float]:
    api = httpx.Client(base_url=server.url + "/api",
                       headers={"Authorization": f"Bearer {session}"}, timeout=60)
    api.post("/env-vars", json={"name": "SHOP", "value": "Flowbox Shop"})
    wf = api.post("/workflows", json={"name": "Billing"}).json()["id"]
    compile_ms = timed(api, deploys, "POST", f"/workflows/{wf}/versions",
                       {"code": WORKFLOW, "language": "typescript"}, 201)
    deploy_ms = timed(api, deploys, "POST", f"/workflows/{wf}/deploy", {}, 201)
    fn = api.post("/workflows", json={"name": "echo", "kind": "script"}).json()["id"]
    api.post(f"/workflows/{fn}/versions", json={"code": FUNCTION, "language": "javascript"})
    api.post(f"/workflows/{fn}/deploy", json={})
    call_ms = timed(api, calls, "POST", f"{server.url}/functions/{fn}", {"n": 1})
    floor_ms = timed(api, calls, "GET", f"{server.url}/health")
    body = json.dumps({"n": 1}).encode()
    calls_s = asyncio.run(per_second(server, calls, "POST", f"/functions/{fn}", body))
    floor_s = asyncio.run(per_second(server, calls, "GET", "/health", b""))
    api.close()
    return {
        "compile_p50_ms": percentile(compile_ms, 0.5),
        "compile_p99_ms": percentile(compile_ms, 0.99),
        "deploy_p50_ms": percentile(deploy_ms, 0.5), "deploy_p99_ms": percentile(deploy_ms, 0.99),
        "function_p50_ms": percentile(call_ms, 0.5), "function_p99_ms": percentile(call_ms, 0.99),
        "floor_p50_ms": percentile(floor_ms, 0.5), "floor_p99_ms": percentile(floor_ms, 0.99),
        "function_calls_per_s": calls_s, "floor_per_s": floor_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--deploys", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), workers=2)
        try:
            session = subprocess.run(
                [sys.executable, "-m", "server.cli", "sessions", "create", "--account", "bench",
                 "--data-dir", tmp], cwd=ROOT, capture_output=True, text=True,
                check=True).stdout.strip()
            result = measure(server, session, args.deploys, args.calls)
        finally:
            server.stop()
    r = result
    rows = [("compile a version (TypeScript)", r["compile_p50_ms"], r["compile_p99_ms"], "ms"),
            ("deploy (all stages)", r["deploy_p50_ms"], r["deploy_p99_ms"], "ms"),
            ("function call, POST /functions/:id", r["function_p50_ms"],
             r["function_p99_ms"], "ms"),
            ("peer: GET /health", r["floor_p50_ms"], r["floor_p99_ms"], "ms")]
    print(f"{'measure':40} {'p50':>9} {'p99':>9}")
    for name, p50, p99, unit in rows:
        print(f"{name:40} {p50:7.2f}{unit} {p99:7.2f}{unit}")
    print(f"{'function calls/s, 16 in flight':40} {r['function_calls_per_s']:9.0f} "
          f"(peer /health {r['floor_per_s']:.0f}/s, ratio "
          f"{r['function_calls_per_s'] / r['floor_per_s']:.2f})")
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
