"""Seed 003's /api/api-keys on a real server: session only, the secret shown
once and never listed, input checks naming the field, and what a created
key then does: it works on /api and on its account's /v1 routes, within
its scopes and project, until it is revoked (401 at once) or expires."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import Live, live_server
from tests.test_platform_projects import account, api_error, make_project

KEY_FIELDS = {"id", "name", "projectId", "scopes", "createdAt", "expiresAt", "revokedAt",
              "status"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("keys")) as server:
        yield server


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def make_key(session: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "k", "scopes": ["read", "write"], **fields}
    r = session.post("/api/api-keys", json=body)
    assert r.status_code == 201, r.text
    key: dict[str, Any] = r.json()
    return key


def test_create_list_and_revoke(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    made = make_key(session, name="CI", scopes=["write", "read", "deploy"])
    assert set(made) == KEY_FIELDS | {"key"} and made["key"].startswith("fbk_")
    assert made["id"].startswith("key_") and made["name"] == "CI"
    assert made["scopes"] == ["read", "write", "deploy"] and made["status"] == "active"
    assert made["projectId"] is None and made["expiresAt"] is None
    assert made["revokedAt"] is None and made["createdAt"].endswith("Z")
    second = make_key(session, name="Second")

    r = session.get("/api/api-keys")
    assert r.status_code == 200
    listed = r.json()
    assert listed["nextCursor"] is None
    assert [k["id"] for k in listed["data"]] == [second["id"], made["id"]]  # newest first
    assert listed["data"][1] == {k: v for k, v in made.items() if k != "key"}
    assert made["key"] not in r.text and second["key"] not in r.text
    assert all(set(k) == KEY_FIELDS for k in listed["data"])

    r = session.delete(f"/api/api-keys/{made['id']}")
    assert r.status_code == 200 and r.json() == {"id": made["id"], "revoked": True}
    gone = session.get("/api/api-keys").json()["data"][1]
    assert gone["status"] == "revoked" and gone["revokedAt"].endswith("Z")
    api_error(session.delete(f"/api/api-keys/{made['id']}"), 404, "not_found", "id")
    api_error(session.delete("/api/api-keys/key_nosuch"), 404, "not_found", "id")


def test_a_created_key_works_until_revoked(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    made = make_key(session)
    key = live.client(made["key"])
    project = make_project(key, "Made by key")
    assert key.get(f"/api/projects/{project['id']}").json() == project
    r = key.get(f"/v1/accounts/{owner}/workflows")
    assert r.status_code == 200 and r.json()["data"]["workflows"] == []
    assert key.get("/v1/accounts/someone-else/workflows").status_code == 404

    assert session.delete(f"/api/api-keys/{made['id']}").status_code == 200
    # At once, although the key's authentication was cached moments ago.
    api_error(key.get("/api/projects"), 401, "unauthorized", "Authorization")
    assert key.get(f"/v1/accounts/{owner}/workflows").status_code == 401
    assert session.get(f"/api/projects/{project['id']}").json() == project


def test_an_expired_key_is_refused(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    expires = time.time() + 2
    made = make_key(session, expiresAt=iso(expires))
    assert made["expiresAt"] == iso(expires) and made["status"] == "active"
    key = live.client(made["key"])
    # Used before expiry (with a margin checked, so a slow machine cannot
    # turn this into a false failure), which also caches the authentication.
    r = key.get("/api/projects")
    if time.time() < expires - 0.2:
        assert r.status_code == 200, r.text
    while time.time() <= expires + 0.05:
        time.sleep(0.05)
    # Within the 5 s authentication cache, yet refused: expiry is checked on
    # every request.
    api_error(key.get("/api/projects"), 401, "unauthorized", "Authorization")
    assert key.get(f"/v1/accounts/{owner}/workflows").status_code == 401
    listed = session.get("/api/api-keys").json()["data"]
    assert [k["status"] for k in listed] == ["expired"]
    # An expired key can still be revoked (so it shows as deliberately ended).
    assert session.delete(f"/api/api-keys/{made['id']}").json()["revoked"] is True


def test_scopes_of_a_created_key(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    project = make_project(session, "P")
    reader = live.client(make_key(session, scopes=["read"])["key"])
    assert reader.get("/api/projects").json()["data"] == [project]
    error = api_error(reader.post("/api/projects", json={"name": "x"}), 403, "forbidden",
                      "Authorization")
    assert error["required_scope"] == "write"
    assert reader.get(f"/v1/accounts/{owner}/workflows").status_code == 200


def test_a_project_scoped_key(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    mine, other = make_project(session, "Mine"), make_project(session, "Other")
    made = make_key(session, projectId=mine["id"])
    assert made["projectId"] == mine["id"]
    scoped = live.client(made["key"])
    assert scoped.get("/api/projects").json() == {"data": [mine], "nextCursor": None}
    assert scoped.get(f"/api/projects/{mine['id']}").json() == mine
    api_error(scoped.get(f"/api/projects/{other['id']}"), 404, "not_found", "id")
    api_error(scoped.delete(f"/api/projects/{other['id']}"), 404, "not_found", "id")
    api_error(scoped.post("/api/projects", json={"name": "x"}), 403, "forbidden")
    listed = session.get("/api/api-keys").json()["data"]
    assert listed[0]["projectId"] == mine["id"]


def test_the_project_must_be_the_accounts(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    foreign = make_project(live.client(live.session(account())), "Theirs")
    for project_id in (foreign["id"], "prj_nosuch"):
        r = session.post("/api/api-keys", json={"name": "k", "scopes": ["read"],
                                                 "projectId": project_id})
        api_error(r, 404, "not_found", "projectId")
    assert session.get("/api/api-keys").json()["data"] == []


@pytest.mark.parametrize("body, field", [
    ({"scopes": ["read"]}, "name"),
    ({"name": "", "scopes": ["read"]}, "name"),
    ({"name": 3, "scopes": ["read"]}, "name"),
    ({"name": "x" * 201, "scopes": ["read"]}, "name"),
    ({"name": "k"}, "scopes"),
    ({"name": "k", "scopes": []}, "scopes"),
    ({"name": "k", "scopes": "read"}, "scopes"),
    ({"name": "k", "scopes": ["write"]}, "scopes"),
    ({"name": "k", "scopes": ["write", "deploy"]}, "scopes"),
    ({"name": "k", "scopes": ["read", "admin"]}, "scopes"),
    ({"name": "k", "scopes": ["read", 1]}, "scopes"),
    ({"name": "k", "scopes": None}, "scopes"),
    ({"name": "k", "scopes": ["read"], "projectId": 5}, "projectId"),
    ({"name": "k", "scopes": ["read"], "projectId": ""}, "projectId"),
    ({"name": "k", "scopes": ["read"], "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
    ({"name": "k", "scopes": ["read"], "expiresAt": "tomorrow"}, "expiresAt"),
    ({"name": "k", "scopes": ["read"], "expiresAt": 1893456000}, "expiresAt"),
    ({"name": "k", "scopes": ["read"], "key": "fbk_mine"}, "key"),
    ({"name": "k", "scopes": ["read"], "account": "other"}, "account"),
])
def test_create_refuses_bad_input(live: Live, body: dict[str, Any], field: str) -> None:
    session = live.client(live.session(account()))
    api_error(session.post("/api/api-keys", json=body), 400, "invalid_request", field)
    assert session.get("/api/api-keys").json()["data"] == []


def test_read_scope_is_required_by_message(live: Live) -> None:
    session = live.client(live.session(account()))
    error = api_error(session.post("/api/api-keys", json={"name": "k", "scopes": ["write"]}),
                      400, "invalid_request", "scopes")
    assert "read" in error["message"]
    api_error(session.post("/api/api-keys", content=b"[]", headers={"Content-Type": "application/json"}), 400, "invalid_json")


def test_null_project_and_expiry_mean_none(live: Live) -> None:
    session = live.client(live.session(account()))
    made = make_key(session, projectId=None, expiresAt=None, scopes=["read", "read"])
    assert made["projectId"] is None and made["expiresAt"] is None
    assert made["scopes"] == ["read"]


def test_an_api_key_may_not_manage_keys(live: Live) -> None:
    owner = account()
    session = live.client(live.session(owner))
    target = make_key(session)
    key = live.client(live.key(owner))  # every scope, still not a session
    for r in (key.get("/api/api-keys"),
              key.post("/api/api-keys", json={"name": "k", "scopes": ["read"]}),
              key.delete(f"/api/api-keys/{target['id']}")):
        error = api_error(r, 403, "forbidden", "Authorization")
        assert "session" in error["message"]
    listed = {k["id"]: k["status"] for k in session.get("/api/api-keys").json()["data"]}
    assert listed[target["id"]] == "active" and len(listed) == 2  # nothing made or revoked


def test_without_a_valid_session_is_401(live: Live) -> None:
    owner = account()
    live.service.accounts.ensure_account(owner)
    _, expired = live.service.accounts.create_session(owner, -1)
    anonymous = httpx.Client(base_url=live.url)
    live.clients.append(anonymous)
    for client in (anonymous, live.client("fbs_wrong"), live.client(expired)):
        for r in (client.get("/api/api-keys"),
                  client.post("/api/api-keys", json={"name": "k", "scopes": ["read"]}),
                  client.delete("/api/api-keys/key_x")):
            api_error(r, 401, "unauthorized", "Authorization")


def test_keys_of_another_account_are_not_found(live: Live) -> None:
    owner = live.client(live.session(account()))
    made = make_key(owner)
    stranger = live.client(live.session(account()))
    assert stranger.get("/api/api-keys").json()["data"] == []
    api_error(stranger.delete(f"/api/api-keys/{made['id']}"), 404, "not_found", "id")
    assert live.client(made["key"]).get("/api/projects").status_code == 200


def test_a_session_is_not_revoked_as_a_key(live: Live) -> None:
    owner = account()
    live.service.accounts.ensure_account(owner)
    session_record, secret = live.service.accounts.create_session(owner, 3600)
    session = live.client(secret)
    api_error(session.delete(f"/api/api-keys/{session_record.id}"), 404, "not_found", "id")
    assert session.get("/api/api-keys").status_code == 200


def test_the_session_cookie_manages_keys(live: Live) -> None:
    owner = account()
    cookie = httpx.Client(base_url=live.url, cookies={"flowbox_session": live.session(owner)})
    live.clients.append(cookie)
    r = cookie.post("/api/api-keys", json={"name": "from cookie", "scopes": ["read"]})
    assert r.status_code == 201, r.text
    made = r.json()
    assert [k["id"] for k in cookie.get("/api/api-keys").json()["data"]] == [made["id"]]
    assert cookie.delete(f"/api/api-keys/{made['id']}").json() == {"id": made["id"],
                                                                    "revoked": True}
    api_error(live.client(made["key"]).get("/api/projects"), 401, "unauthorized")


def test_key_writes_are_rate_limited(tmp_path: Path) -> None:
    with live_server(tmp_path, rate_write=2) as live:
        session = live.client(live.session("acme"))
        make_key(session)
        make_key(session)
        r = session.post("/api/api-keys", json={"name": "k", "scopes": ["read"]})
        api_error(r, 429, "rate_limited")
        assert len(session.get("/api/api-keys").json()["data"]) == 2


def test_a_cross_site_request_cannot_ride_on_the_session_cookie(live: Live) -> None:
    """The attack: another site's page POSTs text/plain (no preflight) with
    the operator's cookie to create a key. Refused twice over: the body is
    not declared JSON (415), and the Origin is not this server (403)."""
    owner = account()
    cookie = httpx.Client(base_url=live.url, cookies={"flowbox_session": live.session(owner)})
    live.clients.append(cookie)
    body = '{"name": "stolen", "scopes": ["read", "write"]}'
    plain = cookie.post("/api/api-keys", content=body,
                        headers={"Content-Type": "text/plain", "Origin": live.url})
    api_error(plain, 415, "unsupported_media_type")
    evil = cookie.post("/api/api-keys", content=body,
                       headers={"Content-Type": "application/json",
                                "Origin": "https://evil.example"})
    api_error(evil, 403, "forbidden")
    assert "https://evil.example" in evil.json()["error"]["message"]
    assert cookie.get("/api/api-keys", headers={"Origin": "https://evil.example"}).json()[
        "data"] == []  # reads are not changes; and nothing was made
    same = cookie.post("/api/api-keys", content=body,
                       headers={"Content-Type": "application/json", "Origin": live.url})
    assert same.status_code == 201, same.text
    # A Bearer credential is not sent by browsers on their own: no Origin rule.
    bearer = live.client(live.session(owner)).post(
        "/api/projects", json={"name": "p"}, headers={"Origin": "https://elsewhere.example"})
    assert bearer.status_code == 201, bearer.text
