"""Control over /v1 runs on a live server: retry an errored run, cancel a
queued one, delete one that has ended; and a test event that runs one
workflow only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_api_events import register, send

from tests.live import Live, live_server

NEEDS_KEY = """export default async (event, { store }) => {
  const v = await store.get("flag");
  if (v === null) throw new Error("no flag yet");
  return v;
};"""
SLOW = "export default async () => { await new Promise((r) => setTimeout(r, 1500)); return 1; };"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("ctl"), workers=1) as server:
        yield server


def client(live: Live, account: str) -> httpx.Client:
    return live.client(live.key(account))


def run_of(http: httpx.Client, account: str, run_id: str) -> dict[str, Any]:
    r = http.get(f"/v1/accounts/{account}/runs/{run_id}")
    assert r.status_code == 200, r.text
    run: dict[str, Any] = r.json()["data"]["run"]
    return run


def until(http: httpx.Client, account: str, run_id: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while (run := run_of(http, account, run_id))["status"] not in statuses:
        assert time.monotonic() < deadline, f"{run_id} still {run['status']}"
        time.sleep(0.02)
    return run


def first_run(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["runs"][0]["id"])


def test_an_errored_run_is_retried_with_its_event(live: Live) -> None:
    http = client(live, "retry")
    register(http, "retry", NEEDS_KEY, ["user.created"])
    run_id = first_run(send(http, "retry", "user.created", {"userId": "u1"}))
    failed = until(http, "retry", run_id, "errored")
    assert "no flag yet" in failed["error"]["message"] and failed["attempts"] == 1
    http.put("/v1/accounts/retry/stores/default/keys/flag", content=b"set")
    r = http.post(f"/v1/accounts/retry/runs/{run_id}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["run"]["status"] in ("queued", "running", "complete")
    done = until(http, "retry", run_id, "complete")
    assert done["output"] == "set" and done["attempts"] == 2 and done["error"] is None
    again = http.post(f"/v1/accounts/retry/runs/{run_id}/retry")
    assert again.status_code == 409 and "only an errored run" in again.json()["error"]["message"]


def test_a_queued_run_is_cancelled_and_never_runs(live: Live) -> None:
    http = client(live, "cancel")
    register(http, "cancel", SLOW, ["user.created"])
    busy = first_run(send(http, "cancel", "user.created"))
    waiting = first_run(send(http, "cancel", "user.created"))  # one worker: this one waits
    until(http, "cancel", busy, "running")
    r = http.post(f"/v1/accounts/cancel/runs/{waiting}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["run"]["status"] == "cancelled"
    assert http.delete(f"/v1/accounts/cancel/runs/{busy}").status_code == 409  # still running
    until(http, "cancel", busy, "complete")
    # Proof it never ran: a later run finished after it was cancelled, and it stayed so.
    later = first_run(send(http, "cancel", "user.created"))
    until(http, "cancel", later, "complete")
    cancelled = run_of(http, "cancel", waiting)
    assert cancelled["status"] == "cancelled" and cancelled["attempts"] == 0
    listed = http.get("/v1/accounts/cancel/runs", params={"status": "cancelled"}).json()
    assert [x["id"] for x in listed["data"]["runs"]] == [waiting]
    assert http.post(f"/v1/accounts/cancel/runs/{waiting}/cancel").status_code == 409
    for run_id in (waiting, busy):
        assert http.delete(f"/v1/accounts/cancel/runs/{run_id}").status_code == 200
        assert http.get(f"/v1/accounts/cancel/runs/{run_id}").status_code == 404
    other = client(live, "cancel-other")
    assert other.post(f"/v1/accounts/cancel-other/runs/{later}/cancel").status_code == 404
    assert other.delete(f"/v1/accounts/cancel-other/runs/{later}").status_code == 404


def test_a_test_event_runs_one_workflow_only(live: Live) -> None:
    http = client(live, "probe")
    code = "export default async (e) => ({ type: e.type, data: e.data });"
    target = register(http, "probe", code, ["participant.joined"])
    assert http.patch(f"/v1/accounts/probe/workflows/{target}",
                      json={"enabled": False}).status_code == 200
    register(http, "probe", code, ["participant.joined"])
    r = http.post(f"/v1/accounts/probe/workflows/{target}/test",
                  json={"data": {"roomId": "r1", "userId": "u1"}})
    runs = r.json()["data"]["runs"]
    assert r.status_code == 202 and [x["workflow_id"] for x in runs] == [target]
    done = until(http, "probe", runs[0]["id"], "complete")
    assert done["output"] == {"type": "participant.joined",
                              "data": {"roomId": "r1", "userId": "u1"}}
    # Nothing else ran, and the room's presence is as it was.
    assert len(http.get("/v1/accounts/probe/runs").json()["data"]["runs"]) == 1
    assert http.get("/v1/accounts/probe/rooms/r1").status_code == 404
    typed = http.post(f"/v1/accounts/probe/workflows/{target}/test", json={"type": "nope"})
    assert typed.status_code == 400 and typed.json()["error"]["field"] == "type"
    assert http.post("/v1/accounts/probe/workflows/wf_missing/test", json={}).status_code == 404
