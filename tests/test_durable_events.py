"""Platform events start durable instances (a workflow's `events`), seed
000's default-export functions run durably with `step` among their
bindings, and a status this node does not know is reported `unknown`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import Live, live_server

ACCOUNT = "acme"
# Seed 000's style: (event, bindings), with `step` among the bindings.
FUNCTION = """
export default async function (event, { step, room }) {
  const joined = await step.do("count", async () => {
    globalThis.n = (globalThis.n ?? 0) + 1;
    return { user: event.data.userId, room: (await room.get())?.id ?? null };
  });
  await step.sleep("settle", "1 second");
  const after = await step.do("after", async () => event.type);
  return { joined, after, instance: "event-" + event.id };
}
"""
CLASS = """
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Greeter extends WorkflowEntrypoint {
  async run(event, step) {
    return await step.do("greet", async () => "hello " + event.payload.data.userId);
  }
}
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_server(tmp_path) as server:
        yield server


def upload(http: httpx.Client, name: str, code: str) -> None:
    files = {"metadata": (None, json.dumps({"main_module": f"{name}.js"})),
             f"{name}.js": (f"{name}.js", code, "application/javascript+module")}
    assert http.put(f"/client/v4/accounts/{ACCOUNT}/workers/scripts/{name}",
                    files=files).status_code == 201


def put_workflow(http: httpx.Client, name: str, class_name: str, **settings: Any) -> httpx.Response:
    return http.put(f"/client/v4/accounts/{ACCOUNT}/workflows/{name}",
                    json={"class_name": class_name, "script_name": name, **settings})


def finished(http: httpx.Client, workflow: str, name: str,
             timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(f"/client/v4/accounts/{ACCOUNT}/workflows/{workflow}/instances/{name}")
        if r.status_code == 200 and r.json()["result"]["status"] in ("complete", "errored"):
            result: dict[str, Any] = r.json()["result"]
            return result
        assert time.monotonic() < deadline, r.text
        time.sleep(0.05)


def test_an_event_starts_a_durable_function_that_sleeps_and_resumes(live: Live) -> None:
    http = live.client(live.key(ACCOUNT))
    upload(http, "onjoin", FUNCTION)
    assert put_workflow(http, "onjoin", "default",
                        events=["participant.joined"]).status_code == 200
    upload(http, "greeter", CLASS)
    assert put_workflow(http, "greeter", "Greeter",
                        events=["participant.joined", "user.created"]).status_code == 200
    assert http.put(f"/v1/accounts/{ACCOUNT}/rooms/r1", json={"name": "Lobby"}).status_code == 201

    r = http.post(f"/v1/accounts/{ACCOUNT}/events",
                  json={"type": "participant.joined",
                        "data": {"roomId": "r1", "userId": "u7"}},
                  headers={"Idempotency-Key": "join-1"})
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    event_id = data["event"]["id"]
    name = f"event-{event_id}"
    assert sorted(i["workflow"] for i in data["instances"]) == ["greeter", "onjoin"]
    assert {i["id"] for i in data["instances"]} == {name}

    done = finished(http, "onjoin", name)
    assert done["status"] == "complete", done
    assert done["output"] == {"joined": {"user": "u7", "room": "r1"},
                              "after": "participant.joined", "instance": name}
    assert done["trigger"] == {"source": "event"}
    assert done["params"]["type"] == "participant.joined"
    kinds = [s["type"] for s in done["steps"]]
    assert kinds == ["step", "sleep", "step"]
    # The sleep ended the first activation: the first step ran once, not twice.
    assert done["steps"][0]["attempts"][0]["success"] is True
    assert len(done["steps"][0]["attempts"]) == 1

    greeted = finished(http, "greeter", name)
    assert greeted["output"] == "hello u7"

    # The same request again (same Idempotency-Key) starts nothing new.
    again = http.post(f"/v1/accounts/{ACCOUNT}/events",
                      json={"type": "participant.joined",
                            "data": {"roomId": "r1", "userId": "u7"}},
                      headers={"Idempotency-Key": "join-1"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    listed = http.get(f"/client/v4/accounts/{ACCOUNT}/workflows/onjoin/instances").json()
    assert [i["id"] for i in listed["result"]] == [name]

    # An event type the workflows do not name starts none of them.
    other = http.post(f"/v1/accounts/{ACCOUNT}/events",
                      json={"type": "user.deleted", "data": {"userId": "u7"}})
    assert "instances" not in other.json()["data"]


def test_events_setting_is_checked(live: Live) -> None:
    http = live.client(live.key(ACCOUNT))
    upload(http, "onjoin", FUNCTION)
    for bad in (["participant.sneezed"], "participant.joined", [1]):
        r = put_workflow(http, "onjoin", "default", events=bad)
        assert r.status_code == 400, r.text
        assert "(events)" in r.json()["errors"][0]["message"]
    assert http.get(f"/client/v4/accounts/{ACCOUNT}/workflows/onjoin").status_code == 404


def test_a_status_this_node_does_not_know_is_unknown(live: Live) -> None:
    http = live.client(live.key(ACCOUNT))
    upload(http, "greeter", CLASS)
    assert put_workflow(http, "greeter", "Greeter").status_code == 200
    base = f"/client/v4/accounts/{ACCOUNT}/workflows/greeter/instances"
    assert http.post(base, json={"instance_id": "a", "params": {"data": {"userId": "x"}}}
                     ).status_code == 201
    finished(http, "greeter", "a")
    # As a newer node sharing the database might leave it.
    live.service.db.execute("UPDATE instances SET status = 'hibernating' WHERE name = 'a'")
    assert http.get(f"{base}/a").json()["result"]["status"] == "unknown"
    listed = http.get(base, params={"status": "unknown"}).json()["result"]
    assert [i["id"] for i in listed] == ["a"] and listed[0]["status"] == "unknown"
    assert http.get(base, params={"status": "complete"}).json()["result"] == []
    counts = http.get(f"/client/v4/accounts/{ACCOUNT}/workflows/greeter").json()["result"]
    assert counts["instances"] == {"unknown": 1}
    r = http.patch(f"{base}/a/status", json={"status": "pause"})
    assert r.status_code == 409, r.text
