"""Tenancy and keys on a real server: 401 without a valid key, 404 for
another account's resources (never 403), 403 for a missing scope, and the
rate limits of seed 003 answered 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import Live, live_server
from tests.test_api_workflows import OK_CODE, assert_error


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("auth")) as server:
        yield server


def _workflow(client: httpx.Client, account: str) -> str:
    r = client.post(f"/v1/accounts/{account}/workflows",
                    json={"name": "w", "code": OK_CODE, "events": ["user.created"]})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["workflow"]["id"])


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer fbk_wrong",
                                    "Bearer not-even-a-flowbox-key"])
def test_no_valid_key_is_401(live: Live, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    with httpx.Client(base_url=live.url) as client:
        for method, path in (("GET", "/v1/accounts/acme/workflows"),
                             ("POST", "/v1/accounts/acme/events"),
                             ("GET", "/v1/accounts/acme/runs")):
            r = client.request(method, path, headers=headers, json={"type": "user.created"})
            assert_error(r, 401, "unauthorized", "Authorization")
            assert r.headers["WWW-Authenticate"] == "Bearer"


def test_401_comes_before_input_checks(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        r = client.post("/v1/accounts/acme/workflows", content=b"{broken")
        assert_error(r, 401, "unauthorized")


def test_another_accounts_resources_are_404(live: Live) -> None:
    mine, theirs = live.client(live.key("alice")), live.client(live.key("bob"))
    wf = _workflow(mine, "alice")
    for method, path, body in (
            ("GET", f"/v1/accounts/alice/workflows/{wf}", None),
            ("PATCH", f"/v1/accounts/alice/workflows/{wf}", {"name": "stolen"}),
            ("DELETE", f"/v1/accounts/alice/workflows/{wf}", None),
            ("GET", "/v1/accounts/alice/workflows", None),
            ("POST", "/v1/accounts/alice/workflows",
             {"name": "w", "code": OK_CODE, "events": ["user.created"]}),
            ("POST", "/v1/accounts/alice/events", {"type": "user.created"}),
            ("GET", "/v1/accounts/alice/runs", None),
            ("GET", "/v1/accounts/nobody/workflows", None)):
        r = theirs.request(method, path, json=body)
        assert_error(r, 404, "not_found", "accountId")
    # bob addressing alice's workflow under his own account finds nothing either
    assert_error(theirs.get(f"/v1/accounts/bob/workflows/{wf}"), 404, "not_found", "workflowId")
    assert mine.get(f"/v1/accounts/alice/workflows/{wf}").json()["data"]["workflow"]["name"] == "w"


def test_missing_scope_is_403(live: Live) -> None:
    writer = live.client(live.key("carol"))
    reader = live.client(live.key("carol", "read"))
    wf = _workflow(writer, "carol")
    assert reader.get(f"/v1/accounts/carol/workflows/{wf}").status_code == 200
    for method, path, body in (
            ("POST", "/v1/accounts/carol/workflows",
             {"name": "w", "code": OK_CODE, "events": ["user.created"]}),
            ("PATCH", f"/v1/accounts/carol/workflows/{wf}", {"name": "x"}),
            ("DELETE", f"/v1/accounts/carol/workflows/{wf}", None),
            ("POST", "/v1/accounts/carol/events", {"type": "user.created"})):
        error = assert_error(reader.request(method, path, json=body), 403, "forbidden")
        assert error["required_scope"] == "write"
    assert writer.get(f"/v1/accounts/carol/workflows/{wf}").json()["data"]["workflow"]["name"] == "w"


def test_a_revoked_key_is_401(live: Live) -> None:
    secret = live.key("dave")
    client = live.client(secret)
    assert client.get("/v1/accounts/dave/workflows").status_code == 200
    key = live.service.accounts.authenticate(secret)
    assert key is not None
    assert live.service.accounts.revoke("dave", key.id)
    assert_error(client.get("/v1/accounts/dave/workflows"), 401, "unauthorized")


def test_rate_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    with live_server(tmp_path, rate_global=12, rate_write=3, rate_events=4) as live:
        writer = live.client(live.key("erin"))
        statuses = [writer.post("/v1/accounts/erin/workflows", json={
            "name": "w", "code": OK_CODE, "events": ["user.created"]}).status_code
            for _ in range(4)]
        assert statuses == [201, 201, 201, 429]
        limited = writer.post("/v1/accounts/erin/workflows",
                              json={"name": "w", "code": OK_CODE, "events": ["user.created"]})
        error = assert_error(limited, 429, "rate_limited")
        assert "per minute" in error["message"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 20
        # reads are not writes: still allowed by the per-key write limit
        assert writer.get("/v1/accounts/erin/workflows").status_code == 200
        # events have their own per-key budget
        sent = [writer.post("/v1/accounts/erin/events", json={"type": "user.created"})
                for _ in range(5)]
        assert [r.status_code for r in sent] == [202, 202, 202, 202, 429]
        # and the global per-IP limit catches everything, keys or not
        rest = [httpx.get(live.url + "/v1/accounts/erin/workflows").status_code
                for _ in range(3)]
        assert rest[-1] == 429
