"""Seed 003's /api/projects on a real server: the five routes, the error
shape `{"error": {code, message, field}}`, tenancy (another account's or,
for a project-scoped key, another project's id is 404), scopes, the write
rate limit, and the refusal to delete a project that holds workflows."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import Live, live_server

_ids = itertools.count()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("projects")) as server:
        yield server


def account() -> str:
    """A fresh account per test, so tests sharing a server do not meet."""
    return f"acct{next(_ids)}"


def api_error(response: httpx.Response, status: int, code: str,
              field: str | None = None) -> dict[str, Any]:
    """Checks an /api error answer and returns its error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error.get("field") == field, body
    return error


def make_project(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    r = client.post("/api/projects", json={"name": name, **fields})
    assert r.status_code == 201, r.text
    project: dict[str, Any] = r.json()
    return project


def hold_workflow(live: Live, owner: str, project_id: str) -> str:
    """A platform workflow row in the project (no route creates one yet).
    Braces are doubled: Database.sql formats queries with str.format."""
    workflow_id = f"wf_{next(_ids)}"
    live.service.db.execute(
        "INSERT INTO platform_workflows (id, account, project_id, name, description, kind, "
        "env_vars, trigger_code, dependencies, deploy_config, active_version_id, created_at, "
        "updated_at) VALUES (?, ?, ?, 'w', '', 'workflow', '[]', NULL, '{{}}', '{{}}', NULL, 0, 0)",
        (workflow_id, owner, project_id))
    return workflow_id


def test_create_get_update_delete(live: Live) -> None:
    client = live.client(live.key(account()))
    made = make_project(client, "My Project", slug="my-project", description="first")
    assert set(made) == {"id", "name", "slug", "description", "createdAt", "updatedAt"}
    assert made["id"].startswith("prj_") and made["slug"] == "my-project"
    assert made["name"] == "My Project" and made["description"] == "first"
    assert made["createdAt"].endswith("Z")
    assert client.get(f"/api/projects/{made['id']}").json() == made

    r = client.patch(f"/api/projects/{made['id']}", json={"name": "Renamed"})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["name"] == "Renamed" and changed["description"] == "first"
    assert changed["slug"] == "my-project" and changed["updatedAt"] >= made["updatedAt"]
    r = client.patch(f"/api/projects/{made['id']}", json={"description": ""})
    assert r.json()["description"] == "" and r.json()["name"] == "Renamed"
    assert client.get(f"/api/projects/{made['id']}").json()["name"] == "Renamed"

    r = client.delete(f"/api/projects/{made['id']}")
    assert r.status_code == 200 and r.json() == {"id": made["id"], "deleted": True}
    api_error(client.get(f"/api/projects/{made['id']}"), 404, "not_found", "id")
    api_error(client.delete(f"/api/projects/{made['id']}"), 404, "not_found", "id")
    assert client.get("/api/projects").json() == {"data": [], "nextCursor": None}


def test_slug_defaults_from_name_and_duplicates_conflict(live: Live) -> None:
    client = live.client(live.key(account()))
    made = make_project(client, "  Billing & Payments!  ")
    assert made["slug"] == "billing-payments" and made["description"] == ""
    error = api_error(client.post("/api/projects", json={"name": "Other",
                                                         "slug": "billing-payments"}),
                      409, "conflict", "slug")
    assert "billing-payments" in error["message"]
    # Slugs are per account: another account may use the same one.
    other = live.client(live.key(account()))
    assert make_project(other, "Billing", slug="billing-payments")["slug"] == "billing-payments"


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": 5}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "ok", "slug": "Bad Slug"}, "slug"),
    ({"name": "ok", "slug": "-lead"}, "slug"),
    ({"name": "ok", "slug": 3}, "slug"),
    ({"name": "ok", "description": "d" * 2001}, "description"),
    ({"name": "ok", "description": None}, "description"),
    ({"name": "ok", "colour": "red"}, "colour"),
])
def test_create_refuses_bad_input(live: Live, body: dict[str, Any], field: str) -> None:
    client = live.client(live.key(account()))
    api_error(client.post("/api/projects", json=body), 400, "invalid_request", field)
    assert client.get("/api/projects").json()["data"] == []


def test_malformed_bodies(live: Live) -> None:
    client = live.client(live.key(account()))
    api_error(client.post("/api/projects", content=b"{nope", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    api_error(client.post("/api/projects", json=["name"]), 400, "invalid_json")
    project = make_project(client, "P")
    api_error(client.patch(f"/api/projects/{project['id']}", content=b"",
                           headers={"Content-Type": "application/json"}), 400, "invalid_json")


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"description": 7}, "description"),
    ({"slug": "new-slug"}, "slug"),
    ({"name": "ok", "kind": "x"}, "kind"),
])
def test_update_refuses_bad_input(live: Live, body: dict[str, Any], field: str) -> None:
    client = live.client(live.key(account()))
    project = make_project(client, "Kept")
    api_error(client.patch(f"/api/projects/{project['id']}", json=body), 400,
              "invalid_request", field)
    assert client.get(f"/api/projects/{project['id']}").json() == project


def test_update_needs_a_field(live: Live) -> None:
    client = live.client(live.key(account()))
    project = make_project(client, "Kept")
    error = api_error(client.patch(f"/api/projects/{project['id']}", json={}), 400,
                      "invalid_request")
    assert "name or description" in error["message"]


def test_list_pages_oldest_first(live: Live) -> None:
    client = live.client(live.key(account()))
    made = [make_project(client, f"P{i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/projects", params=params).json()
        assert set(body) == {"data", "nextCursor"} and len(body["data"]) <= 2
        seen += [p["id"] for p in body["data"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == made and pages == 3
    assert [p["id"] for p in client.get("/api/projects").json()["data"]] == made


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
    ({"cursor": "garbage!"}, "cursor"),
])
def test_list_refuses_bad_query(live: Live, params: dict[str, str], field: str) -> None:
    client = live.client(live.key(account()))
    api_error(client.get("/api/projects", params=params), 400, "invalid_request", field)


def test_another_accounts_project_is_not_found(live: Live) -> None:
    owner = live.client(live.key(account()))
    project = make_project(owner, "Mine")
    stranger = live.client(live.key(account()))
    path = f"/api/projects/{project['id']}"
    api_error(stranger.get(path), 404, "not_found", "id")
    api_error(stranger.patch(path, json={"name": "Stolen"}), 404, "not_found", "id")
    api_error(stranger.delete(path), 404, "not_found", "id")
    api_error(stranger.get("/api/projects/prj_nosuch"), 404, "not_found", "id")
    assert stranger.get("/api/projects").json()["data"] == []
    assert owner.get(path).json() == project


def test_a_project_holding_workflows_is_not_deleted(live: Live) -> None:
    owner = account()
    client = live.client(live.key(owner))
    project = make_project(client, "Busy")
    workflow = hold_workflow(live, owner, project["id"])
    error = api_error(client.delete(f"/api/projects/{project['id']}"), 409, "conflict")
    assert "1 workflow" in error["message"] and "move" in error["message"]
    assert client.get(f"/api/projects/{project['id']}").status_code == 200
    live.service.db.execute("DELETE FROM platform_workflows WHERE id = ?", (workflow,))
    assert client.delete(f"/api/projects/{project['id']}").json()["deleted"] is True


def test_without_a_valid_credential_is_401(live: Live) -> None:
    owner = account()
    project = make_project(live.client(live.key(owner)), "P")
    revoked_key, revoked = live.service.accounts.create_key(owner, ("read", "write"))
    assert live.client(revoked).get("/api/projects").status_code == 200  # now cached
    assert live.service.accounts.revoke(owner, revoked_key.id)
    _, expired = live.service.accounts.create_key(owner, ("read", "write"),
                                                  expires_at=time.time() - 1)
    anonymous = httpx.Client(base_url=live.url)
    live.clients.append(anonymous)
    calls = [("GET", "/api/projects", None), ("POST", "/api/projects", {"name": "x"}),
             ("GET", f"/api/projects/{project['id']}", None),
             ("PATCH", f"/api/projects/{project['id']}", {"name": "x"}),
             ("DELETE", f"/api/projects/{project['id']}", None)]
    for client in (anonymous, live.client("fbk_wrong"), live.client("nonsense"),
                   live.client(revoked), live.client(expired)):
        for method, path, body in calls:
            r = client.request(method, path, json=body)
            api_error(r, 401, "unauthorized", "Authorization")
            assert r.headers["WWW-Authenticate"] == "Bearer"
    assert live.client(live.key(owner)).get(f"/api/projects/{project['id']}").json() == project


def test_a_read_only_key_may_only_read(live: Live) -> None:
    owner = account()
    project = make_project(live.client(live.key(owner)), "P")
    reader = live.client(live.key(owner, "read"))
    assert reader.get("/api/projects").json()["data"] == [project]
    assert reader.get(f"/api/projects/{project['id']}").json() == project
    for r in (reader.post("/api/projects", json={"name": "x"}),
              reader.patch(f"/api/projects/{project['id']}", json={"name": "x"}),
              reader.delete(f"/api/projects/{project['id']}")):
        assert api_error(r, 403, "forbidden", "Authorization")["required_scope"] == "write"


def test_a_project_scoped_key_sees_one_project(live: Live) -> None:
    owner = account()
    full = live.client(live.key(owner))
    mine, other = make_project(full, "Mine"), make_project(full, "Other")
    _, secret = live.service.accounts.create_key(owner, ("read", "write"),
                                                 project_id=mine["id"])
    scoped = live.client(secret)
    assert scoped.get("/api/projects").json() == {"data": [mine], "nextCursor": None}
    assert scoped.get(f"/api/projects/{mine['id']}").json() == mine
    assert scoped.patch(f"/api/projects/{mine['id']}",
                        json={"description": "ok"}).status_code == 200
    path = f"/api/projects/{other['id']}"
    api_error(scoped.get(path), 404, "not_found", "id")
    api_error(scoped.patch(path, json={"name": "x"}), 404, "not_found", "id")
    api_error(scoped.delete(path), 404, "not_found", "id")
    api_error(scoped.post("/api/projects", json={"name": "More"}), 403, "forbidden")
    assert len(full.get("/api/projects").json()["data"]) == 2


def test_the_session_works_as_bearer_and_as_cookie(live: Live) -> None:
    owner = account()
    session = live.session(owner)
    made = make_project(live.client(session), "By bearer")
    cookie = httpx.Client(base_url=live.url, cookies={"flowbox_session": session})
    live.clients.append(cookie)
    r = cookie.post("/api/projects", json={"name": "By cookie"})
    assert r.status_code == 201, r.text
    listed = [p["name"] for p in cookie.get("/api/projects").json()["data"]]
    assert listed == ["By bearer", "By cookie"]
    assert cookie.get(f"/api/projects/{made['id']}").json() == made
    assert cookie.delete(f"/api/projects/{made['id']}").json()["deleted"] is True
    bad = httpx.Client(base_url=live.url, cookies={"flowbox_session": "fbs_wrong"})
    live.clients.append(bad)
    api_error(bad.get("/api/projects"), 401, "unauthorized")


def test_writes_are_rate_limited(tmp_path: Path) -> None:
    with live_server(tmp_path, rate_write=2) as live:
        client = live.client(live.key("acme"))
        project = make_project(client, "One")
        assert client.patch(f"/api/projects/{project['id']}",
                            json={"name": "Two"}).status_code == 200
        r = client.post("/api/projects", json={"name": "Three"})
        api_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get("/api/projects").status_code == 200  # reads are not limited
        # The limit is per key: a second key of the account still writes.
        assert live.client(live.key("acme")).post(
            "/api/projects", json={"name": "Four"}).status_code == 201
