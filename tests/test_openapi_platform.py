"""The OpenAPI document's platform API (seed 003, `server/openapi_platform.py`):
it names exactly the app's /api and /functions routes and methods, and
schemathesis, generating requests from it against a live server holding a
project, workflows with versions, a deployment and a run, an env var, a
connection, KV and files, finds no 5xx and no response outside its schema."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from starlette.routing import Route

from server.openapi import document
from tests.live import Live, live_server

ACCOUNT = "platform-fuzz"
PLATFORM = r"^/(api|functions)/"
schema = schemathesis.openapi.from_dict(document()).include(path_regex=PLATFORM)

# Examples per operation; raise it (FLOWBOX_FUZZ_EXAMPLES=500) for a longer hunt.
EXAMPLES = int(os.environ.get("FLOWBOX_FUZZ_EXAMPLES", "30"))
WORKFLOW = "export default async function (event, env) { return { ok: true }; }"
FUNCTION = "export default async function (event) { return { echo: event.payload }; }"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("openapi_platform"), egress_allow="127.0.0.1") as server:
        yield server


def _made(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
def ids(live: Live, s3_endpoint: str) -> dict[str, str]:
    """Something to find, so not every answer is a 404: the ids of what the
    fuzzed requests address (a deployed workflow with a run, a deployed
    function, a project, an env var, a connection to a moto bucket)."""
    key = live.key(ACCOUNT)
    with live.client(key) as v1:
        assert v1.put(f"/v1/accounts/{ACCOUNT}/stores/default/keys/k", content=b"v").is_success
        assert v1.put(f"/v1/accounts/{ACCOUNT}/files/f.txt", content=b"f").is_success
    api = live.client(key)
    api.base_url = httpx.URL(f"{live.url}/api/")
    project = _made(api.post("projects", json={"name": "Fuzzed"}))["id"]
    wf = _made(api.post("workflows", json={"name": "w", "projectId": project}))["id"]
    version = _made(api.post(f"workflows/{wf}/versions", json={"code": WORKFLOW}))["id"]
    _made(api.post(f"workflows/{wf}/deploy", json={}))
    run = _made(api.post(f"workflows/{wf}/trigger", json={"params": {"n": 1}}))["id"]
    fn = _made(api.post("workflows", json={"name": "f", "kind": "script"}))["id"]
    _made(api.post(f"workflows/{fn}/versions", json={"code": FUNCTION}))
    _made(api.post(f"workflows/{fn}/deploy", json={}))
    var = _made(api.post("env-vars", json={"name": "FUZZ_VAR", "value": "x"}))["id"]
    bucket = f"fuzz-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                 aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    connection = _made(api.post("connections", json={"provider": "s3", "credentials": {
        "endpoint": s3_endpoint, "region": "us-east-1", "bucket": bucket,
        "accessKeyId": "testing", "secretAccessKey": "testing"}}))["id"]
    return {"workflowId": wf, "versionId": version, "runId": run, "function": fn,
            "project": project, "envVar": var, "connectionId": connection, "bucket": bucket,
            "namespaceId": "default", "key": "k"}


@pytest.fixture(scope="module")
def auth(live: Live) -> dict[str, str]:
    """The operator's session: every scope, and the API keys routes too."""
    return {"Authorization": f"Bearer {live.session(ACCOUNT)}"}


def test_document_names_exactly_the_platform_routes(live: Live) -> None:
    from server.app import create_app

    app = create_app(live.service)
    served = {(re.sub(r":\w+}", "}", r.path), m.lower())
              for r in app.routes if isinstance(r, Route) and re.match(PLATFORM, r.path)
              for m in (r.methods or ()) if m != "HEAD"}
    documented = {(path, method) for path, ops in document()["paths"].items()
                  if re.match(PLATFORM, path) for method in ops}
    assert served == documented


def test_platform_operations_need_the_bearer_scheme_but_functions() -> None:
    for path, ops in document()["paths"].items():
        for op in ops.values():
            if path.startswith("/api/"):
                assert op["security"] == [{"bearer": []}], path
                assert re.search(r"`(read|write|deploy)` scope|session", op["description"])
            elif path.startswith("/functions/"):
                assert op["security"] == [], path


# The `id` of /api/<resource>/{id}, by resource; connections are left to the
# fuzzer (new credentials would point the bucket listings at a random host).
ID_OF = {"projects": "project", "workflows": "workflowId", "env-vars": "envVar"}


def aim(case: Any, ids: dict[str, str]) -> None:
    """Points a generated request's ids at real things, except to delete them."""
    if case.method.upper() == "DELETE":
        return
    path = case.path_parameters or {}
    for name in path:
        if name == "id":
            resource = case.path.split("/")[2]
            if resource in ID_OF:
                path[name] = ids[ID_OF[resource]]
        elif name == "workflowId" and case.path.startswith("/functions/"):
            path[name] = ids["function"]
        elif name in ids:
            path[name] = ids[name]
    query = case.query if isinstance(case.query, dict) else None
    if query is not None and "connectionId" in query:
        query["connectionId"] = ids["connectionId"]
    if "bucketName" in path:
        path["bucketName"] = ids["bucket"] if query and "connectionId" in query else "default"


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case: Any, live: Live,
                                                         ids: dict[str, str],
                                                         auth: dict[str, str]) -> None:
    aim(case, ids)
    case.call_and_validate(base_url=live.url, headers=auth,
                           checks=[not_a_server_error, response_schema_conformance])
