"""Scale-out benchmark (issue 15), for what exists so far: several nodes on
one PostgreSQL database, and the durable engine's costs on PostgreSQL
against SQLite.

    .venv/bin/python bench/scale.py [--json] [--events N] [--steps N]

  - pickup: two `flowbox serve` nodes on one PostgreSQL database (a schema
    of their own, sweeps a minute apart). Node A's one worker is held by a
    gated run; N events are posted to A one at a time, so each run can only
    start on node B, told by A's announcement. Event to done, p50 and p99.
    The peer in the same run: the same events on an idle node A, which
    runs them itself (the floor of event to done).
  - step cost against a bare commit, in process, on PostgreSQL and on
    SQLite: per persisted `step.do` (an activation of N steps less an
    empty one, medians), and one single-row write transaction of the same
    database (median of 200); the ratio is what a step adds to its commit.
  - replay: an activation of an instance with 1,000 recorded steps, p50
    of 5, on each database.
Not measured yet: throughput with 1, 2 and 4 worker processes (there are
no worker processes yet). Prints a table; with --json the last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import Server, percentile

from server.config import Config
from server.durable.definitions import ScriptEnv, Settings
from server.durable.instances import NewInstance
from server.service import Service

PG = "host=127.0.0.1 dbname=test user=postgres"
GATED = """export default async (e, { store }) => {
  while (!(await store.get("go"))) await new Promise((r) => setTimeout(r, 20));
  return 1;
};"""
QUICK = "export default async () => 1;"
LOOP = """
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Loop extends WorkflowEntrypoint {
  async run(event, step) {
    for (let i = 0; i < event.payload.steps; i++) await step.do("s", async () => i);
    await step.sleep("rest", "1 hour");
  }
}
"""


@contextmanager
def pg_schema() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG} options=-csearch_path={schema}"
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _run(client: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/v1/accounts/bench/runs/{run_id}").json()["data"]["run"]
        if run["status"] in ("complete", "errored"):
            return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still {run['status']}")
        time.sleep(0.005)


def _latencies(client: httpx.Client, events: int, kind: str) -> list[float]:
    out = []
    for _ in range(events):
        r = client.post("/v1/accounts/bench/events", json={"type": kind})
        run = _run(client, r.json()["data"]["runs"][0]["id"])
        out.append((_at(run["finished_at"]) - _at(run["created_at"])) * 1000)
    return out


def pickup(events: int) -> dict[str, float]:
    with pg_schema() as url, tempfile.TemporaryDirectory() as tmp:
        extra = {"FLOWBOX_DATABASE_URL": url, "FLOWBOX_SWEEP_INTERVAL": "60",
                 "FLOWBOX_ACCESS_LOG": "off"}
        a = Server(Path(tmp) / "a", 1, extra)
        b = Server(Path(tmp) / "b", 1, extra)
        try:
            with httpx.Client(base_url=a.url, timeout=30,
                              headers={"Authorization": f"Bearer {a.key}"}) as via_a:
                for code, kind in ((GATED, "user.created"), (QUICK, "user.updated")):
                    via_a.post("/v1/accounts/bench/workflows", json={
                        "name": kind, "code": code, "events": [kind]}).raise_for_status()
                local = _latencies(via_a, events, "user.updated")  # the peer: A idle
                gated = via_a.post("/v1/accounts/bench/events", json={"type": "user.created"})
                gated_id = gated.json()["data"]["runs"][0]["id"]
                while via_a.get(f"/v1/accounts/bench/runs/{gated_id}").json()["data"]["run"][
                        "status"] != "running":
                    time.sleep(0.01)
                remote = _latencies(via_a, events, "user.updated")  # only B can run these
                via_a.put("/v1/accounts/bench/stores/default/keys/go", content=b"1")
                _run(via_a, gated_id)
        finally:
            a.stop()
            b.stop()
    return {"pickup_p50_ms": statistics.median(remote), "pickup_p99_ms": percentile(remote, 0.99),
            "local_p50_ms": statistics.median(local), "local_p99_ms": percentile(local, 0.99)}


def engine_costs(config: Config, steps: int) -> dict[str, float]:
    service = Service(config)
    try:
        artifact = service.engine.compile(LOOP, "loop.js")
        service.definitions.put_script("bench", "loop", "loop.js", LOOP, artifact, ScriptEnv())
        workflow = service.definitions.put_workflow("bench", "loop", "loop", "Loop", Settings())
        activator = service.durable.activator

        def activate(name: str, n: int) -> tuple[str, float]:
            [instance] = service.instances.create("bench", workflow.id, workflow.version_id,
                                                  [NewInstance(name, {"steps": n})], "api",
                                                  skip_existing=False)
            start = time.perf_counter()
            ended = activator.activate(instance.id, workflow, "bench")
            assert ended.outcome is not None and ended.outcome.status == "waiting", ended
            return instance.id, time.perf_counter() - start

        base = statistics.median(activate(f"e{i}", 0)[1] for i in range(5))
        full = statistics.median(activate(f"f{i}", steps)[1] for i in range(3))
        db = service.db
        db.execute("CREATE TABLE IF NOT EXISTS bench_commit (k INTEGER PRIMARY KEY, v INTEGER)")
        db.execute("INSERT INTO bench_commit (k, v) VALUES (1, 0)")
        commits = []
        for i in range(200):
            start = time.perf_counter()
            db.execute("UPDATE bench_commit SET v = ? WHERE k = 1", (i,))
            commits.append(time.perf_counter() - start)
        replayed, _ = activate("replay", 1000)
        replays = []
        for _ in range(5):
            db.execute("UPDATE instances SET wake_at = 0 WHERE id = ?", (replayed,))
            start = time.perf_counter()
            activator.activate(replayed, workflow, "bench")
            replays.append(time.perf_counter() - start)
    finally:
        service.close()
        service.db.close()
    step_us = (full - base) / steps * 1e6
    commit_us = statistics.median(commits) * 1e6
    return {"step_us": step_us, "commit_us": commit_us, "step_commit_ratio": step_us / commit_us,
            "replay_1000_ms": statistics.median(replays) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--events", type=int, default=100, help="events per pickup phase")
    parser.add_argument("--steps", type=int, default=300, help="steps per timed activation")
    args = parser.parse_args()
    result: dict[str, float] = pickup(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = engine_costs(dataclasses.replace(Config(), data_dir=Path(tmp)), args.steps)
    with pg_schema() as url:
        postgres = engine_costs(dataclasses.replace(Config(), database_url=url), args.steps)
    result.update({f"sqlite_{k}": v for k, v in sqlite.items()})
    result.update({f"postgres_{k}": v for k, v in postgres.items()})
    rows = [("event to done, run by another node, p50 / p99 (ms)",
             f"{result['pickup_p50_ms']:.1f} / {result['pickup_p99_ms']:.1f}"),
            ("  peer: run by the accepting node, p50 / p99 (ms)",
             f"{result['local_p50_ms']:.1f} / {result['local_p99_ms']:.1f}")]
    for name, r in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        rows += [(f"{name}: persisted step.do (us)", f"{r['step_us']:.0f}"),
                 (f"{name}: bare commit (us); ratio", f"{r['commit_us']:.0f}; "
                                                      f"{r['step_commit_ratio']:.2f}"),
                 (f"{name}: replay of 1,000 steps p50 (ms)", f"{r['replay_1000_ms']:.1f}")]
    for name, value in rows:
        print(f"{name:<52} {value:>16}")
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
