"""Events and runs on a real server: which workflows an event starts, what a
run records, idempotency keys, the runs list, and the bounded backlog."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import Live, live_server, wait_for_runs
from tests.test_api_workflows import assert_error


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("events")) as server:
        yield server


def register(client: httpx.Client, account: str, code: str, events: list[str],
             **extra: Any) -> str:
    r = client.post(f"/v1/accounts/{account}/workflows",
                    json={"name": "w", "code": code, "events": events, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["workflow"]["id"])


def send(client: httpx.Client, account: str, kind: str, data: dict[str, Any] | None = None,
         key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/v1/accounts/{account}/events", json={"type": kind, "data": data or {}},
                       headers=headers)


def test_an_event_starts_exactly_the_matching_enabled_workflows(live: Live) -> None:
    c = live.client(live.key("match"))
    code = "export default async (e) => e.type;"
    everywhere = register(c, "match", code, ["participant.joined", "participant.left"])
    in_r1 = register(c, "match", code, ["participant.joined"], roomId="r1")
    register(c, "match", code, ["participant.joined"], roomId="r2")
    register(c, "match", code, ["user.created"])
    disabled = register(c, "match", code, ["participant.joined"])
    c.patch(f"/v1/accounts/match/workflows/{disabled}", json={"enabled": False})

    r = send(c, "match", "participant.joined", {"roomId": "r1", "userId": "u1"})
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    assert data["event"]["type"] == "participant.joined" and data["event"]["roomId"] == "r1"
    assert data["event"]["id"].startswith("evt_")
    assert sorted(run["workflow_id"] for run in data["runs"]) == sorted([everywhere, in_r1])
    assert all(run["status"] == "queued" for run in data["runs"])

    # without a room, only the unscoped workflow matches
    r = send(c, "match", "participant.left", {"userId": "u1"})
    assert [run["workflow_id"] for run in r.json()["data"]["runs"]] == [everywhere]
    # nothing matches: accepted, no runs
    r = send(c, "match", "session.closed")
    assert r.status_code == 202 and r.json()["data"]["runs"] == []
    done = wait_for_runs(c, "match", 3)
    assert {run["output"] for run in done} == {"participant.joined", "participant.left"}


def test_a_run_records_output_logs_timings_and_errors(live: Live) -> None:
    c = live.client(live.key("records"))
    good = register(c, "records", """export default async (event, { room }) => {
  console.log("hello", event.data.userId);
  console.warn("careful");
  const r = await room.get();
  return { user: event.data.userId, present: r.participants };
};""", ["participant.joined"])
    bad = register(c, "records", """
function fail(x: number): never {
  throw new TypeError("bad value " + x);
}
export default async () => { fail(42); };""", ["participant.joined"])
    c.put("/v1/accounts/records/rooms/lobby", json={"name": "Lobby"})
    send(c, "records", "participant.joined", {"roomId": "lobby", "userId": "ann"})
    wait_for_runs(c, "records", 2)

    ok_run = c.get("/v1/accounts/records/runs", params={"workflow_id": good}).json()
    run = ok_run["data"]["runs"][0]
    assert run["status"] == "complete" and run["attempts"] == 1 and run["error"] is None
    assert run["output"] == {"user": "ann", "present": ["ann"]}  # the event updated presence
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]
    assert run["duration_ms"] >= 0 and "logs" not in run
    detail = c.get(f"/v1/accounts/records/runs/{run['id']}").json()["data"]["run"]
    assert [(log["level"], log["message"]) for log in detail["logs"]] == [
        ("log", "hello ann"), ("warn", "careful")]
    assert detail["logs"][0]["time"].endswith("Z")

    failed = c.get("/v1/accounts/records/runs", params={"workflow_id": bad}).json()
    run = failed["data"]["runs"][0]
    assert run["status"] == "errored" and run["output"] is None
    assert run["error"]["name"] == "TypeError" and run["error"]["message"] == "bad value 42"
    assert "workflow.ts:3" in run["error"]["stack"]  # the line in the user's own source


def test_limits_end_a_run_as_errored_naming_the_limit(live: Live) -> None:
    c = live.client(live.key("limits"))
    register(c, "limits", "export default async () => { for (;;) {} };", ["session.started"])
    send(c, "limits", "session.started")
    run = wait_for_runs(c, "limits", 1, timeout=30)[0]
    assert run["status"] == "errored"
    assert run["error"]["code"] == "limit_exceeded" and run["error"]["limit"] in ("timeout", "cpu")


def test_idempotency_key_repeats_the_first_answer_and_starts_nothing(live: Live) -> None:
    c = live.client(live.key("idem"))
    register(c, "idem", "export default async () => 1;", ["user.created"])
    first = send(c, "idem", "user.created", {"userId": "u9"}, key="req-1")
    again = send(c, "idem", "user.created", {"userId": "u9"}, key="req-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["data"] == first.json()["data"]
    assert again.headers["Idempotent-Replayed"] == "true"
    wait_for_runs(c, "idem", 1)
    # A positive signal instead of a pause: an event sent after the repeat
    # has run, so a duplicate of the first would have been queued before it.
    marker = send(c, "idem", "user.created", {"userId": "marker"}).json()["data"]["runs"][0]
    wait_for_runs(c, "idem", 2)
    runs = c.get("/v1/accounts/idem/runs").json()["data"]["runs"]
    assert len(runs) == 2 and marker["id"] in {r["id"] for r in runs}
    # the same key with another body is a conflict, and starts nothing
    other = send(c, "idem", "user.created", {"userId": "someone-else"}, key="req-1")
    assert_error(other, 409, "conflict", "Idempotency-Key")
    # keys are per account: another account may use the same key
    d = live.client(live.key("idem2"))
    assert send(d, "idem2", "user.created", {"userId": "u9"}, key="req-1").status_code == 202
    assert_error(send(c, "idem", "user.created", key="x" * 256), 400, "invalid_request",
                 "Idempotency-Key")


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "user.exploded"}, "type"),
    ({"data": {}}, "type"),
    ({"type": "user.created", "data": []}, "data"),
    ({"type": "participant.joined", "data": {"roomId": 5}}, "data.roomId"),
    ({"type": "participant.joined", "data": {"userId": ""}}, "data.userId"),
    ({"type": "user.created", "extra": 1}, "extra"),
])
def test_bad_events_are_400_and_start_nothing(live: Live, body: dict[str, Any],
                                              field: str) -> None:
    c = live.client(live.key("badevents"))
    assert_error(c.post("/v1/accounts/badevents/events", json=body), 400, "invalid_request",
                 field)
    assert c.get("/v1/accounts/badevents/runs").json()["data"]["runs"] == []


def test_runs_list_filters_and_pages(live: Live) -> None:
    c = live.client(live.key("lists"))
    one = register(c, "lists", "export default async () => 1;", ["user.updated"])
    two = register(c, "lists", "export default async () => { throw new Error('no'); };",
                   ["user.updated"])
    for n in range(5):
        send(c, "lists", "user.updated", {"userId": f"u{n}"})
    runs = wait_for_runs(c, "lists", 10)
    assert [r["created_at"] for r in runs] == sorted((r["created_at"] for r in runs),
                                                     reverse=True)
    by = {wf: c.get("/v1/accounts/lists/runs", params={"workflow_id": wf}).json()["data"]["runs"]
          for wf in (one, two)}
    assert len(by[one]) == len(by[two]) == 5
    errored = c.get("/v1/accounts/lists/runs", params={"status": "errored"}).json()
    assert {r["workflow_id"] for r in errored["data"]["runs"]} == {two}
    seen, cursor = [], None
    for _ in range(20):  # 10 runs, 3 a page: a listing that never ends fails below
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        data = c.get("/v1/accounts/lists/runs", params=params).json()["data"]
        seen += [r["id"] for r in data["runs"]]
        if not (cursor := data["next_cursor"]):
            break
    assert seen == [r["id"] for r in runs]
    future = c.get("/v1/accounts/lists/runs", params={"since": "2999-01-01T00:00:00Z"})
    assert future.json()["data"]["runs"] == []
    past = c.get("/v1/accounts/lists/runs", params={"until": "2000-01-01T00:00:00Z"})
    assert past.json()["data"]["runs"] == []
    assert_error(c.get("/v1/accounts/lists/runs", params={"status": "done"}), 400,
                 "invalid_request", "status")
    assert_error(c.get("/v1/accounts/lists/runs", params={"since": "yesterday"}), 400,
                 "invalid_request", "since")
    assert_error(c.get("/v1/accounts/lists/runs/run_missing"), 404, "not_found", "runId")


SLOW = ("export default async () => { const end = Date.now() + %d; "
        "while (Date.now() < end) {} return Date.now(); };")


GATED = """export default async (e, { store }) => {
  while (!(await store.get("go"))) await new Promise((r) => setTimeout(r, 20));
  return "released";
};"""


def test_a_full_backlog_is_429_or_503_with_retry_after_and_loses_nothing(tmp_path: Path) -> None:
    with live_server(tmp_path, workers=1, max_queued=6, max_queued_per_account=4) as live:
        a, b = live.client(live.key("busy")), live.client(live.key("calm"))
        register(a, "busy", GATED, ["user.created"])
        register(b, "calm", GATED, ["user.created"])
        # the one worker holds the first run until the test lets it go
        assert send(a, "busy", "user.created").status_code == 202
        deadline = time.monotonic() + 20
        while not a.get("/v1/accounts/busy/runs", params={"status": "running"}).json()[
                "data"]["runs"]:
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.01)
        busy = [send(a, "busy", "user.created") for _ in range(5)]
        assert [r.status_code for r in busy] == [202] * 4 + [429]
        error = assert_error(busy[-1], 429, "rate_limited")
        assert "account's backlog" in error["message"]
        assert int(busy[-1].headers["Retry-After"]) >= 1
        # another account still gets in, until the whole server is full
        calm = [send(b, "calm", "user.created") for _ in range(3)]
        assert [r.status_code for r in calm] == [202, 202, 503]
        error = assert_error(calm[-1], 503, "overloaded")
        assert "server's backlog" in error["message"]
        assert int(calm[-1].headers["Retry-After"]) >= 1
        for client, account in ((a, "busy"), (b, "calm")):
            client.put(f"/v1/accounts/{account}/stores/default/keys/go", content=b"1")
        done = wait_for_runs(a, "busy", 5, timeout=30) + wait_for_runs(b, "calm", 2, timeout=30)
        assert len(done) == 7 and all(r["output"] == "released" for r in done)


def test_workers_take_accounts_in_turn(tmp_path: Path) -> None:
    with live_server(tmp_path, workers=1) as live:
        a, b = live.client(live.key("loud")), live.client(live.key("quiet"))
        register(a, "loud", SLOW % 50, ["user.created"])
        register(b, "quiet", SLOW % 50, ["user.created"])
        for _ in range(12):
            send(a, "loud", "user.created")
        for _ in range(2):
            send(b, "quiet", "user.created")
        loud = wait_for_runs(a, "loud", 12, timeout=30)
        quiet = wait_for_runs(b, "quiet", 2, timeout=30)
        order = sorted(loud + quiet, key=lambda r: r["started_at"])
        positions = [n for n, r in enumerate(order) if r["organization_id"] == "quiet"]
        # without turns they would start 13th and 14th
        assert positions[-1] <= 6, positions
