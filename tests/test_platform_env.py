"""Seed 003's /api/env-vars on a real server: the four routes, secrets
masked in every answer, validation naming the field, duplicates, tenancy
(another account's id is 404), scopes and missing credentials."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.platform.envvars import MASK
from tests.live import Live, live_server

_ids = itertools.count()
SECRET = "s3cr3t-Value-9f2e"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("envvars")) as server:
        yield server


def account() -> str:
    """A fresh account per test, so tests sharing a server do not meet."""
    return f"env{next(_ids)}"


def api_error(response: httpx.Response, status: int, code: str,
              field: str | None = None) -> dict[str, Any]:
    """Checks an /api error answer and returns its error object."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"], error
    if field is not None:
        assert error.get("field") == field, error
    return error


def make_var(client: httpx.Client, name: str, value: str, **fields: Any) -> dict[str, Any]:
    r = client.post("/api/env-vars", json={"name": name, "value": value, **fields})
    assert r.status_code == 201, r.text
    assert SECRET not in r.text
    var: dict[str, Any] = r.json()
    return var


def test_create_list_update_delete(live: Live) -> None:
    client = live.client(live.key(account()))
    made = make_var(client, "API_URL", "https://example.com")
    assert set(made) == {"id", "name", "value", "isSecret", "createdAt", "updatedAt"}
    assert made["id"].startswith("env_") and made["isSecret"] is False
    assert made["value"] == "https://example.com" and made["createdAt"].endswith("Z")

    r = client.patch(f"/api/env-vars/{made['id']}", json={"value": "https://other.example"})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["value"] == "https://other.example" and changed["name"] == "API_URL"
    assert changed["createdAt"] == made["createdAt"] and changed["updatedAt"] >= made["updatedAt"]
    r = client.patch(f"/api/env-vars/{made['id']}", json={"name": "BASE_URL"})
    assert r.json()["name"] == "BASE_URL" and r.json()["value"] == "https://other.example"

    listed = client.get("/api/env-vars").json()
    assert listed == {"data": [r.json()], "nextCursor": None}

    r = client.delete(f"/api/env-vars/{made['id']}")
    assert r.status_code == 200 and r.json() == {"id": made["id"], "deleted": True}
    assert client.get("/api/env-vars").json() == {"data": [], "nextCursor": None}
    api_error(client.delete(f"/api/env-vars/{made['id']}"), 404, "not_found", "id")


def test_list_is_by_name_and_pages(live: Live) -> None:
    client = live.client(live.key(account()))
    for name in ("C_VAR", "A_VAR", "B_VAR", "D_VAR", "E_VAR"):
        make_var(client, name, name.lower())
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/env-vars", params=params).json()
        assert len(body["data"]) <= 2
        seen += [v["name"] for v in body["data"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == ["A_VAR", "B_VAR", "C_VAR", "D_VAR", "E_VAR"]
    api_error(client.get("/api/env-vars", params={"limit": "0"}), 400, "invalid_request",
              "limit")
    api_error(client.get("/api/env-vars", params={"cursor": "!!"}), 400, "invalid_request",
              "cursor")


def test_secrets_are_masked_in_every_answer(live: Live) -> None:
    owner = account()
    client = live.client(live.key(owner))
    made = make_var(client, "TOKEN", SECRET, isSecret=True)
    assert made["value"] == MASK and made["isSecret"] is True
    answers = [client.get("/api/env-vars"),
               client.patch(f"/api/env-vars/{made['id']}", json={"name": "API_TOKEN"}),
               client.patch(f"/api/env-vars/{made['id']}", json={"value": SECRET + "-2"})]
    for r in answers:
        assert r.status_code == 200, r.text
        assert SECRET not in r.text and MASK in r.text
    # Stored as given: deploys hand the value to workflow code.
    stored = live.service.env_vars.all(owner)
    assert [(v.name, v.value, v.is_secret) for v in stored] == [("API_TOKEN", SECRET + "-2", True)]
    assert SECRET not in repr(stored)
    # A secret becomes plain only with a new value: the old one never shows.
    r = client.patch(f"/api/env-vars/{made['id']}", json={"isSecret": False})
    assert r.status_code == 400 and r.json()["error"]["field"] == "value"
    assert SECRET not in r.text
    r = client.patch(f"/api/env-vars/{made['id']}", json={"isSecret": False, "value": "public"})
    assert r.status_code == 200 and r.json()["value"] == "public" and SECRET not in r.text
    # A plain var made secret is masked.
    plain = make_var(client, "PLAIN", "visible-value")
    r = client.patch(f"/api/env-vars/{plain['id']}", json={"isSecret": True})
    assert r.json()["value"] == MASK and "visible-value" not in r.text
    r = client.delete(f"/api/env-vars/{plain['id']}")
    assert "visible-value" not in r.text


@pytest.mark.parametrize("body, field", [
    ({"name": "lower", "value": "x"}, "name"),
    ({"name": "1ABC", "value": "x"}, "name"),
    ({"name": "A-B", "value": "x"}, "name"),
    ({"name": "A" * 129, "value": "x"}, "name"),
    ({"name": 5, "value": "x"}, "name"),
    ({"value": "x"}, "name"),
    ({"name": "OK"}, "value"),
    ({"name": "OK", "value": 5}, "value"),
    ({"name": "OK", "value": "x" * (5 * 1024 + 1)}, "value"),
    ({"name": "OK", "value": "abc", "isSecret": True}, "value"),
    ({"name": "OK", "value": "abcd", "isSecret": "yes"}, "isSecret"),
    ({"name": "OK", "value": "abcd", "secret": True}, "secret"),
])
def test_bad_input_names_the_field(live: Live, body: dict[str, Any], field: str) -> None:
    client = live.client(live.key(account()))
    api_error(client.post("/api/env-vars", json=body), 400, "invalid_request", field)


def test_longest_name_and_value_pass(live: Live) -> None:
    client = live.client(live.key(account()))
    made = make_var(client, "A" * 128, "é" * 2560)
    assert made["value"] == "é" * 2560


def test_bad_updates_and_duplicates(live: Live) -> None:
    client = live.client(live.key(account()))
    first = make_var(client, "FIRST", "1")
    make_var(client, "SECOND", "2")
    api_error(client.post("/api/env-vars", json={"name": "FIRST", "value": "x"}), 409,
              "conflict", "name")
    url = f"/api/env-vars/{first['id']}"
    api_error(client.patch(url, json={"name": "SECOND"}), 409, "conflict", "name")
    api_error(client.patch(url, json={}), 400, "invalid_request")
    api_error(client.patch(url, json={"name": "bad name"}), 400, "invalid_request", "name")
    api_error(client.patch(url, json={"colour": "red"}), 400, "invalid_request", "colour")
    # "1" is too short to be a secret, so it cannot become one.
    api_error(client.patch(url, json={"isSecret": True}), 400, "invalid_request", "value")
    r = client.patch(url, json={"isSecret": True, "value": "long enough"})
    assert r.status_code == 200 and r.json()["value"] == MASK
    api_error(client.patch(url, json={"value": "abc"}), 400, "invalid_request", "value")
    api_error(client.post("/api/env-vars", content=b"[1]", headers={"Content-Type": "application/json"}), 400, "invalid_json")


def test_other_accounts_ids_are_not_found(live: Live) -> None:
    mine, theirs = live.client(live.key(account())), live.client(live.key(account()))
    made = make_var(mine, "MINE", SECRET, isSecret=True)
    api_error(theirs.patch(f"/api/env-vars/{made['id']}", json={"value": "zzzz"}), 404,
              "not_found", "id")
    api_error(theirs.delete(f"/api/env-vars/{made['id']}"), 404, "not_found", "id")
    assert theirs.get("/api/env-vars").json() == {"data": [], "nextCursor": None}
    # The same name is free in another account.
    make_var(theirs, "MINE", "theirs")
    api_error(mine.patch("/api/env-vars/env_unknown", json={"value": "x"}), 404, "not_found")


def test_scopes_and_credentials(live: Live) -> None:
    owner = account()
    reader = live.client(live.key(owner, "read"))
    assert reader.get("/api/env-vars").status_code == 200
    api_error(reader.post("/api/env-vars", json={"name": "A", "value": "b"}), 403, "forbidden")
    api_error(reader.delete("/api/env-vars/env_x"), 403, "forbidden")
    api_error(reader.patch("/api/env-vars/env_x", json={}), 403, "forbidden")
    anonymous = live.client()
    api_error(anonymous.get("/api/env-vars"), 401, "unauthorized")
    api_error(anonymous.post("/api/env-vars", json={"name": "A", "value": "b"}), 401,
              "unauthorized")
    session = live.client(live.session(owner))
    made = make_var(session, "FROM_SESSION", "yes")
    assert [v["id"] for v in reader.get("/api/env-vars").json()["data"]] == [made["id"]]


def test_write_rate_limit(tmp_path: Any) -> None:
    with live_server(tmp_path, rate_write=2) as live:
        client = live.client(live.key("limited"))
        for i in range(2):
            make_var(client, f"V{i}", "x")
        r = client.post("/api/env-vars", json={"name": "V9", "value": "x"})
        api_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get("/api/env-vars").status_code == 200
