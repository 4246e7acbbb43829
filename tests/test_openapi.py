"""The OpenAPI document: it is what /openapi.json serves, it names exactly
the app's routes and methods, and schemathesis, generating requests from
it against a live server, finds no 5xx and no response outside its schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from starlette.routing import Route

from server.openapi import document
from tests.live import Live, live_server

# The /v1 operations; tests/test_openapi_platform.py fuzzes the /api ones.
schema = schemathesis.openapi.from_dict(document()).include(path_regex="^/v1/")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("openapi")) as server:
        yield server


@pytest.fixture(scope="module")
def auth(live: Live) -> dict[str, str]:
    key = live.key("fuzz")
    with live.client(key) as client:  # something to find, so not every answer is 404
        wf = client.post("/v1/accounts/fuzz/workflows", json={
            "name": "w", "code": "export default async () => 1;", "events": ["user.created"]})
        assert wf.status_code == 201
        client.post("/v1/accounts/fuzz/events", json={"type": "user.created"})
        client.put("/v1/accounts/fuzz/rooms/r1", json={"name": "room"})
        client.put("/v1/accounts/fuzz/users/u1", json={"name": "user"})
        client.put("/v1/accounts/fuzz/stores/default/keys/k", content=b"v")
        client.put("/v1/accounts/fuzz/files/f.txt", content=b"f")
    return {"Authorization": f"Bearer {key}"}


def test_served_document_is_the_document(live: Live) -> None:
    assert httpx.get(live.url + "/openapi.json").json() == document()


def test_document_names_exactly_the_routes(live: Live) -> None:
    """Every route of every surface (/v1, /client/v4, /api, /functions,
    /health, /openapi.json) is in the document, and nothing else."""
    from server.app import create_app

    app = create_app(live.service)
    served = {(re.sub(r":\w+}", "}", r.path), m.lower())
              for r in app.routes if isinstance(r, Route)
              for m in (r.methods or ()) if m != "HEAD"}
    documented = {(path, method) for path, ops in document()["paths"].items()
                  for method in ops}
    assert served == documented
    assert any(p.startswith("/client/v4/") for p, _ in served)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case: Any, live: Live,
                                                         auth: dict[str, str]) -> None:
    if case.path_parameters is not None and "accountId" in case.path_parameters:
        case.path_parameters["accountId"] = "fuzz"
    case.call_and_validate(base_url=live.url, headers=auth,
                           checks=[not_a_server_error, response_schema_conformance])
