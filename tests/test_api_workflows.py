"""Seed 000's workflow API on a real server: the seed's curl example as
written, every route, and every kind of bad input, in the envelope."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import Live, live_server

SEED_CODE = ("export default async function(event, { store, room }) {\n  console.log(`User "
             "${event.data.userId} joined room ${event.data.roomId}`);\n  return { success: "
             "true };\n}")
OK_CODE = "export default async () => 1;"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("wf"), max_body_bytes=64 * 1024) as server:
        yield server


@pytest.fixture(scope="module")
def acme(live: Live) -> httpx.Client:
    return live.client(live.key("acme"))


def assert_error(response: httpx.Response, status: int, code: str,
                 field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "response" and body["success"] is False and body["data"] is None
    assert isinstance(body["description"], str) and body["description"]
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    if field is not None:
        assert body["error"]["field"] == field, body
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_seed_curl_example_works_as_written(live: Live) -> None:
    token = live.key("seed-acct", "read,write")
    script = """curl -s -X POST ${BASE}/v1/accounts/${ACCOUNT_ID}/workflows \\
  -H "Authorization: Bearer ${TOKEN}" \\
  -H "Content-Type: application/json" \\
  -d '{
    "name": "Welcome message",
    "code": "export default async function(event, { store, room }) {\\n  console.log(`User ${event.data.userId} joined room ${event.data.roomId}`);\\n  return { success: true };\\n}",
    "events": ["participant.joined"]
  }' -w '\\n%{http_code}'"""
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         env={"BASE": live.url, "ACCOUNT_ID": "seed-acct", "TOKEN": token,
                              "PATH": "/usr/bin:/bin"}).stdout
    body, status = out.rsplit("\n", 1)
    assert status == "201"
    doc = json.loads(body)
    assert doc["type"] == "response" and doc["success"] is True and doc["error"] is None
    assert doc["description"] == "Workflow created"
    wf = doc["data"]["workflow"]
    assert set(wf) == {"id", "organization_id", "name", "code", "events", "room_id", "enabled",
                       "created_at", "updated_at"}
    assert wf["id"].startswith("wf_") and wf["organization_id"] == "seed-acct"
    assert wf["name"] == "Welcome message" and wf["code"] == SEED_CODE
    assert wf["events"] == ["participant.joined"] and wf["room_id"] is None
    assert wf["enabled"] is True and wf["created_at"].endswith("Z")
    assert wf["created_at"] == wf["updated_at"]


def test_create_get_update_delete(acme: httpx.Client) -> None:
    created = acme.post("/v1/accounts/acme/workflows", json={
        "name": "ts", "code": "export default async (e: {type: string}): Promise<string> => e.type;",
        "events": ["user.created", "user.updated"], "roomId": "room-1"})
    assert created.status_code == 201, created.text
    wf = created.json()["data"]["workflow"]
    assert wf["room_id"] == "room-1" and wf["events"] == ["user.created", "user.updated"]
    path = f"/v1/accounts/acme/workflows/{wf['id']}"
    assert acme.get(path).json()["data"]["workflow"] == wf

    updated = acme.patch(path, json={"name": "renamed", "enabled": False, "roomId": None})
    assert updated.status_code == 200, updated.text
    new = updated.json()["data"]["workflow"]
    assert (new["name"], new["enabled"], new["room_id"]) == ("renamed", False, None)
    assert new["code"] == wf["code"] and new["created_at"] == wf["created_at"]
    assert new["updated_at"] > wf["updated_at"]

    deleted = acme.delete(path)
    assert deleted.status_code == 200 and deleted.json()["description"] == "Workflow deleted"
    assert_error(acme.get(path), 404, "not_found", "workflowId")
    assert_error(acme.delete(path), 404, "not_found", "workflowId")
    assert_error(acme.patch(path, json={"name": "x"}), 404, "not_found", "workflowId")


def test_list_pages_with_a_cursor(live: Live) -> None:
    client = live.client(live.key("lister"))
    ids = []
    for n in range(7):
        r = client.post("/v1/accounts/lister/workflows",
                        json={"name": f"w{n}", "code": OK_CODE, "events": ["session.started"]})
        ids.append(r.json()["data"]["workflow"]["id"])
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        data = client.get("/v1/accounts/lister/workflows", params=params).json()["data"]
        seen += [w["id"] for w in data["workflows"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 3
    assert_error(client.get("/v1/accounts/lister/workflows", params={"limit": "0"}),
                 400, "invalid_request", "limit")
    assert_error(client.get("/v1/accounts/lister/workflows", params={"limit": "101"}),
                 400, "invalid_request", "limit")
    assert_error(client.get("/v1/accounts/lister/workflows", params={"cursor": "forged!"}),
                 400, "invalid_request", "cursor")


def test_compile_error_names_line_and_column_and_stores_nothing(live: Live) -> None:
    client = live.client(live.key("compiler"))
    r = client.post("/v1/accounts/compiler/workflows", json={
        "name": "broken", "code": "export default async () => {\n  let x = ;\n}",
        "events": ["session.started"]})
    error = assert_error(r, 400, "compile_error", "code")
    assert error["line"] == 2 and isinstance(error["column"], int)
    assert "line 2" in error["message"]
    listed = client.get("/v1/accounts/compiler/workflows").json()["data"]["workflows"]
    assert listed == []


def test_update_with_broken_code_keeps_the_old_code(acme: httpx.Client) -> None:
    wf = acme.post("/v1/accounts/acme/workflows", json={
        "name": "keep", "code": OK_CODE, "events": ["session.closed"]}).json()["data"]["workflow"]
    path = f"/v1/accounts/acme/workflows/{wf['id']}"
    assert_error(acme.patch(path, json={"code": "export default (", "name": "nope"}),
                 400, "compile_error", "code")
    assert acme.get(path).json()["data"]["workflow"] == wf


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"code": OK_CODE, "events": ["user.created"]}, "name", "invalid_request"),
    ({"name": "n", "events": ["user.created"]}, "code", "invalid_request"),
    ({"name": "n", "code": OK_CODE}, "events", "invalid_request"),
    ({"name": "n", "code": OK_CODE, "events": []}, "events", "invalid_request"),
    ({"name": "n", "code": OK_CODE, "events": ["user.exploded"]}, "events", "invalid_request"),
    ({"name": "n", "code": OK_CODE, "events": "user.created"}, "events", "invalid_request"),
    ({"name": 5, "code": OK_CODE, "events": ["user.created"]}, "name", "invalid_request"),
    ({"name": "n", "code": ["x"], "events": ["user.created"]}, "code", "invalid_request"),
    ({"name": "n", "code": OK_CODE, "events": ["user.created"], "roomId": 7}, "roomId",
     "invalid_request"),
    ({"name": "n", "code": OK_CODE, "events": ["user.created"], "colour": "red"}, "colour",
     "invalid_request"),
    ({"name": "n" * 201, "code": OK_CODE, "events": ["user.created"]}, "name",
     "invalid_request"),
])
def test_bad_registrations_are_400_naming_the_field(acme: httpx.Client, body: dict[str, Any],
                                                    field: str, code: str) -> None:
    before = acme.get("/v1/accounts/acme/workflows", params={"limit": "100"}).json()
    assert_error(acme.post("/v1/accounts/acme/workflows", json=body), 400, code, field)
    assert acme.get("/v1/accounts/acme/workflows", params={"limit": "100"}).json() == before


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "malformed JSON"),
    (b"", "empty"),
    (b"[1, 2]", "JSON object"),
    (b"\xff\xfe", "UTF-8"),
    (b'{"name": "x", "code": "export default async () => 1;", "events": ["user.created"], '
     b'"n": NaN}', "NaN and Infinity"),
    (b'{"name": "x", "events": ["user.created"], "code": Infinity}', "NaN and Infinity"),
    (b'{"name": "\\ud800", "code": "export default async () => 1;", '
     b'"events": ["user.created"]}', "lone surrogate"),
    (b'{"name": "x", "deep": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nested too deeply"),
])
def test_malformed_bodies_are_400(acme: httpx.Client, raw: bytes, reason: str) -> None:
    error = assert_error(acme.post("/v1/accounts/acme/workflows", content=raw,
                                   headers={"Content-Type": "application/json"}),
                         400, "invalid_json")
    assert reason in error["message"]


def test_oversized_body_is_413_with_or_without_content_length(acme: httpx.Client) -> None:
    big = json.dumps({"name": "big", "code": "//" + "x" * 70_000 + "\nexport default 1",
                      "events": ["user.created"]}).encode()
    error = assert_error(acme.post("/v1/accounts/acme/workflows", content=big, headers={"Content-Type": "application/json"}), 413,
                         "payload_too_large")
    assert "65536" in error["message"]

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to trust
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    assert_error(acme.post("/v1/accounts/acme/workflows", content=chunks(),
                                   headers={"Content-Type": "application/json"}), 413,
                 "payload_too_large")


def test_update_validates_too(acme: httpx.Client) -> None:
    wf = acme.post("/v1/accounts/acme/workflows", json={
        "name": "u", "code": OK_CODE, "events": ["user.created"]}).json()["data"]["workflow"]
    path = f"/v1/accounts/acme/workflows/{wf['id']}"
    assert_error(acme.patch(path, json={}), 400, "invalid_request")
    assert_error(acme.patch(path, json={"enabled": "yes"}), 400, "invalid_request", "enabled")
    assert_error(acme.patch(path, json={"id": "wf_other"}), 400, "invalid_request", "id")
    assert_error(acme.patch(path, json={"events": ["nope"]}), 400, "invalid_request", "events")


def test_unknown_routes_and_methods_use_the_envelope(acme: httpx.Client) -> None:
    assert_error(acme.get("/v1/nothing-here"), 404, "not_found")
    assert_error(acme.put("/v1/accounts/acme/workflows"), 405, "method_not_allowed")


def test_a_workflow_class_is_refused_on_this_route(acme: httpx.Client) -> None:
    code = ("import { WorkflowEntrypoint } from 'cloudflare:workers';\n"
            "export class W extends WorkflowEntrypoint { async run() { return 1; } }")
    r = acme.post("/v1/accounts/acme/workflows",
                  json={"name": "class", "code": code, "events": ["user.created"]})
    assert_error(r, 400, "compile_error", "code")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_workflow_registers_from_a_file_with_curl(live: Live, tmp_path: Any) -> None:
    """The README's form: code from a file, nothing escaped by hand."""
    token = live.key("files-acct", "read,write")
    (tmp_path / "welcome.ts").write_text(
        'export default async function (event: { data: { userId: string } }) {\n'
        '  return { hello: `user "${event.data.userId}"` };\n}\n')
    script = """curl -s -X POST ${BASE}/v1/accounts/files-acct/workflows \\
  -H "Authorization: Bearer ${TOKEN}" \\
  -F name=welcome -F events=participant.joined,user.created -F code=@welcome.ts \\
  -w '\\n%{http_code}'"""
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env={"BASE": live.url, "TOKEN": token,
                                            "PATH": "/usr/bin:/bin"}).stdout
    body, status = out.rsplit("\n", 1)
    assert status == "201", body
    wf = json.loads(body)["data"]["workflow"]
    assert wf["code"] == (tmp_path / "welcome.ts").read_text()
    assert wf["events"] == ["participant.joined", "user.created"] and wf["enabled"] is True
    client = live.client(token)
    updated = client.patch(f"/v1/accounts/files-acct/workflows/{wf['id']}",
                           files={"code": ("w.js", b"export default async () => 2;")},
                           data={"enabled": "false"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["workflow"]["enabled"] is False
    bad = client.post("/v1/accounts/files-acct/workflows", files={
        "code": ("w.js", b"export default async () => {")},
        data={"name": "broken", "events": "user.created"})
    assert_error(bad, 400, "compile_error", "code")
    assert_error(client.post("/v1/accounts/files-acct/workflows", files={
        "code": ("w.js", b"export default async () => 1;")},
        data={"name": "x", "events": "user.created", "color": "red"}), 400, "invalid_request")
    assert_error(client.post("/v1/accounts/files-acct/workflows", files={
        "code": ("w.js", b"\xff\xfe")}, data={"name": "x", "events": "user.created"}),
        400, "invalid_request", "code")


@pytest.mark.parametrize("kind", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_must_say_it_is_json(acme: httpx.Client, kind: str | None) -> None:
    body = json.dumps({"name": "x", "code": OK_CODE, "events": ["user.created"]}).encode()
    headers = {"Content-Type": kind} if kind else {}
    error = assert_error(acme.post("/v1/accounts/acme/workflows", content=body, headers=headers),
                         415, "unsupported_media_type", "Content-Type")
    assert "application/json" in error["message"]
    ok = acme.post("/v1/accounts/acme/workflows", content=body,
                   headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 201, ok.text
