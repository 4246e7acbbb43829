"""Durable workflow benchmark (issue 5).

    .venv/bin/python bench/durable.py [--json] [--steps N] [--instances N] [--waiting N]

In process, on a real SQLite file (WAL, synchronous=FULL: each step's
result is on disk before the code sees it):
  - step overhead: activations running N `step.do` steps, time per step
    over an activation with none (medians of 3 and 5); the reference, in
    the same run and measured the same way, is the same activation over an
    in-memory journal (no database), so the ratio is the price of
    durability;
  - replay: one activation of an instance with 1,000 recorded steps (all
    replayed from the journal, then it suspends again), p50 of 5.
Against a real `flowbox serve` process, over HTTP (Cloudflare's API):
  - instances created per second (POST …/instances, 16 clients);
  - memory (RSS) of the server holding N waiting instances (each asleep
    for an hour), less its RSS before;
  - timer lateness: 200 instances sleeping 1 to 2 s, from the planned
    wake-up to the code running again (instance output), p50 and p99.
The peer, in the same run: miniflare (Cloudflare's local engine, from npm,
tests/miniflare/bench_durable.mjs) running the same workflow as Flowbox
over HTTP: a 100-step instance from create to complete (both polled every
5 ms; p50 and p99 over --reps), and instances created per second through
batch creation (100 a call, steps 0).
Targets: step overhead under 500 us, replay of 1,000 steps under 50 ms,
waiting instances costing only their rows. Prints a table; with --json the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import Connection, Server, percentile

from bindings.journal import MemoryJournal
from bindings.step import StepBinding
from server.config import Config
from server.durable.definitions import ScriptEnv, Settings
from server.durable.instances import NewInstance
from server.service import Service

ACCOUNT = "bench"
LOOP = """
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Loop extends WorkflowEntrypoint {
  async run(event, step) {
    let sum = 0;
    for (let i = 0; i < event.payload.steps; i++) sum += await step.do("s", async () => i);
    await step.sleep("rest", event.payload.sleep ?? "1 hour");
    return Date.now();
  }
}
"""


def in_process(steps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="flowbox-durable-") as tmp:
        service = Service(dataclasses.replace(Config(), data_dir=Path(tmp)))
        try:
            artifact = service.engine.compile(LOOP, "loop.js")
            service.definitions.put_script(ACCOUNT, "loop", "loop.js", LOOP, artifact,
                                           ScriptEnv())
            workflow = service.definitions.put_workflow(ACCOUNT, "loop", "loop", "Loop",
                                                        Settings())
            activator = service.durable.activator

            def activate(name: str, n: int) -> float:
                [instance] = service.instances.create(
                    ACCOUNT, workflow.id, workflow.version_id, [NewInstance(name, {"steps": n})],
                    "api", skip_existing=False)
                start = time.perf_counter()
                ended = activator.activate(instance.id, workflow, "bench")
                took = time.perf_counter() - start
                assert ended.outcome is not None and ended.outcome.status == "waiting", ended
                return took

            # Each path against its own baseline (the same path with no
            # steps), medians of several activations.
            base = statistics.median(activate(f"empty-{i}", 0) for i in range(5))
            durable = statistics.median(activate(f"durable-{i}", steps) for i in range(3))

            def in_memory(n: int) -> float:
                # The peer: the same activation, its journal in memory.
                step = StepBinding(MemoryJournal(), {})
                event = {"payload": {"steps": n}, "timestamp": 0, "instanceId": "m"}
                start = time.perf_counter()
                service.engine.run(artifact, event, capabilities={"step": step}, entry="Loop")
                return time.perf_counter() - start

            memory_base = statistics.median(in_memory(0) for _ in range(5))
            memory = statistics.median(in_memory(steps) for _ in range(3))
            # Replay: the 1,000-step instance made due again, five times.
            [replayed] = service.instances.create(ACCOUNT, workflow.id, workflow.version_id,
                                                  [NewInstance("replay", {"steps": 1000})],
                                                  "api", skip_existing=False)
            activator.activate(replayed.id, workflow, "bench")
            replays = []
            for _ in range(5):
                service.db.execute("UPDATE instances SET wake_at = 0 WHERE id = ?",
                                   (replayed.id,))
                start = time.perf_counter()
                ended = activator.activate(replayed.id, workflow, "bench")
                replays.append(time.perf_counter() - start)
                assert ended.outcome is not None and ended.outcome.status == "waiting"
            assert len(service.instances.steps(replayed.id)) == 1001
        finally:
            service.engine.close()
    return {"step_overhead_us": (durable - base) / steps * 1e6,
            "step_in_memory_us": (memory - memory_base) / steps * 1e6,
            "replay_1000_ms": statistics.median(replays) * 1000}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def over_http(server: Server, instances: int, waiting: int) -> dict[str, float]:
    base = f"/client/v4/accounts/{ACCOUNT}/workflows/loop/instances"
    connections = [await Connection.open(server.url, server.key) for _ in range(16)]
    counter = iter(range(instances))

    async def create(conn: Connection) -> None:
        for i in counter:
            status, text = await conn.request(
                "POST", base, json.dumps({"instance_id": f"c-{i}",
                                          "params": {"steps": 1}}).encode())
            if status != 201:
                raise RuntimeError(f"{status}: {text!r}")

    start = time.perf_counter()
    await asyncio.gather(*(create(c) for c in connections))
    created_per_s = instances / (time.perf_counter() - start)
    async with httpx.AsyncClient(base_url=server.url, timeout=120,
                                 headers={"Authorization": f"Bearer {server.key}"}) as client:
        await _settle(client, "waiting", instances)
        rss_before = _rss_mb(server.proc.pid)
        for c in connections:  # idle through the wait: the server closed them
            c.close()
        conn = await Connection.open(server.url, server.key)
        for first in range(0, waiting, 100):
            batch = [{"instance_id": f"w-{i}", "params": {"steps": 0}}
                     for i in range(first, min(waiting, first + 100))]
            status, text = await conn.request("POST", base + "/batch", json.dumps(batch).encode())
            if status != 201:
                raise RuntimeError(f"{status}: {text!r}")
        await _settle(client, "waiting", instances + waiting)
        rss_after = _rss_mb(server.proc.pid)
        conn.close()
        conn = await Connection.open(server.url, server.key)
        # Timers: 200 instances sleeping 1 to 2 s.
        for first in range(0, 200, 100):
            batch = [{"instance_id": f"t-{i}", "params": {"steps": 0, "sleep": 1000 + 5 * i}}
                     for i in range(first, first + 100)]
            await conn.request("POST", base + "/batch", json.dumps(batch).encode())
        await _settle(client, "complete", 200)
        late = []
        for i in range(200):
            got = (await client.get(f"{base}/t-{i}")).json()["result"]
            planned = _iso(got["steps"][0]["end"])
            late.append(got["output"] / 1000 - planned)
        assert min(late) > -0.01, "a timer fired early"
    conn.close()
    return {"instances_per_s": created_per_s, "waiting_rss_mb": rss_after - rss_before,
            "timer_late_p50_ms": statistics.median(late) * 1000,
            "timer_late_p99_ms": percentile(late, 0.99) * 1000}


STEPS = """
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Steps extends WorkflowEntrypoint {
  async run(event, step) {
    let sum = 0;
    for (let i = 0; i < event.payload.steps; i++) sum += await step.do("s" + i, async () => i);
    return sum;
  }
}
"""
MINIFLARE = Path(__file__).resolve().parent.parent / "tests" / "miniflare"


def against_miniflare(server: Server, reps: int, batch: int) -> dict[str, Any]:
    """The same two measures on Flowbox (over HTTP) and on miniflare."""
    headers = {"Authorization": f"Bearer {server.key}"}
    base = f"{server.url}/client/v4/accounts/{ACCOUNT}"
    files = {"metadata": (None, json.dumps({"main_module": "steps.js"})),
             "steps.js": ("steps.js", STEPS, "application/javascript+module")}
    with httpx.Client(headers=headers, timeout=60) as client:
        client.put(f"{base}/workers/scripts/steps", files=files).raise_for_status()
        client.put(f"{base}/workflows/steps", json={"class_name": "Steps",
                                                     "script_name": "steps"}).raise_for_status()
        times = []
        for r in range(reps + 1):
            start = time.perf_counter()
            client.post(f"{base}/workflows/steps/instances", json={
                "instance_id": f"s-{r}", "params": {"steps": 100}}).raise_for_status()
            while (status := client.get(f"{base}/workflows/steps/instances/s-{r}").json()
                   ["result"]["status"]) != "complete":
                if status == "errored":
                    raise RuntimeError("the 100-step instance errored")
                time.sleep(0.005)
            if r:  # the first warms up
                times.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        for first in range(0, batch, 100):
            client.post(f"{base}/workflows/steps/instances/batch", json=[
                {"instance_id": f"b-{i}", "params": {"steps": 0}}
                for i in range(first, min(batch, first + 100))]).raise_for_status()
        batch_per_s = batch / (time.perf_counter() - start)
    proc = subprocess.run(["node", str(MINIFLARE / "bench_durable.mjs"), str(reps), str(batch)],
                          capture_output=True, text=True, cwd=MINIFLARE, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError("miniflare (./test.sh installs it): " + proc.stderr[-2000:])
    peer = json.loads(proc.stdout)
    return {"steps100_p50_ms": statistics.median(times),
            "steps100_p99_ms": percentile(times, 0.99),
            "peer_steps100_p50_ms": statistics.median(peer["create_to_complete_ms"]),
            "peer_steps100_p99_ms": percentile(peer["create_to_complete_ms"], 0.99),
            "batch_per_s": batch_per_s, "peer_batch_per_s": peer["batch_per_s"]}


def _iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _settle(client: httpx.AsyncClient, status: str, count: int) -> None:
    deadline = time.monotonic() + 600
    while True:
        got = (await client.get(f"/client/v4/accounts/{ACCOUNT}/workflows/loop")).json()
        if got["result"]["instances"].get(status, 0) >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"instances did not reach {status}: {got['result']['instances']}")
        await asyncio.sleep(0.1)


def setup_server(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.key}"}
    base = f"{server.url}/client/v4/accounts/{ACCOUNT}"
    files = {"metadata": (None, json.dumps({"main_module": "loop.js"})),
             "loop.js": ("loop.js", LOOP, "application/javascript+module")}
    httpx.put(f"{base}/workers/scripts/loop", files=files, headers=headers).raise_for_status()
    httpx.put(f"{base}/workflows/loop", json={"class_name": "Loop", "script_name": "loop"},
              headers=headers).raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--steps", type=int, default=1000, help="steps in the overhead run")
    parser.add_argument("--instances", type=int, default=1000, help="instances to create")
    parser.add_argument("--waiting", type=int, default=10_000, help="waiting instances held")
    parser.add_argument("--reps", type=int, default=20, help="100-step instances, each engine")
    parser.add_argument("--batch", type=int, default=500, help="instances batch-created")
    args = parser.parse_args()
    result: dict[str, Any] = in_process(args.steps)
    with tempfile.TemporaryDirectory(prefix="flowbox-durable-") as tmp:
        server = Server(Path(tmp) / "data", workers=2)
        try:
            setup_server(server)
            result.update(against_miniflare(server, args.reps, args.batch))
            result.update(asyncio.run(over_http(server, args.instances, args.waiting)))
        finally:
            server.stop()
    ratio = result["step_overhead_us"] / max(result["step_in_memory_us"], 1e-9)
    print(f"{'measure':<34} {'value':>10}")
    rows = [("step.do, persisted (us/step)", result["step_overhead_us"]),
            ("step.do, in-memory peer (us/step)", result["step_in_memory_us"]),
            ("  ratio persisted / in-memory", ratio),
            ("replay of 1,000 steps p50 (ms)", result["replay_1000_ms"]),
            ("instances created per second", result["instances_per_s"]),
            (f"RSS of {args.waiting} waiting (MB)", result["waiting_rss_mb"]),
            ("timer lateness p50 (ms)", result["timer_late_p50_ms"]),
            ("timer lateness p99 (ms)", result["timer_late_p99_ms"]),
            ("100-step instance p50 (ms)", result["steps100_p50_ms"]),
            ("  miniflare p50 (ms)", result["peer_steps100_p50_ms"]),
            ("100-step instance p99 (ms)", result["steps100_p99_ms"]),
            ("  miniflare p99 (ms)", result["peer_steps100_p99_ms"]),
            ("batch-created instances per second", result["batch_per_s"]),
            ("  miniflare per second", result["peer_batch_per_s"])]
    for name, value in rows:
        print(f"{name:<34} {value:10.2f}")
    if args.json:
        summary = {k: round(v, 2) for k, v in result.items()}
        summary["waiting_10k_rss_mb"] = summary.pop("waiting_rss_mb")
        summary["waiting_instances"] = args.waiting
        summary["step_overhead_ratio"] = round(ratio, 2)
        summary["steps100_ratio_to_miniflare"] = round(
            result["steps100_p50_ms"] / result["peer_steps100_p50_ms"], 3)
        summary["batch_ratio_to_miniflare"] = round(
            result["batch_per_s"] / result["peer_batch_per_s"], 3)
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
