"""Cloudflare's workflow REST API under /client/v4, driven by the official
`cloudflare` SDK pointed at a live Flowbox server (and raw HTTP for the
error shapes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
from live import Live, live_server

ACCOUNT = "acme"

WORKFLOW_TS = """
import { WorkflowEntrypoint } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";

type Params = { name: string; wait?: boolean; fail?: boolean };

export class Greeter extends WorkflowEntrypoint {
  async run(event: { payload: Params; instanceId: string }, step: any) {
    const hello = await step.do("greet", async () => `hello ${event.payload.name}`);
    await step.sleep("pause", "1 second");
    if (event.payload.fail) {
      await step.do("explode", async () => { throw new NonRetryableError("bad input"); });
    }
    let approval = null;
    if (event.payload.wait) {
      const e = await step.waitForEvent("approval", { type: "approved", timeout: "1 hour" });
      approval = e.payload;
    }
    return { hello, approval, secret: this.env.API_TOKEN.length, id: event.instanceId };
  }
}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Live]:
    with live_server(tmp_path) as live:
        yield live


def sdk(live: Live, key: str) -> cloudflare.Cloudflare:
    return cloudflare.Cloudflare(api_token=key, base_url=live.url + "/client/v4",
                                 max_retries=0)


def upload(client: cloudflare.Cloudflare, script: str = "greeter",
           code: str = WORKFLOW_TS) -> Any:
    return client.workers.scripts.update(
        script, account_id=ACCOUNT,
        metadata={"main_module": "index.ts", "bindings": [
            {"type": "plain_text", "name": "GREETING", "text": "hi"},
            {"type": "secret_text", "name": "API_TOKEN", "text": "s3cret-token-value"}]},
        files=[("index.ts", code.encode(), "application/javascript+module")])


@pytest.fixture
def cf(server: Live) -> cloudflare.Cloudflare:
    client = sdk(server, server.key(ACCOUNT))
    upload(client)
    client.workflows.update("greeter", account_id=ACCOUNT, class_name="Greeter",
                            script_name="greeter")
    return client


def wait_status(cf: cloudflare.Cloudflare, instance_id: str, statuses: tuple[str, ...],
                timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = cf.workflows.instances.get(instance_id, account_id=ACCOUNT,
                                         workflow_name="greeter")
        if got.status in statuses:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"instance {instance_id} stayed {got.status}")
        time.sleep(0.05)


def test_sdk_runs_an_instance_to_completion_with_steps(cf: cloudflare.Cloudflare) -> None:
    created = cf.workflows.instances.create("greeter", account_id=ACCOUNT,
                                            instance_id="order-1", params={"name": "ada"})
    assert created.id == "order-1" and created.status == "queued"
    done = wait_status(cf, "order-1", ("complete", "errored"))
    assert done.status == "complete" and done.success is True
    assert done.output == {"hello": "hello ada", "approval": None, "secret": 18, "id": "order-1"}
    assert done.params == {"name": "ada"} and done.trigger.source == "api"
    kinds = [(s.type, s.name) for s in done.steps]  # type: ignore[union-attr]
    assert kinds == [("step", "greet"), ("sleep", "pause")]
    greet = done.steps[0]
    assert greet.output == "hello ada" and greet.success is True  # type: ignore[union-attr]
    assert len(greet.attempts) == 1  # type: ignore[union-attr]
    assert greet.config.retries.limit == 5 and greet.config.timeout == 600000  # type: ignore[union-attr]
    sleep = done.steps[1]
    assert sleep.finished is True  # type: ignore[union-attr]
    assert (sleep.end - sleep.start).total_seconds() == pytest.approx(1, abs=0.01)  # type: ignore[union-attr]


def test_wait_for_event_through_the_sdk(cf: cloudflare.Cloudflare) -> None:
    cf.workflows.instances.create("greeter", account_id=ACCOUNT, instance_id="w-1",
                                  params={"name": "bo", "wait": True})
    waiting = wait_status(cf, "w-1", ("waiting",))
    assert waiting.status == "waiting"
    time.sleep(1.2)  # past the sleep: now waiting for the event
    sent = cf.workflows.instances.events.create("approved", account_id=ACCOUNT,
                                                workflow_name="greeter", instance_id="w-1",
                                                body={"by": "carol"})
    assert sent.instance_id == "w-1"
    done = wait_status(cf, "w-1", ("complete", "errored"))
    assert done.output["approval"] == {"by": "carol"}
    wait_step = done.steps[-1]
    assert wait_step.type == "waitForEvent" and wait_step.event_type == "approved"  # type: ignore[union-attr]


def test_non_retryable_error_fails_the_instance(cf: cloudflare.Cloudflare) -> None:
    cf.workflows.instances.create("greeter", account_id=ACCOUNT, instance_id="f-1",
                                  params={"name": "x", "fail": True})
    done = wait_status(cf, "f-1", ("complete", "errored"))
    assert done.status == "errored" and done.success is False
    # As Cloudflare's engine reports a NonRetryableError nobody handled.
    assert done.error is not None and done.error.name == "WorkflowFatalError"
    assert "threw an NonRetryableError and it was not handled" in done.error.message


def test_list_get_and_batch(cf: cloudflare.Cloudflare) -> None:
    made = cf.workflows.instances.bulk("greeter", account_id=ACCOUNT, body=[
        {"instance_id": f"b-{i}", "params": {"name": str(i)}} for i in range(3)])
    assert sorted(i.id for i in made) == ["b-0", "b-1", "b-2"]
    again = cf.workflows.instances.bulk("greeter", account_id=ACCOUNT, body=[
        {"instance_id": "b-0", "params": {}}, {"instance_id": "b-3", "params": {"name": "3"}}])
    assert [i.id for i in again] == ["b-3"]  # existing ids are skipped
    for i in range(4):
        wait_status(cf, f"b-{i}", ("complete",))
    listed = list(cf.workflows.instances.list("greeter", account_id=ACCOUNT, per_page=2))
    assert sorted(i.id for i in listed) == ["b-0", "b-1", "b-2", "b-3"]
    complete = cf.workflows.instances.list("greeter", account_id=ACCOUNT, status="complete")
    assert len(complete.result) == 4
    workflow = cf.workflows.get("greeter", account_id=ACCOUNT)
    assert workflow.instances == {"complete": 4} and workflow.class_name == "Greeter"
    names = [w.name for w in cf.workflows.list(account_id=ACCOUNT)]
    assert names == ["greeter"]


def test_secrets_never_appear_in_instance_details(server: Live, cf: cloudflare.Cloudflare) -> None:
    upload(cf, code=WORKFLOW_TS.replace(
        "secret: this.env.API_TOKEN.length", "secret: await step.do('leak', async () => this.env.API_TOKEN)"))
    cf.workflows.instances.create("greeter", account_id=ACCOUNT, instance_id="s-1",
                                  params={"name": "eve"})
    wait_status(cf, "s-1", ("complete",))
    raw = server.client(server.key(ACCOUNT)).get(
        f"/client/v4/accounts/{ACCOUNT}/workflows/greeter/instances/s-1").text
    assert "s3cret-token-value" not in raw and "[redacted]" in raw


def test_delete_workflow(cf: cloudflare.Cloudflare) -> None:
    assert cf.workflows.delete("greeter", account_id=ACCOUNT).status == "ok"
    with pytest.raises(cloudflare.NotFoundError):
        cf.workflows.get("greeter", account_id=ACCOUNT)


# -- errors in Cloudflare's shape ------------------------------------------------


def cf_error(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    [error] = body["errors"]
    assert isinstance(error["code"], int) and text in error["message"], error


def test_error_shapes(server: Live, cf: cloudflare.Cloudflare) -> None:
    http = server.client(server.key(ACCOUNT))
    base = f"/client/v4/accounts/{ACCOUNT}/workflows"
    cf_error(http.get(f"{base}/nope"), 404, "no workflow 'nope'")
    cf_error(http.get(f"{base}/greeter/instances/nope"), 404, "no instance 'nope'")
    assert http.post(f"{base}/greeter/instances", json={"instance_id": "dup"}).status_code == 201
    cf_error(http.post(f"{base}/greeter/instances", json={"instance_id": "dup"}), 409,
             "already exists")
    cf_error(http.post(f"{base}/greeter/instances", json={"instance_id": "-bad"}), 400,
             "instance_id")
    cf_error(http.post(f"{base}/greeter/instances", json={"instance_id": "x" * 101}), 400,
             "instance_id")
    cf_error(http.post(f"{base}/greeter/instances", json={"params": "x" * 200_000}), 400,
             "100 KB")
    cf_error(http.post(f"{base}/greeter/instances", json={"parms": {}}), 400, "parms")
    cf_error(http.post(f"{base}/greeter/instances/batch", json=[{}] * 101), 400, "1 to 100")
    cf_error(http.patch(f"{base}/greeter/instances/dup/status", json={"status": "fly"}), 400,
             "status")
    cf_error(http.put(f"{base}/{'w' * 65}", json={"class_name": "A", "script_name": "greeter"}),
             400, "workflow name")
    cf_error(http.put(f"{base}/other", json={"class_name": "A", "script_name": "missing"}),
             404, "no script")
    cf_error(http.put(f"{base}/other", json={"class_name": "A", "script_name": "greeter",
                                             "schedules": [{"cron": "61 * * * *"}]}),
             400, "minute")
    cf_error(http.get(f"/client/v4/accounts/{ACCOUNT}/nothing"), 404, "no such route")
    # another account's workflow is not found, not forbidden
    other = server.client(server.key("other"))
    cf_error(other.get(f"/client/v4/accounts/{ACCOUNT}/workflows/greeter"), 404, "account")
    cf_error(server.client().get(f"{base}/greeter"), 401, "API key")


def test_status_transitions(server: Live, cf: cloudflare.Cloudflare) -> None:
    http = server.client(server.key(ACCOUNT))
    base = f"/client/v4/accounts/{ACCOUNT}/workflows/greeter/instances"
    cf.workflows.instances.create("greeter", account_id=ACCOUNT, instance_id="p-1",
                                  params={"name": "p", "wait": True})
    wait_status(cf, "p-1", ("waiting",))
    paused = cf.workflows.instances.status.edit("p-1", account_id=ACCOUNT,
                                                workflow_name="greeter", status="pause")
    assert paused.status == "paused"
    resumed = cf.workflows.instances.status.edit("p-1", account_id=ACCOUNT,
                                                 workflow_name="greeter", status="resume")
    assert resumed.status == "queued"
    cf_error(http.patch(f"{base}/p-1/status", json={"status": "resume"}), 409, "cannot resume")
    time.sleep(1.2)
    wait_status(cf, "p-1", ("waiting",))
    terminated = cf.workflows.instances.status.edit("p-1", account_id=ACCOUNT,
                                                    workflow_name="greeter", status="terminate")
    assert terminated.status == "terminated"
    cf_error(http.patch(f"{base}/p-1/status", json={"status": "terminate"}), 409,
             "already terminated")
    cf_error(http.post(f"{base}/p-1/events/approved", json={}), 409, "terminated")
    before = cf.workflows.instances.get("p-1", account_id=ACCOUNT, workflow_name="greeter")
    restarted = cf.workflows.instances.status.edit("p-1", account_id=ACCOUNT,
                                                   workflow_name="greeter", status="restart")
    assert restarted.status == "queued"
    again = wait_status(cf, "p-1", ("waiting",))
    # Started over: the short sleep is waited out in the activation, and
    # every step is a new one.
    assert [s.type for s in again.steps] == ["step", "sleep", "waitForEvent"]
    assert again.steps[0].start > before.steps[0].start  # type: ignore[union-attr]
