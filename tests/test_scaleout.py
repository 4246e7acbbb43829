"""Two nodes on one PostgreSQL database: work accepted by one node starts
on the other, idle one at once (LISTEN/NOTIFY), not at its next sweep
(set to a minute here, so only the announcement can explain a quick
start)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from helpers import PG
from test_api_events import register, send

from tests.live import Live, live_server

GATED = """export default async (e, { store }) => {
  while (!(await store.get("go"))) await new Promise((r) => setTimeout(r, 20));
  return "released";
};"""
QUICK = "export default async () => 'quick';"


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Live, Live]]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG} options=-csearch_path={schema}"
    try:
        with live_server(tmp_path / "a", database_url=url, workers=1, sweep_interval=60.0,
                         run_timeout=20.0) as a, \
                live_server(tmp_path / "b", database_url=url, workers=1, sweep_interval=60.0,
                            run_timeout=20.0) as b:
            for node in (a, b):
                assert node.service.listener is not None
                assert node.service.listener.listening.wait(10)
            yield a, b
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_of(client: httpx.Client, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = client.get(f"/v1/accounts/scale/runs/{run_id}").json()["data"]["run"]
    return run


def until_done(client: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (run := run_of(client, run_id))["status"] != "complete":
        assert time.monotonic() < deadline, f"{run_id} still {run['status']} after {timeout} s"
        time.sleep(0.02)
    return run


def test_work_accepted_by_one_node_starts_on_the_idle_one_at_once(
        nodes: tuple[Live, Live]) -> None:
    a, b = nodes
    key = a.key("scale")
    via_a, via_b = a.client(key), b.client(key)
    register(via_a, "scale", GATED, ["user.created"])
    register(via_a, "scale", QUICK, ["user.updated"])
    # One node's only worker is held by the gated run...
    gated = send(via_a, "scale", "user.created").json()["data"]["runs"][0]["id"]
    deadline = time.monotonic() + 10
    while run_of(via_a, gated)["status"] != "running":
        assert time.monotonic() < deadline, "the gated run never started"
        time.sleep(0.02)
    # ...so work accepted now can start at once only on the other node.
    quick = [send(via_a, "scale", "user.updated").json()["data"]["runs"][0]["id"]
             for _ in range(3)]
    for run_id in quick:
        run = until_done(via_b, run_id, timeout=5)
        assert _at(run["finished_at"]) - _at(run["created_at"]) < 1.0, run
    assert run_of(via_a, gated)["status"] == "running"
    via_b.put("/v1/accounts/scale/stores/default/keys/go", content=b"1")
    assert until_done(via_a, gated, timeout=10)["output"] == "released"
    # Each ran once, on one node.
    assert all(run_of(via_a, r)["attempts"] == 1 for r in [gated, *quick])
