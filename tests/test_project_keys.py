"""A key scoped to one project, on every surface (issue 14, item 1): on
/client/v4 it reaches its project's workflows (their scripts and
instances) and nothing else (404); the /v1 API, the list of every
workflow, and the account's env vars, connections and resources are the
whole account's (403, saying so). An account-wide key is the control."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.live import live_server

ACCOUNT = "proj"
CODE = """import { WorkflowEntrypoint } from "cloudflare:workers";
export class Job extends WorkflowEntrypoint {
  async run(event, step) { return await step.do("one", async () => 1); }
}"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with live_server(tmp_path_factory.mktemp("projkeys")) as live:
        session = live.client(live.session(ACCOUNT))
        workflows = {}
        for name in ("mine", "theirs"):
            project = session.post("/api/projects", json={"name": name}).json()
            wf = session.post("/api/workflows", json={"name": name, "kind": "workflow",
                                                      "projectId": project["id"]}).json()
            session.post(f"/api/workflows/{wf['id']}/versions",
                         json={"code": CODE, "language": "javascript"}).raise_for_status()
            assert session.post(f"/api/workflows/{wf['id']}/deploy", json={}).status_code == 201
            workflows[name] = (project["id"], wf["id"])
        key = session.post("/api/api-keys", json={
            "name": "p", "scopes": ["read", "write", "deploy"],
            "projectId": workflows["mine"][0]}).json()["key"]
        yield {"live": live, "project": live.client(key), "account": live.client(
            live.key(ACCOUNT)), "mine": workflows["mine"][1], "theirs": workflows["theirs"][1]}


CF = f"/client/v4/accounts/{ACCOUNT}"


def test_its_own_workflow_is_reachable_on_client_v4(setup: dict[str, Any]) -> None:
    http, mine = setup["project"], setup["mine"]
    assert http.get(f"{CF}/workflows/{mine}").status_code == 200
    r = http.post(f"{CF}/workflows/{mine}/instances", json={"instance_id": "own-1"})
    assert r.status_code == 201, r.text
    assert http.get(f"{CF}/workflows/{mine}/instances/own-1").status_code == 200
    assert http.get(f"{CF}/workers/scripts/{mine}").status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/workflows/{theirs}", None),
    ("GET", "/workflows/{theirs}/instances", None),
    ("POST", "/workflows/{theirs}/instances", {"instance_id": "x"}),
    ("DELETE", "/workflows/{theirs}", None),
    ("PUT", "/workflows/{theirs}", {"class_name": "Job", "script_name": "{theirs}"}),
    ("GET", "/workers/scripts/{theirs}", None),
    ("DELETE", "/workers/scripts/{theirs}", None),
    ("PUT", "/workflows/made-up", {"class_name": "Job", "script_name": "{mine}"}),
])
def test_another_projects_workflows_are_not_found(setup: dict[str, Any], method: str,
                                                  path: str, body: Any) -> None:
    fill = {"theirs": setup["theirs"], "mine": setup["mine"]}
    payload = {k: v.format(**fill) for k, v in body.items()} if body else None
    r = setup["project"].request(method, CF + path.format(**fill), json=payload)
    assert r.status_code == 404, r.text
    control = setup["account"].get(f"{CF}/workflows/{setup['theirs']}")
    assert control.status_code == 200  # it exists: the key just cannot see it


@pytest.mark.parametrize("path", [
    f"{CF}/workflows", f"/v1/accounts/{ACCOUNT}/workflows", f"/v1/accounts/{ACCOUNT}/runs",
    f"/v1/accounts/{ACCOUNT}/rooms", f"/v1/accounts/{ACCOUNT}/stores",
    f"/v1/accounts/{ACCOUNT}/files", "/api/env-vars", "/api/connections",
    "/api/resources/kv/namespaces", "/api/resources/r2/buckets"])
def test_what_is_the_whole_accounts_needs_an_account_wide_key(setup: dict[str, Any],
                                                              path: str) -> None:
    r = setup["project"].get(path)
    assert r.status_code == 403, r.text
    assert "scoped to project" in r.text and "key without a project" in r.text
    assert setup["account"].get(path).status_code == 200


@pytest.mark.parametrize(("path", "body"), [
    (f"/v1/accounts/{ACCOUNT}/events", {"type": "user.created"}),
    ("/api/env-vars", {"name": "STOLEN", "value": "x"}),
    ("/api/connections", {"name": "c", "provider": "s3", "credentials": {}}),
])
def test_account_wide_writes_are_refused_to_a_project_key(setup: dict[str, Any], path: str,
                                                          body: dict[str, Any]) -> None:
    r = setup["project"].post(path, json=body)
    assert r.status_code == 403, r.text
    assert setup["account"].get("/api/env-vars").json()["data"] == [] or all(
        v["name"] != "STOLEN" for v in setup["account"].get("/api/env-vars").json()["data"])
