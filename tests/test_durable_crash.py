"""Durable instances survive SIGKILL: a real `flowbox serve` process is
killed while instances are running steps and sleeping; after a restart
every instance completes, and no step recorded before the kill runs its
body again (each body leaves one file per execution, counted on disk)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.live import free_port
from tests.test_crash import make_key, server_process

STEPS = 12
INSTANCES = 8
WORKFLOW = """
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Marks extends WorkflowEntrypoint {
  async run(event, step) {
    let sum = 0;
    for (let i = 0; i < STEPS; i++) {
      sum += await step.do("work", async () => {
        const end = Date.now() + 30; while (Date.now() < end) {}
        await this.env.files.put(`marks/${event.instanceId}/s${i}/${Math.random()}`, "x");
        return i;
      });
      if (i === 5) await step.sleep("nap", 300);
    }
    return sum;
  }
}
""".replace("STEPS", str(STEPS))


def recorded_steps(db: Path) -> set[tuple[str, int]]:
    """(instance id, step index) of every `do` step complete in the journal."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT i.name, s.record FROM instance_steps s "
                            "JOIN instances i ON i.id = s.instance").fetchall()
    finally:
        conn.close()
    done = set()
    for name, text in rows:
        record = json.loads(text)
        if record["kind"] == "do" and record["status"] == "complete":
            done.add((name, int(record["key"].rsplit("#", 1)[1]) - 1))
    return done


def test_sigkill_repeats_no_recorded_step(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir, "crash")
    port = free_port()
    url = f"http://127.0.0.1:{port}/client/v4/accounts/crash"
    headers = {"Authorization": f"Bearer {key}"}
    with server_process(data_dir, port) as proc, httpx.Client(headers=headers,
                                                              timeout=10) as client:
        files = {"metadata": (None, json.dumps({"main_module": "marks.js"})),
                 "marks.js": ("marks.js", WORKFLOW, "application/javascript+module")}
        assert client.put(f"{url}/workers/scripts/marks", files=files).status_code == 201
        r = client.put(f"{url}/workflows/marks", json={"class_name": "Marks",
                                                        "script_name": "marks"})
        assert r.status_code == 200, r.text
        r = client.post(f"{url}/workflows/marks/instances/batch",
                        json=[{"instance_id": f"i{n}"} for n in range(INSTANCES)])
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 60
        while len(recorded_steps(data_dir / "flowbox.db")) < INSTANCES * STEPS // 3:
            assert time.monotonic() < deadline, "the instances made no progress"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    before = recorded_steps(data_dir / "flowbox.db")
    assert 0 < len(before) < INSTANCES * STEPS, "the kill should land mid-way"

    with server_process(data_dir, port), httpx.Client(headers=headers, timeout=10) as client:
        deadline = time.monotonic() + 120
        while True:
            counts = client.get(f"{url}/workflows/marks").json()["result"]["instances"]
            if counts.get("complete", 0) == INSTANCES:
                break
            assert time.monotonic() < deadline, f"instances never finished: {counts}"
            time.sleep(0.1)
        outputs = [client.get(f"{url}/workflows/marks/instances/i{n}").json()["result"]
                   for n in range(INSTANCES)]
    assert all(o["output"] == sum(range(STEPS)) for o in outputs)
    marks = data_dir / "files" / "crash" / "marks"
    for n in range(INSTANCES):
        for i in range(STEPS):
            runs = len(list((marks / f"i{n}" / f"s{i}").iterdir()))
            if (f"i{n}", i) in before:
                assert runs == 1, f"step {i} of i{n} was recorded, yet its body ran {runs} times"
            else:
                assert runs in (1, 2), (n, i, runs)  # at most the attempt the kill cut short
