"""The operator routes that feed the read-only bindings: rooms, users, KV
stores and files, checked over HTTP and through a workflow that reads them
(files on the local directory and on moto's S3 server)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from server.errors import InvalidRequest
from tests.live import Live, live_server, wait_for_runs
from tests.test_api_events import register, send
from tests.test_api_workflows import assert_error


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("data"), max_body_bytes=4096,
                     max_file_bytes=8192) as server:
        yield server


def test_rooms_and_users(live: Live) -> None:
    c = live.client(live.key("dir"))
    created = c.put("/v1/accounts/dir/rooms/r1", json={"name": "Room", "metadata": {"k": 1}})
    assert created.status_code == 201, created.text
    room = created.json()["data"]["room"]
    assert (room["id"], room["name"], room["metadata"], room["participants"]) == (
        "r1", "Room", {"k": 1}, [])
    again = c.put("/v1/accounts/dir/rooms/r1", json={"name": "Renamed"})
    assert again.status_code == 200
    assert again.json()["data"]["room"]["createdAt"] == room["createdAt"]

    assert c.put("/v1/accounts/dir/users/u1",
                 json={"name": "Ann", "email": "ann@example.com"}).status_code == 201
    send(c, "dir", "participant.joined", {"roomId": "r1", "userId": "u1"})
    got = c.get("/v1/accounts/dir/rooms/r1").json()["data"]["room"]
    assert [p["userId"] for p in got["participants"]] == ["u1"]
    assert c.get("/v1/accounts/dir/users/u1").json()["data"]["user"]["email"] == "ann@example.com"

    send(c, "dir", "user.updated", {"userId": "u1", "name": "Annie"})
    assert c.get("/v1/accounts/dir/users/u1").json()["data"]["user"]["name"] == "Annie"

    assert c.delete("/v1/accounts/dir/users/u1").status_code == 200
    assert c.get("/v1/accounts/dir/rooms/r1").json()["data"]["room"]["participants"] == []
    assert_error(c.get("/v1/accounts/dir/users/u1"), 404, "not_found", "userId")
    assert c.delete("/v1/accounts/dir/rooms/r1").status_code == 200
    assert_error(c.get("/v1/accounts/dir/rooms/r1"), 404, "not_found", "roomId")
    assert_error(c.delete("/v1/accounts/dir/rooms/r1"), 404, "not_found", "roomId")

    assert_error(c.put("/v1/accounts/dir/rooms/r2", json={"name": 3}), 400, "invalid_request",
                 "name")
    assert_error(c.put("/v1/accounts/dir/rooms/r2", json={"metadata": []}), 400,
                 "invalid_request", "metadata")
    assert_error(c.put("/v1/accounts/dir/users/u2", json={"role": "x"}), 400,
                 "invalid_request", "role")
    assert_error(c.put("/v1/accounts/dir/rooms/" + "r" * 300, json={}), 400,
                 "invalid_request", "roomId")
    other = live.client(live.key("dir-other"))
    c.put("/v1/accounts/dir/rooms/secret", json={"name": "mine"})
    assert_error(other.get("/v1/accounts/dir-other/rooms/secret"), 404, "not_found", "roomId")
    assert_error(other.get("/v1/accounts/dir/rooms/secret"), 404, "not_found", "accountId")


def test_rooms_and_users_are_listed_by_id_with_a_cursor(live: Live) -> None:
    c = live.client(live.key("lists"))
    for i in (3, 1, 2):
        c.put(f"/v1/accounts/lists/rooms/r{i}", json={"name": f"room {i}"})
        c.put(f"/v1/accounts/lists/users/u{i}", json={"name": f"user {i}"})
    for kind in ("rooms", "users"):
        first = c.get(f"/v1/accounts/lists/{kind}", params={"limit": "2"}).json()["data"]
        assert [x["id"] for x in first[kind]] == [f"{kind[0]}1", f"{kind[0]}2"]
        rest = c.get(f"/v1/accounts/lists/{kind}",
                     params={"cursor": first["next_cursor"]}).json()["data"]
        assert [x["id"] for x in rest[kind]] == [f"{kind[0]}3"] and rest["next_cursor"] is None
        assert rest[kind][0]["name"] == f"{kind[:-1]} 3"
        assert_error(c.get(f"/v1/accounts/lists/{kind}", params={"cursor": "junk"}), 400,
                     "invalid_request", "cursor")
    other = live.client(live.key("lists-other"))
    assert other.get("/v1/accounts/lists-other/rooms").json()["data"]["rooms"] == []
    assert_error(other.get("/v1/accounts/lists/users"), 404, "not_found", "accountId")


def test_kv_bulk_write_and_the_stores_list(live: Live) -> None:
    c = live.client(live.key("bulk"))
    base = "/v1/accounts/bulk/stores/config/keys"
    later = int(time.time()) + 3600
    r = c.put(base, json=[{"key": "a", "value": "alpha"},
                          {"key": "b", "value": "AAEC", "base64": True, "metadata": {"v": 1}},
                          {"key": "c/d", "value": "x", "expiration": later}])
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"written": 3}
    assert c.get(base + "/a").content == b"alpha"
    assert c.get(base + "/b").content == b"\x00\x01\x02"
    assert c.get(base + "/b").headers["x-flowbox-metadata"] == '{"v": 1}'
    assert c.get(base + "/c/d").headers["x-flowbox-expiration"] == str(later)
    c.put("/v1/accounts/bulk/stores/other/keys/k", content=b"v")
    assert c.get("/v1/accounts/bulk/stores").json()["data"]["stores"] == ["config", "other"]
    # A bad entry is named by index, and nothing of the batch is written.
    for body, field in [
            ([{"key": "z", "value": "1"}, {"key": "y", "value": 2}], "entries[1].value"),
            ([{"key": "z", "value": "1"}, {"key": "", "value": "2"}], "entries[1].key"),
            ([{"key": "z", "value": "!!", "base64": True}], "entries[0].value"),
            ([{"key": "z", "value": "1", "expiration": 5}], "entries[0].expiration"),
            ([{"key": "z", "value": "1", "metadata": "m" * 2000}], "entries[0].metadata"),
            ([{"key": "z", "value": "1"}, {"key": "z", "value": "2"}], "entries[1].key"),
            ([{"key": "z", "value": "1", "ttl": 5}], "entries[0].ttl"),
            ([], "entries"), ({"key": "z"}, "entries")]:
        assert_error(c.put(base, json=body), 400, "invalid_request", field)
    assert_error(c.get(base + "/z"), 404, "not_found", "key")
    # The size cap is the JSON body limit (4 KiB on this server); the count cap is Cloudflare's.
    big = [{"key": f"k{i}", "value": "v" * 100} for i in range(100)]
    assert_error(c.put(base, json=big), 413, "payload_too_large")
    from server.routes.stores import MAX_BULK, bulk_entries
    with pytest.raises(InvalidRequest, match=f"at most {MAX_BULK} entries"):
        bulk_entries([{"key": f"k{i}", "value": ""} for i in range(MAX_BULK + 1)], time.time())


def test_kv_keys(live: Live) -> None:
    c = live.client(live.key("kv"))
    r = c.put("/v1/accounts/kv/stores/config/keys/greeting/en", content=b"hello",
              params={"metadata": '{"lang": "en"}'})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["key"] == {"name": "greeting/en", "metadata": {"lang": "en"},
                                       "expiration": None, "size": 5}
    got = c.get("/v1/accounts/kv/stores/config/keys/greeting/en")
    assert got.content == b"hello" and got.headers["X-Flowbox-Metadata"] == '{"lang": "en"}'
    for n in range(5):
        c.put(f"/v1/accounts/kv/stores/config/keys/item{n}", content=str(n).encode())
    names, cursor = [], None
    while True:
        params = {"prefix": "item", "limit": "2", **({"cursor": cursor} if cursor else {})}
        data = c.get("/v1/accounts/kv/stores/config/keys", params=params).json()["data"]
        names += [k["name"] for k in data["keys"]]
        if not (cursor := data["next_cursor"]):
            break
    assert names == [f"item{n}" for n in range(5)]

    register(c, "kv", """export default async (e, { store }) => ({
  text: await store.get("greeting/en"),
  meta: (await store.getWithMetadata("greeting/en")).metadata,
  n: await store.namespace("config").get("item3", "json") });""", ["session.started"])
    c.put("/v1/accounts/kv/stores/default/keys/greeting/en", content=b"hi",
          params={"metadata": '{"lang": "en"}'})
    send(c, "kv", "session.started")
    run = wait_for_runs(c, "kv", 1)[0]
    assert run["output"] == {"text": "hi", "meta": {"lang": "en"}, "n": 3}, run

    assert c.delete("/v1/accounts/kv/stores/config/keys/item0").status_code == 200
    assert_error(c.get("/v1/accounts/kv/stores/config/keys/item0"), 404, "not_found", "key")
    assert_error(c.put("/v1/accounts/kv/stores/bad name/keys/k", content=b"x"), 400,
                 "invalid_request", "store")
    assert_error(c.put("/v1/accounts/kv/stores/config/keys/" + "k" * 600, content=b"x"), 400,
                 "invalid_request", "key")
    assert_error(c.put("/v1/accounts/kv/stores/config/keys/k", content=b"x",
                       params={"metadata": "{nope"}), 400, "invalid_request", "metadata")
    for expiration in ("1", "9" * 30, "\u00b2"):
        assert_error(c.put("/v1/accounts/kv/stores/config/keys/k", content=b"x",
                           params={"expiration": expiration}), 400, "invalid_request",
                     "expiration")
    assert_error(c.put("/v1/accounts/kv/stores/config/keys/k", content=b"x" * 5000), 413,
                 "payload_too_large")
    other = live.client(live.key("kv-other"))
    assert_error(other.get("/v1/accounts/kv-other/stores/config/keys/greeting/en"), 404,
                 "not_found", "key")


def exercise_files(live: Live, account: str) -> None:
    c = live.client(live.key(account))
    base = f"/v1/accounts/{account}/files"
    r = c.put(base + "/reports/a.txt", content=b"alpha", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["file"]["key"] == "reports/a.txt"
    c.put(base + "/reports/b.txt", content=b"beta")
    c.put(base + "/top.txt", content=b"top", params={"roomId": "r1"})
    got = c.get(base + "/reports/a.txt")
    assert got.content == b"alpha" and got.headers["content-type"].startswith("text/plain")
    listed = c.get(base, params={"prefix": "reports/"}).json()["data"]
    assert [f["key"] for f in listed["files"]] == ["reports/a.txt", "reports/b.txt"]
    page = c.get(base, params={"limit": "1"}).json()["data"]
    assert len(page["files"]) == 1 and page["next_cursor"]
    rest = c.get(base, params={"limit": "5", "cursor": page["next_cursor"]}).json()["data"]
    # the account's view holds its rooms' files too, under rooms/<roomId>/
    assert [f["key"] for f in page["files"] + rest["files"]] == [
        "reports/a.txt", "reports/b.txt", "rooms/r1/top.txt"]
    room_files = c.get(base, params={"roomId": "r1"}).json()["data"]["files"]
    assert [f["key"] for f in room_files] == ["top.txt"]

    register(c, account, """export default async (e, { files }) => {
  const a = await files.get("reports/a.txt");
  await files.put("out/" + e.data.userId + ".txt", "written by " + e.data.userId);
  return await a.text(); };""", ["user.created"])
    send(c, account, "user.created", {"userId": "zed"})
    run = wait_for_runs(c, account, 1)[0]
    assert run["output"] == "alpha", run
    assert c.get(base + "/out/zed.txt").content == b"written by zed"

    assert c.delete(base + "/reports/a.txt").status_code == 200
    assert_error(c.get(base + "/reports/a.txt"), 404, "not_found", "key")
    assert_error(c.delete(base + "/reports/a.txt"), 404, "not_found", "key")
    for raw in ("/../escape", "/a/../../escape", "/%2e%2e/escape", "/a/%2E%2E/escape",
                "/..%2fescape", "/a/.%2e/escape", "/./escape"):
        # On the wire as written (httpx would normalise the dots away): the
        # files route itself refuses the key, nothing is stored.
        status, body = raw_request(live, "PUT", base + raw, c.headers["authorization"], b"x")
        assert status == 400, (raw, status, body)
        error = json.loads(body)["error"]
        assert error["field"] == "key" and error["code"] == "invalid_request", (raw, error)
    assert c.get(f"/v1/accounts/{account}/files", params={"prefix": "escape"}).json()[
        "data"]["files"] == []
    assert_error(c.put(base + "/a//b", content=b"x"), 400, "invalid_request", "key")
    assert_error(c.put(base + "/big", content=b"x" * 9000), 413, "payload_too_large")
    # A form (what curl -F sends) is refused, not stored as its own encoding.
    form = c.put(base + "/form.txt", files={"file": ("doc.txt", b"hello", "text/plain")})
    assert_error(form, 415, "unsupported_media_type", "Content-Type")
    assert "--data-binary" in form.json()["error"]["message"]
    assert_error(c.put(base + "/form.txt", data={"a": "1"}), 415, "unsupported_media_type")
    assert_error(c.get(base + "/form.txt"), 404, "not_found", "key")
    other = live.client(live.key(account + "-other"))
    assert_error(other.get(f"/v1/accounts/{account}-other/files/reports/b.txt"), 404,
                 "not_found", "key")
    assert other.get(f"/v1/accounts/{account}-other/files").json()["data"]["files"] == []


def raw_request(live: Live, method: str, path: str, authorization: str,
                body: bytes) -> tuple[int, bytes]:
    """A request whose path goes on the wire exactly as given."""
    import http.client

    host, port = live.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Authorization", authorization)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_files_on_the_local_directory(live: Live) -> None:
    exercise_files(live, "files")


def test_files_on_s3(tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"svc-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    with live_server(tmp_path, s3_bucket=bucket, s3_endpoint=s3_endpoint,
                     s3_region="us-east-1", max_file_bytes=8192) as live:
        exercise_files(live, "s3files")
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint,
                                           region_name="us-east-1").list_objects_v2(
        Bucket=bucket)["Contents"]]
    assert "s3files/reports/b.txt" in keys and "s3files/out/zed.txt" in keys
    assert not (tmp_path / "files").exists()


def test_unknown_client_gets_401_on_data_routes(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        assert_error(client.get("/v1/accounts/kv/stores/config/keys/x"), 401, "unauthorized")
        assert_error(client.put("/v1/accounts/kv/files/x", content=b"x"), 401, "unauthorized")


def test_a_bulk_write_counts_once_against_the_write_limit(tmp_path: Path) -> None:
    with live_server(tmp_path, rate_write=2) as live:
        c = live.client(live.key("bulk-rate"))
        base = "/v1/accounts/bulk-rate/stores/s/keys"
        batch = [{"key": f"k{i}", "value": "v"} for i in range(20)]
        assert [c.put(base, json=batch).status_code for _ in range(3)] == [200, 200, 429]
