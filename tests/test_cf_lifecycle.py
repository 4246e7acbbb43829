"""Durable workflow settings and lifecycle over Cloudflare's API on a live
server: concurrency limit, step limit, KV bindings, restart from a step,
delete and batch delete, retention, cron schedules."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import Live, live_server

from bindings import KVEntry

ACCOUNT = "acme"
CODE = """
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Flow extends WorkflowEntrypoint {
  async run(event, step) {
    const p = event.payload ?? {};
    const a = await step.do("a", async () => crypto.randomUUID());  // unique to each execution
    const kv = await step.do("kv", async () => this.env.SETTINGS ? await this.env.SETTINGS.get("mode") : null);
    if (p.spin) await step.do("spin", async () => { const end = Date.now() + p.spin; while (Date.now() < end) {} });
    for (let i = 0; i < (p.steps ?? 0); i++) await step.do("n", async () => i);
    if (p.sleep) await step.sleep("nap", p.sleep);
    const b = await step.do("b", async () => Date.now());
    return { a, kv, b };
  }
}
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_server(tmp_path) as server:
        yield server


@pytest.fixture
def http(live: Live) -> httpx.Client:
    client = live.client(live.key(ACCOUNT))
    client.base_url = httpx.URL(f"{live.url}/client/v4/accounts/{ACCOUNT}/")
    files = {"metadata": (None, json.dumps({"main_module": "flow.js", "bindings": [
        {"type": "kv_namespace", "name": "SETTINGS", "namespace_id": "settings-ns"}]})),
             "flow.js": ("flow.js", CODE, "application/javascript+module")}
    assert client.put("workers/scripts/flow", files=files).status_code == 201
    return client


def put_workflow(http: httpx.Client, **settings: Any) -> None:
    r = http.put("workflows/flow", json={"class_name": "Flow", "script_name": "flow", **settings})
    assert r.status_code == 200, r.text


def instance(http: httpx.Client, name: str) -> dict[str, Any]:
    r = http.get(f"workflows/flow/instances/{name}")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


def wait_for(http: httpx.Client, name: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (got := instance(http, name))["status"] not in statuses:
        assert time.monotonic() < deadline, f"{name} stayed {got['status']}"
        time.sleep(0.03)
    return got


def create(http: httpx.Client, name: str, **params: Any) -> None:
    r = http.post("workflows/flow/instances", json={"instance_id": name, "params": params})
    assert r.status_code == 201, r.text


def test_kv_namespace_binding_reads_the_named_store(live: Live, http: httpx.Client) -> None:
    live.service.kv.put(ACCOUNT, "settings-ns", KVEntry("mode", b"fast"))
    put_workflow(http)
    create(http, "kv-1")
    assert wait_for(http, "kv-1", "complete")["output"]["kv"] == "fast"


def test_concurrency_limit_queues_the_excess(http: httpx.Client) -> None:
    put_workflow(http, concurrency={"limit": 1})
    for n in range(3):
        create(http, f"c-{n}", spin=300)
    seen_running = 0
    deadline = time.monotonic() + 30
    while True:
        statuses = [instance(http, f"c-{n}")["status"] for n in range(3)]
        seen_running = max(seen_running, statuses.count("running"))
        if statuses == ["complete"] * 3:
            break
        assert time.monotonic() < deadline, statuses
        time.sleep(0.02)
    assert seen_running == 1
    ends = sorted((instance(http, f"c-{n}")["start"], instance(http, f"c-{n}")["end"])
                  for n in range(3))
    for (_, end), (start, _) in itertools.pairwise(ends):
        assert start >= end  # never two at once


def test_step_limit_from_settings(http: httpx.Client) -> None:
    put_workflow(http, limits={"steps": 5})
    create(http, "many", steps=10)
    got = wait_for(http, "many", "errored")
    assert "limits.steps = 5" in got["error"]["message"]
    assert got["step_count"] == 5


def test_restart_from_a_step_keeps_earlier_results(http: httpx.Client) -> None:
    put_workflow(http)
    create(http, "r-1")
    first = wait_for(http, "r-1", "complete")["output"]
    r = http.patch("workflows/flow/instances/r-1/status",
                   json={"status": "restart", "from": {"name": "b", "type": "do"}})
    assert r.status_code == 200 and r.json()["result"]["status"] == "queued"
    again = wait_for(http, "r-1", "complete")["output"]
    assert again["a"] == first["a"]  # step a was kept, not run again (it is unique per run)
    assert again["b"] > first["b"]  # step b ran again
    r = http.patch("workflows/flow/instances/r-1/status",
                   json={"status": "restart", "from": {"name": "nope"}})
    assert r.status_code == 409 and "no step 'nope'" in r.json()["errors"][0]["message"]


def test_delete_and_batch_delete(http: httpx.Client) -> None:
    put_workflow(http)
    for n in range(3):
        create(http, f"d-{n}", sleep=60_000)
    assert http.delete("workflows/flow/instances/d-0").status_code == 200
    assert http.get("workflows/flow/instances/d-0").status_code == 404
    r = http.post("workflows/flow/instances/batch/delete",
                  json={"instance_ids": ["d-1", "d-2", "missing"]})
    assert r.status_code == 200 and sorted(r.json()["result"]["deleted"]) == ["d-1", "d-2"]
    assert http.get("workflows/flow/instances").json()["result"] == []
    r = http.post("workflows/flow/instances/batch/delete", json={"instance_ids": ["x"] * 101})
    assert r.status_code == 400
    create(http, "d-1")  # the id is free again
    wait_for(http, "d-1", "complete")


def test_retention_removes_expired_instances(live: Live, http: httpx.Client) -> None:
    put_workflow(http, default_retention={"success_retention": "1 second"})
    r = http.post("workflows/flow/instances", json={
        "instance_id": "keep", "instance_retention": {"success_retention": "1 hour"}})
    assert r.status_code == 201
    create(http, "short")
    wait_for(http, "short", "complete")
    wait_for(http, "keep", "complete")
    assert live.service.instances.expire(time.time() + 2) == 1
    assert http.get("workflows/flow/instances/short").status_code == 404
    assert http.get("workflows/flow/instances/keep").status_code == 200
    r = http.post("workflows/flow/instances", json={"instance_retention": {"success_retention": "soon"}})
    assert r.status_code == 400 and "instance_retention" in r.json()["errors"][0]["message"]


def test_cron_schedule_starts_one_instance_per_firing(live: Live, http: httpx.Client) -> None:
    put_workflow(http, schedules=[{"cron": "*/5 * * * *"}])
    workflow = http.get("workflows/flow").json()["result"]
    assert workflow["schedules"][0]["cron"] == "*/5 * * * *"
    jobs = live.service.durable
    later = time.time() + 3600  # an hour on: several firings missed, one instance
    assert jobs.fire_schedules(later) == 1
    assert jobs.fire_schedules(later) == 0  # nothing new is due
    [made] = http.get("workflows/flow/instances").json()["result"]
    assert made["id"].startswith("cron-") and made["trigger_source"] == "cron"
    assert int(made["id"].removeprefix("cron-")) % 300 == 0
    wait_for(http, made["id"], "complete")
