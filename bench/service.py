"""Service benchmark: a real `flowbox serve` process on loopback, driven
over HTTP like an operator would.

    .venv/bin/python bench/service.py [--json] [--events N] [--concurrency C]

For a trivial workflow, with 1 and with 10 matching workflows per event:
  - throughput: N events posted by C concurrent clients as fast as the
    server accepts them; events accepted per second, and finished runs per
    second (from the first post to the last run finishing);
  - latency when idle: events posted one at a time, 20 ms apart, event
    accepted to run finished (the run's finished_at less the event's time,
    both the server's clock), p50 and p99;
  - latency under load: events posted at a steady rate of 80% of the
    throughput just measured (as runs), for about 4 seconds, the same
    measure, p50 and p99.
Each scenario is reported under its own name (no headline maximum).
The peer, measured in the same run against the same server, is its bare
HTTP floor: GET /health with the same clients (no auth, no storage). The
table reports events/s as a ratio of it. Target (issue 4): at least 500
finished runs per second, event-to-done p50 under 10 ms.
Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = "export default async (event) => event.data.n;"


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`flowbox serve` in its own process, on a fresh data directory (or on
    a PostgreSQL database, with `FLOWBOX_DATABASE_URL` in `extra`)."""

    def __init__(self, data_dir: Path, workers: int,
                 extra: dict[str, str] | None = None) -> None:
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FLOWBOX_RATE_GLOBAL": "0", "FLOWBOX_RATE_WRITE": "0",
               "FLOWBOX_RATE_EVENTS": "0", "FLOWBOX_RATE_DEPLOY": "0",
               "FLOWBOX_MAX_QUEUED": "200000",
               "FLOWBOX_MAX_QUEUED_PER_ACCOUNT": "200000", "FLOWBOX_WORKERS": str(workers),
               **(extra or {})}
        cli = [sys.executable, "-m", "server.cli"]
        self.key = subprocess.run([*cli, "keys", "create", "--account", "bench", "--scopes",
                                   "read,write", "--data-dir", str(data_dir)], cwd=ROOT,
                                  env=env, capture_output=True, text=True,
                                  check=True).stdout.strip()
        self.proc = subprocess.Popen([*cli, "serve", "--data-dir", str(data_dir), "--port",
                                      str(self.port)], cwd=ROOT, env=env,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Connection:
    """A bare keep-alive HTTP/1.1 connection: the load generator shares the
    machine's two cores with the server, so it must cost little per request
    (httpx costs several times what the server does)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 headers: str) -> None:
        self.reader, self.writer, self.headers = reader, writer, headers

    @classmethod
    async def open(cls, url: str, key: str) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, f"Host: {host}\r\nAuthorization: Bearer {key}\r\n")

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.headers}Content-Length: "
                          f"{len(body)}\r\nContent-Type: application/json\r\n\r\n".encode()
                          + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def _blast(server: Server, n: int, concurrency: int, method: str, path: str,
                 body: dict[str, Any] | None = None) -> float:
    """Sends n requests with `concurrency` in flight; returns seconds taken."""
    counter = iter(range(n))
    connections = [await Connection.open(server.url, server.key) for _ in range(concurrency)]

    async def worker(conn: Connection) -> None:
        for i in counter:
            payload = b"" if body is None else json.dumps({**body, "data": {"n": i}}).encode()
            status, text = await conn.request(method, path, payload)
            if status >= 300:
                raise RuntimeError(f"{status}: {text!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    took = time.perf_counter() - start
    for conn in connections:
        conn.close()
    return took


async def _runs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        data = (await client.get("/v1/accounts/bench/runs", params=params)).json()["data"]
        runs += data["runs"]
        if not (cursor := data["next_cursor"]):
            return runs


async def _wait_done(client: httpx.AsyncClient, expected: int) -> float:
    """Waits until `expected` runs finished; returns the time it happened."""
    while True:
        r = await client.get("/health")
        if r.json()["backlog"] == 0:
            runs = await _runs(client)
            done = [x for x in runs if x["status"] in ("complete", "errored")]
            if len(done) >= expected:
                return time.perf_counter()
        await asyncio.sleep(0.05)


def _iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def scenario(server: Server, workflows: int, events: int, concurrency: int,
                   paced: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {server.key}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits,
                                 timeout=60) as client:
        for n in range(workflows):
            (await client.post("/v1/accounts/bench/workflows", json={
                "name": f"trivial {n}", "code": TRIVIAL, "events": ["user.updated"]})
             ).raise_for_status()
        floor = events / await _blast(server, events, concurrency, "GET", "/health")
        start = time.perf_counter()
        took = await _blast(server, events, concurrency, "POST", "/v1/accounts/bench/events",
                            {"type": "user.updated"})
        done_at = await _wait_done(client, events * workflows)
        runs_per_s = events * workflows / (done_at - start)
        # latency: one event at a time, paced so the queue stays empty
        before = {r["id"] for r in await _runs(client)}
        for i in range(paced):
            await client.post("/v1/accounts/bench/events",
                              json={"type": "user.updated", "data": {"n": i}})
            await asyncio.sleep(0.02)
        await _wait_done(client, (events + paced) * workflows)
        runs = await _runs(client)
        latencies = [(_iso(r["finished_at"]) - _iso(r["created_at"])) * 1000
                     for r in runs if r["id"] not in before]
        # latency under load: open-loop posting at 80% of the throughput
        before = {r["id"] for r in runs}
        rate = 0.8 * runs_per_s / workflows
        loaded = max(20, min(2000, int(rate * 4)))
        await _paced(client, rate, loaded)
        await _wait_done(client, (events + paced + loaded) * workflows)
        runs = await _runs(client)
        under_load = [(_iso(r["finished_at"]) - _iso(r["created_at"])) * 1000
                      for r in runs if r["id"] not in before]
    errored = [r for r in runs if r["status"] != "complete"]
    if errored:
        raise RuntimeError(f"{len(errored)} runs did not complete: {errored[0]}")
    return {"events_per_s": events / took, "http_floor_per_s": floor,
            "runs_per_s": runs_per_s, "event_to_done_p50_ms": statistics.median(latencies),
            "event_to_done_p99_ms": percentile(latencies, 0.99),
            "loaded_events_per_s": rate,
            "loaded_p50_ms": statistics.median(under_load),
            "loaded_p99_ms": percentile(under_load, 0.99)}


async def _paced(client: httpx.AsyncClient, rate: float, count: int) -> None:
    """Posts `count` events at `rate` per second, each on time whatever the
    previous ones take (open loop)."""
    start = time.perf_counter()

    async def post(i: int) -> None:
        r = await client.post("/v1/accounts/bench/events",
                              json={"type": "user.updated", "data": {"n": i}})
        r.raise_for_status()

    tasks = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(i)))
    await asyncio.gather(*tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--events", type=int, default=1000, help="events per throughput phase")
    parser.add_argument("--paced", type=int, default=200, help="events in the latency phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2),
                        help="server worker threads (default: the server's, one per core)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for workflows in (1, 10):
        with tempfile.TemporaryDirectory(prefix="flowbox-bench-") as tmp:
            server = Server(Path(tmp) / "data", args.workers)
            try:
                events = args.events if workflows == 1 else max(1, args.events // 10)
                results[str(workflows)] = asyncio.run(scenario(
                    server, workflows, events, args.concurrency, args.paced))
            finally:
                server.stop()
    print(f"{'workflows/event':>15} {'events/s':>9} {'floor/s':>8} {'ratio':>6} {'runs/s':>8} "
          f"{'idle p50':>9} {'idle p99':>9} {'load ev/s':>9} {'load p50':>9} {'load p99':>9}")
    for name, r in results.items():
        print(f"{name:>15} {r['events_per_s']:9.0f} {r['http_floor_per_s']:8.0f} "
              f"{r['events_per_s'] / r['http_floor_per_s']:6.2f} {r['runs_per_s']:8.0f} "
              f"{r['event_to_done_p50_ms']:9.2f} {r['event_to_done_p99_ms']:9.2f} "
              f"{r['loaded_events_per_s']:9.0f} {r['loaded_p50_ms']:9.2f} "
              f"{r['loaded_p99_ms']:9.2f}")
    summary = {f"{key}_{name}wf": round(value, 2) for name, r in results.items()
               for key, value in r.items()}
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
