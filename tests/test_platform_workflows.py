"""The platform API's workflows on a live server: create, versions (compile,
lock, revert, delete), deploy and the deploy stream (read as Server-Sent
Events by a real HTTP client), trigger, runs and their control, and the
same workflow seen through Cloudflare's API by the official SDK."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
from live import Live, live_server

from server.platform.deploy import STAGES

ACCOUNT = "acme"
DURABLE = """
import { WorkflowEntrypoint } from "cloudflare:workers";
type Params = { name?: string; nap?: string };
export class Greeter extends WorkflowEntrypoint {
  async run(event: { payload: Params }, step: any) {
    const hello: string = await step.do("hello", async () => `${this.env.GREETING}, ${event.payload.name}`);
    if (event.payload.nap) await step.sleep("nap", event.payload.nap);
    return { hello, region: this.env.REGION };
  }
}
"""
FUNCTION = """
export default async function (event, env) {
  if (event.payload?.fail) throw new TypeError("asked to fail");
  return { echo: event.payload, type: event.type, tokenLength: env.TOKEN.length };
}
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_server(tmp_path, egress_allow="127.0.0.1") as server:
        yield server


@pytest.fixture
def api(live: Live) -> httpx.Client:
    client = live.client(live.key(ACCOUNT))
    client.base_url = httpx.URL(f"{live.url}/api/")
    return client


def created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def error_of(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["message"]
    if field is not None:
        assert error.get("field") == field, error
    return error


def workflow(api: httpx.Client, code: str = DURABLE, kind: str = "workflow",
             env: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    """A workflow with one version: (workflow id, version id)."""
    wf = created(api.post("workflows", json={"name": "Greeter", "kind": kind}))
    if env is not None:
        assert api.patch(f"workflows/{wf['id']}", json={"envVars": env}).status_code == 200
    version = created(api.post(f"workflows/{wf['id']}/versions",
                               json={"code": code, "language": "typescript"}))
    return wf["id"], version["id"]


GREETER_ENV = [{"name": "GREETING", "value": "Hello", "isSecret": False},
               {"name": "REGION", "value": "eu-secret-region", "isSecret": True}]


def stream(api: httpx.Client, path: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Server-Sent Events of a POST, as (event, data) pairs."""
    events, name = [], "message"
    with api.stream("POST", path, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events


def run_until(api: httpx.Client, wf: str, run: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        got: dict[str, Any] = api.get(f"workflows/{wf}/runs/{run}").json()
        if got["status"] in statuses:
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.05)


def test_deploy_stream_trigger_and_runs(live: Live, api: httpx.Client) -> None:
    wf, version = workflow(api, env=GREETER_ENV)
    events = stream(api, f"workflows/{wf}/deploy-stream", {})
    assert [e for e, _ in events] == ["progress"] * len(STAGES)
    assert [d["stage"] for _, d in events] == list(STAGES)
    assert events[-1][1]["versionId"] == version
    bindings = next(d for _, d in events if d["stage"] == "BINDINGS_READY")
    assert bindings["env"] == ["GREETING", "REGION"] and "step" in bindings["bindings"]

    full = api.get(f"workflows/{wf}/full").json()
    assert full["workflow"]["activeVersionId"] == version
    assert full["activeDeployment"]["status"] == "active"
    assert full["activeDeployment"]["stage"] == "COMPLETED"
    assert full["currentVersion"]["id"] == version and "Greeter" in full["currentVersion"]["source"]

    run = created(api.post(f"workflows/{wf}/trigger", json={"params": {"name": "Ada"}}))
    assert run["status"] == "queued" and run["id"].startswith("ins_") and run["instanceId"]
    done = run_until(api, wf, run["id"], "complete", "errored")
    assert done["status"] == "complete", done
    # The secret's value never leaves: masked in the output.
    assert done["output"] == {"hello": "Hello, Ada", "region": "[redacted]"}
    assert [s["name"] for s in done["steps"]] == ["hello"]
    assert done["versionId"] == version

    # The same object through Cloudflare's API, with the official SDK.
    sdk = cloudflare.Cloudflare(api_token=api.headers["Authorization"][7:],
                                base_url=f"{live.url}/client/v4")
    instance = sdk.workflows.instances.get(run["instanceId"], account_id=ACCOUNT,
                                           workflow_name=wf)
    assert instance.status == "complete"
    assert sdk.workflows.get(wf, account_id=ACCOUNT).class_name == "Greeter"

    listed = api.get("runs").json()
    assert [r["id"] for r in listed["data"]] == [run["id"]] and listed["nextCursor"] is None
    assert api.get(f"workflows/{wf}/runs", params={"status": "errored"}).json()["data"] == []
    error_of(api.get("runs", params={"status": "bogus"}), 400, "status")
    deployments = api.get("deployments").json()["data"]
    assert [d["status"] for d in deployments] == ["active"]


def test_run_control_pause_resume_terminate(api: httpx.Client) -> None:
    wf, _ = workflow(api, env=GREETER_ENV)
    assert api.post(f"workflows/{wf}/deploy", json={}).status_code == 201
    run = created(api.post(f"workflows/{wf}/trigger",
                           json={"params": {"name": "Bo", "nap": "1 hour"}}))
    run_until(api, wf, run["id"], "waiting")
    for action, status in (("pause", "paused"), ("resume", "queued")):
        r = api.post(f"workflows/{wf}/runs/{run['id']}/{action}")
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    run_until(api, wf, run["id"], "waiting")
    assert api.post(f"workflows/{wf}/runs/{run['id']}/terminate").json()["status"] == "terminated"
    error_of(api.post(f"workflows/{wf}/runs/{run['id']}/terminate"), 409)
    error_of(api.post(f"workflows/{wf}/runs/ins_nope/pause"), 404, "runId")


def test_deploy_failures_name_their_stage(api: httpx.Client) -> None:
    wf, _ = workflow(api, env=[{"name": "GREETING", "value": "Hi", "isSecret": False}])
    events = stream(api, f"workflows/{wf}/deploy-stream", {})
    assert [d["stage"] for _, d in events[:-1]] == list(STAGES[:4])
    name, data = events[-1]
    assert name == "error" and data["stage"] == "DETECTING_BINDINGS"
    assert "env.REGION" in data["error"]
    error = error_of(api.post(f"workflows/{wf}/deploy", json={}), 400)
    assert error["code"] == "deploy_failed" and error["stage"] == "DETECTING_BINDINGS"
    failed = api.get(f"workflows/{wf}/deployments").json()["data"]
    assert [d["status"] for d in failed] == ["failed", "failed"]
    assert failed[0]["stage"] == "DETECTING_BINDINGS" and "env.REGION" in failed[0]["error"]
    # Nothing went live: no Cloudflare workflow, no run.
    assert api.get(f"workflows/{wf}").json()["activeVersionId"] is None
    error_of(api.post(f"workflows/{wf}/trigger", json={}), 409, "workflowId")
    error_of(api.post(f"workflows/{wf}/deploy", json={"connectionId": "con_nope"}), 404,
             "connectionId")
    error_of(api.post(f"workflows/{wf}/deploy", json={"versionId": "ver_nope"}), 404,
             "versionId")
    error_of(api.post(f"workflows/{wf}/deploy", json={"colour": "red"}), 400, "colour")


def test_versions_lock_revert_delete(api: httpx.Client) -> None:
    wf, first = workflow(api, env=GREETER_ENV)
    second = created(api.post(f"workflows/{wf}/versions",
                              json={"code": DURABLE.replace("Hello", "Hi"),
                                    "language": "typescript"}))
    assert second["number"] == 2 and second["compiled"]["export"] == "Greeter"
    got = api.get(f"workflows/{wf}/versions/{first}").json()
    assert got["source"] == DURABLE and got["compiled"]["kind"] == "workflow"
    assert got["compiled"]["bytecodeBytes"] > 0

    assert api.patch(f"workflows/{wf}/versions/{first}", json={"locked": True}
                     ).json()["locked"] is True
    error_of(api.post(f"workflows/{wf}/deploy", json={"versionId": first}), 409, "versionId")
    error_of(api.delete(f"workflows/{wf}/versions/{first}"), 409, "versionId")
    assert api.post(f"workflows/{wf}/deploy", json={"versionId": second["id"]}).status_code == 201
    error_of(api.delete(f"workflows/{wf}/versions/{second['id']}"), 409, "versionId")

    reverted = created(api.post(f"workflows/{wf}/versions/{first}/revert"))
    assert reverted["number"] == 3 and reverted["revertedFrom"] == first
    assert reverted["source"] == DURABLE
    assert api.patch(f"workflows/{wf}/versions/{first}", json={"locked": False}).status_code == 200
    assert api.delete(f"workflows/{wf}/versions/{first}").json() == {"id": first,
                                                                     "deleted": True}
    listed = api.get(f"workflows/{wf}/versions").json()["data"]
    assert [(v["number"], v["active"]) for v in listed] == [(3, False), (2, True)]
    error_of(api.patch(f"workflows/{wf}/versions/{second['id']}", json={"locked": "yes"}), 400,
             "locked")

    # Bad submissions change nothing.
    error = error_of(api.post(f"workflows/{wf}/versions",
                              json={"code": "export default async function ( {"}), 400, "code")
    assert error["code"] == "compile_error" and error["line"] == 1
    error_of(api.post(f"workflows/{wf}/versions", json={"ir": {}}), 400, "ir")
    for language in ("rust", {}, ["typescript"]):
        error_of(api.post(f"workflows/{wf}/versions", json={"code": "x", "language": language}),
                 400, "language")
    assert len(api.get(f"workflows/{wf}/versions").json()["data"]) == 2


def test_takedown_and_delete(live: Live, api: httpx.Client) -> None:
    wf, _ = workflow(api, env=GREETER_ENV)
    assert api.post(f"workflows/{wf}/deploy", json={}).status_code == 201
    run = created(api.post(f"workflows/{wf}/trigger", json={"params": {"name": "C"}}))
    run_until(api, wf, run["id"], "complete")
    cf = f"{live.url}/client/v4/accounts/{ACCOUNT}/workflows/{wf}"
    assert api.get(cf).status_code == 200
    r = api.post(f"workflows/{wf}/takedown", json={})
    assert r.status_code == 200 and r.json()["activeVersionId"] is None
    assert api.get(cf).status_code == 404
    assert api.get(f"workflows/{wf}/runs/{run['id']}").json()["status"] == "complete"
    assert api.get(f"workflows/{wf}/deployments").json()["data"][0]["status"] == "taken_down"
    error_of(api.post(f"workflows/{wf}/takedown", json={}), 409)
    error_of(api.post(f"workflows/{wf}/trigger", json={}), 409)

    assert api.delete(f"workflows/{wf}").json() == {"id": wf, "deleted": True}
    error_of(api.get(f"workflows/{wf}"), 404, "workflowId")
    assert api.get("runs").json()["data"] == []
    assert api.get("deployments").json()["data"] == []


def test_function_invocation(live: Live, api: httpx.Client) -> None:
    secret = "tok-12345678"
    wf, _ = workflow(api, FUNCTION, kind="script",
                     env=[{"name": "TOKEN", "value": secret, "isSecret": True}])
    shown = api.get(f"workflows/{wf}").json()
    assert shown["url"] == f"/functions/{wf}" and shown["envVars"][0]["value"] == "********"
    assert secret not in json.dumps(shown)
    # The mask sent back keeps the secret; the function still sees it.
    assert api.patch(f"workflows/{wf}", json={"envVars": shown["envVars"]}).status_code == 200
    events = stream(api, f"workflows/{wf}/deploy-stream", {})
    assert [d["stage"] for _, d in events] == list(STAGES)

    public = httpx.Client(base_url=live.url)  # no credential: a Worker URL is public
    r = public.post(f"/functions/{wf}", json={"anything": "here"})
    assert r.status_code == 200, r.text
    assert r.json() == {"echo": {"anything": "here"}, "type": "http",
                        "tokenLength": len(secret)}
    failed = public.post(f"/functions/{wf}", json={"fail": True})
    assert failed.status_code == 500
    assert failed.json()["error"]["name"] == "TypeError"
    assert "asked to fail" in failed.json()["error"]["message"]
    assert public.post("/functions/wfl_0000000000000000", json={}).status_code == 404
    assert public.post(f"/functions/{wf}", content=b"{nope").status_code == 400
    public.close()

    error_of(api.post(f"workflows/{wf}/trigger", json={}), 400, "kind")
    assert api.get(f"workflows/{wf}/runs").json()["data"] == []


def test_functions_refuse_durable_apis(api: httpx.Client) -> None:
    wf = created(api.post("workflows", json={"name": "fn", "kind": "script"}))["id"]
    code = "export default async function (event, env) {\n  await step.sleep('x', 1000);\n}\n"
    error = error_of(api.post(f"workflows/{wf}/versions", json={"code": code}), 400, "code")
    assert error["code"] == "compile_error" and (error["line"], error["column"]) == (2, 9)
    error = error_of(api.post(f"workflows/{wf}/versions", json={"code": DURABLE}), 400, "code")
    assert "WorkflowEntrypoint" in error["message"]


def test_workflow_fields_projects_and_tenancy(live: Live, api: httpx.Client) -> None:
    wf = created(api.post("workflows", json={"name": "W", "description": "d"}))
    assert wf["kind"] == "workflow" and wf["projectId"].startswith("prj_")
    error_of(api.patch(f"workflows/{wf['id']}", json={"kind": "script"}), 400, "kind")
    error_of(api.post("workflows", json={"name": "x", "kind": "cron"}), 400, "kind")
    error_of(api.post("workflows", json={"kind": "workflow"}), 400, "name")
    error_of(api.patch(f"workflows/{wf['id']}", json={"envVars": [{"name": "lower",
                                                                    "value": "v"}]}),
             400, "envVars[0].name")
    error_of(api.patch(f"workflows/{wf['id']}", json={"envVars": [
        {"name": "S", "value": "abc", "isSecret": True}]}), 400, "envVars[0].value")
    changed = api.patch(f"workflows/{wf['id']}", json={
        "name": "W2", "triggerCode": "return x", "deployConfig": {"route": {"pattern": "a/*"}},
        "dependencies": {"lodash": "^4"}}).json()
    assert (changed["name"], changed["triggerCode"]) == ("W2", "return x")
    assert changed["deployConfig"] == {"route": {"pattern": "a/*"}}

    other = created(api.post("projects", json={"name": "Other"}))
    moved = api.patch(f"workflows/{wf['id']}/move", json={"targetProjectId": other["id"]})
    assert moved.status_code == 200 and moved.json()["projectId"] == other["id"]
    error_of(api.patch(f"workflows/{wf['id']}/move", json={"targetProjectId": "prj_x"}), 404,
             "targetProjectId")
    in_other = api.get("workflows", params={"projectId": other["id"]}).json()["data"]
    assert [w["id"] for w in in_other] == [wf["id"]]

    # Another account sees nothing of it; a read-only key cannot trigger.
    stranger = live.client(live.key("globex"))
    assert stranger.get(f"{live.url}/api/workflows/{wf['id']}").status_code == 404
    assert stranger.get(f"{live.url}/api/workflows").json()["data"] == []
    reader = live.client(live.key(ACCOUNT, "read"))
    r = reader.post(f"{live.url}/api/workflows/{wf['id']}/trigger", json={})
    assert error_of(r, 403)["required_scope"] == "deploy"
    assert live.client().get(f"{live.url}/api/workflows").status_code == 401


def test_trigger_params_cap(api: httpx.Client) -> None:
    wf, _ = workflow(api, env=GREETER_ENV)
    assert api.post(f"workflows/{wf}/deploy", json={}).status_code == 201
    error_of(api.post(f"workflows/{wf}/trigger", json={"params": {"x": "y" * 110_000}}), 400,
             "params")
    error_of(api.post(f"workflows/{wf}/trigger", json={"param": {}}), 400, "param")
    assert api.get("runs").json()["data"] == []


def test_deploy_rate_limit(tmp_path: Path) -> None:
    with live_server(tmp_path, rate_deploy=2, egress_allow="127.0.0.1") as live:
        api = live.client(live.key(ACCOUNT))
        api.base_url = httpx.URL(f"{live.url}/api/")
        wf, _ = workflow(api, env=GREETER_ENV)
        assert [api.post(f"workflows/{wf}/deploy", json={}).status_code
                for _ in range(2)] == [201, 201]
        r = api.post(f"workflows/{wf}/deploy", json={})
        error_of(r, 429)
        assert int(r.headers["Retry-After"]) >= 1


def test_account_env_vars_reach_the_sandbox_and_workflow_vars_win(api: httpx.Client) -> None:
    for name, value, secret in (("GREETING", "Howdy", False), ("REGION", "acct-region", True)):
        created(api.post("env-vars", json={"name": name, "value": value, "isSecret": secret}))
    wf, _ = workflow(api, env=[{"name": "GREETING", "value": "Ahoy", "isSecret": False}])
    events = stream(api, f"workflows/{wf}/deploy-stream", {})
    assert events[-1][1]["stage"] == "COMPLETED"
    run = created(api.post(f"workflows/{wf}/trigger", json={"params": {"name": "Dee"}}))
    done = run_until(api, wf, run["id"], "complete", "errored")
    assert done["output"] == {"hello": "Ahoy, Dee", "region": "[redacted]"}
    assert "acct-region" not in json.dumps(done)


def test_a_stream_reader_leaving_does_not_stop_the_deploy(api: httpx.Client) -> None:
    wf, _ = workflow(api, env=GREETER_ENV)
    # An S3 endpoint that accepts connections and never answers: checking the
    # connection takes until boto3's read timeout, long after the reader left.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        connection = created(api.post("connections", json={
            "provider": "s3", "name": "slow", "credentials": {
                "endpoint": f"http://127.0.0.1:{silent.getsockname()[1]}", "bucket": "bkt",
                "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "secret-example"}}))
        with api.stream("POST", f"workflows/{wf}/deploy-stream",
                        json={"connectionId": connection["id"]}) as r:
            assert next(r.iter_lines()) == "event: progress"
        deadline = time.monotonic() + 30
        while (got := api.get(f"workflows/{wf}/deployments").json()["data"][0])[
                "status"] == "in_progress":
            assert time.monotonic() < deadline, got
            time.sleep(0.1)
    assert got["status"] == "failed" and got["stage"] == "DETECTING_BINDINGS", got
    assert "slow" not in got["error"] and "secret-example" not in got["error"]
