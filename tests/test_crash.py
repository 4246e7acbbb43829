"""Accepted work survives SIGKILL: a real `flowbox serve` process is killed
while events are arriving and runs are queued and running; after a restart
every event answered 202 ends in exactly one finished run per workflow, and
no run that had finished runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.live import free_port

FLOWBOX = [sys.executable, "-m", "server.cli"]
SLOW = ("export default async (event) => { const end = Date.now() + 40; "
        "while (Date.now() < end) {} return event.id; };")


@contextmanager
def server_process(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "FLOWBOX_RATE_GLOBAL": "0", "FLOWBOX_RATE_WRITE": "0",
           "FLOWBOX_RATE_EVENTS": "0", "FLOWBOX_WORKERS": "2"}
    proc = subprocess.Popen([*FLOWBOX, "serve", "--data-dir", str(data_dir), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start: " + proc.stderr.read().decode()
                                   if proc.stderr else "")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        if proc.stderr:
            proc.stderr.close()


def make_key(data_dir: Path, account: str) -> str:
    """A read-write API key made by `flowbox keys create`, as an operator would."""
    return subprocess.run([*FLOWBOX, "keys", "create", "--account", account, "--scopes",
                           "read,write", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, check=True).stdout.strip()


def all_runs(client: httpx.Client) -> list[dict[str, Any]]:
    runs, cursor = [], None
    for _ in range(1000):  # pages; more would be a server that never ends a listing
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        data = client.get("/v1/accounts/crash/runs", params=params).json()["data"]
        runs += data["runs"]
        if not (cursor := data["next_cursor"]):
            return runs
    raise AssertionError("the runs listing never ended")


def test_sigkill_loses_no_accepted_event_and_repeats_no_finished_run(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = make_key(data_dir, "crash")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    accepted: list[str] = []
    with server_process(data_dir, port) as proc, httpx.Client(base_url=url, headers=headers,
                                                              timeout=10) as client:
        for name in ("first", "second"):
            r = client.post("/v1/accounts/crash/workflows",
                            json={"name": name, "code": SLOW, "events": ["user.created"]})
            assert r.status_code == 201, r.text

        def post_events() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=10) as poster:
                for n in range(1000):
                    try:
                        r = poster.post("/v1/accounts/crash/events",
                                        json={"type": "user.created", "data": {"userId": f"u{n}"}})
                    except httpx.TransportError:
                        return  # the server is gone
                    if r.status_code == 202:
                        accepted.append(r.json()["data"]["event"]["id"])

        poster = threading.Thread(target=post_events)
        poster.start()
        deadline = time.monotonic() + 60
        while len(accepted) < 40:
            assert time.monotonic() < deadline, f"only {len(accepted)} of 40 events accepted"
            time.sleep(0.01)
        before = {r["id"]: r for r in all_runs(client)}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        poster.join()

    finished_before = {rid: r for rid, r in before.items() if r["status"] == "complete"}
    interrupted = [r for r in before.values() if r["status"] in ("queued", "running")]
    assert finished_before and interrupted, "the kill should land with work done and pending"

    with server_process(data_dir, port), httpx.Client(base_url=url, headers=headers,
                                                      timeout=10) as client:
        deadline = time.monotonic() + 120
        while True:
            runs = all_runs(client)
            pending = [r for r in runs if r["status"] in ("queued", "running")]
            if not pending and {r["event_id"] for r in runs} >= set(accepted):
                break
            assert time.monotonic() < deadline, f"{len(pending)} runs never finished"
            time.sleep(0.1)

    per_event: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        per_event.setdefault(run["event_id"], []).append(run)
    for event_id in accepted:
        assert len(per_event[event_id]) == 2, per_event[event_id]  # one per workflow
        assert sorted(r["workflow_id"] for r in per_event[event_id]) == sorted(
            {r["workflow_id"] for r in runs})
    assert all(r["status"] == "complete" and r["output"] == r["event_id"] for r in runs)
    for rid, run in finished_before.items():
        after = next(r for r in runs if r["id"] == rid)
        assert (after["attempts"], after["finished_at"]) == (run["attempts"],
                                                             run["finished_at"])
    # at most the attempt that died and the one that finished
    assert all(1 <= r["attempts"] <= 2 for r in runs)
