"""Seed 003's /api/connections and /api/resources on a real server, with
moto's S3 server over HTTP as the connections' service: CRUD with redacted
credentials (the secret key never appears in an answer), validation naming
the field, verify-token (valid, missing bucket, unreachable endpoint) and
its rate limit, tenancy, scopes; then browsing KV stores and files written
through the /v1 routes, and a connection's bucket."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from tests.live import Live, free_port, live_server

_ids = itertools.count()
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRET"
KEY_ID = "AKIAFLOWBOXTEST1234"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # moto listens on loopback: the operator allows it, as for an internal MinIO.
    with live_server(tmp_path_factory.mktemp("connections"), egress_allow="127.0.0.1") as server:
        yield server


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh bucket on moto's server."""
    name = f"conn-{uuid.uuid4().hex[:12]}"
    s3(s3_endpoint).create_bucket(Bucket=name)
    return name


def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def account() -> str:
    """A fresh account per test, so tests sharing a server do not meet."""
    return f"conn{next(_ids)}"


def creds(endpoint: str, bucket: str, **more: str) -> dict[str, str]:
    return {"endpoint": endpoint, "region": "us-east-1", "bucket": bucket,
            "accessKeyId": KEY_ID, "secretAccessKey": SECRET, **more}


def api_error(response: httpx.Response, status: int, code: str,
              field: str | None = None) -> dict[str, Any]:
    """Checks an /api error answer and returns its error object."""
    assert response.status_code == status, response.text
    assert SECRET not in response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"], error
    if field is not None:
        assert error.get("field") == field, error
    return error


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert SECRET not in response.text
    return response.json()


def make(client: httpx.Client, credentials: dict[str, str], provider: str = "s3",
         **fields: Any) -> dict[str, Any]:
    body = {"provider": provider, "credentials": credentials, **fields}
    made: dict[str, Any] = ok(client.post("/api/connections", json=body), 201)
    return made


# -- connections ------------------------------------------------------------------------


def test_create_list_update_delete(live: Live, s3_endpoint: str, bucket: str) -> None:
    client = live.client(live.key(account()))
    made = make(client, creds(s3_endpoint, bucket), name="Backups")
    assert set(made) == {"id", "name", "provider", "credentials", "createdAt", "updatedAt"}
    assert made["id"].startswith("conn_") and made["provider"] == "s3"
    assert made["name"] == "Backups" and made["createdAt"].endswith("Z")
    assert made["credentials"] == {"endpoint": s3_endpoint, "region": "us-east-1",
                                   "bucket": bucket, "accessKeyId": "…1234",
                                   "secretAccessKey": "********"}
    assert ok(client.get("/api/connections")) == {"data": [made], "nextCursor": None}

    renamed = ok(client.patch(f"/api/connections/{made['id']}", json={"name": "Archive"}))
    assert renamed["name"] == "Archive" and renamed["credentials"] == made["credentials"]
    # New credentials replace the old ones whole: no endpoint now means AWS's own.
    replaced = ok(client.patch(f"/api/connections/{made['id']}", json={"credentials": {
        "bucket": "other-bucket", "accessKeyId": "AKIANEWKEY9876", "secretAccessKey": SECRET}}))
    assert replaced["credentials"] == {"endpoint": None, "region": "us-east-1",
                                       "bucket": "other-bucket", "accessKeyId": "…9876",
                                       "secretAccessKey": "********"}
    assert replaced["name"] == "Archive"

    assert ok(client.delete(f"/api/connections/{made['id']}")) == {"id": made["id"],
                                                                    "deleted": True}
    assert ok(client.get("/api/connections")) == {"data": [], "nextCursor": None}
    api_error(client.delete(f"/api/connections/{made['id']}"), 404, "not_found", "id")
    api_error(client.patch(f"/api/connections/{made['id']}", json={"name": "x"}), 404,
              "not_found", "id")


def test_r2_connection_and_paging(live: Live) -> None:
    client = live.client(live.key(account()))
    r2 = {"accountId": "0123456789abcdef0123456789abcdef", "bucket": "media",
          "accessKeyId": "short", "secretAccessKey": SECRET}
    made = make(client, r2, provider="r2")
    assert made["name"] == "r2: media"
    assert made["credentials"] == {
        "endpoint": "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
        "region": "auto", "bucket": "media", "accountId": r2["accountId"],
        "accessKeyId": "…", "secretAccessKey": "********"}  # a short key id is not shown
    for i in range(3):
        make(client, {**r2, "bucket": f"media-{i}"}, provider="r2")
    first = ok(client.get("/api/connections", params={"limit": "3"}))
    assert len(first["data"]) == 3 and first["nextCursor"]
    rest = ok(client.get("/api/connections", params={"limit": "3",
                                                     "cursor": first["nextCursor"]}))
    assert rest["nextCursor"] is None
    names = [c["credentials"]["bucket"] for c in first["data"] + rest["data"]]
    assert names == ["media", "media-0", "media-1", "media-2"]


@pytest.mark.parametrize("body, field", [
    ({"credentials": {}}, "provider"),
    ({"provider": "cloudflare", "credentials": {}}, "provider"),
    ({"provider": {}, "credentials": {}}, "provider"),
    ({"provider": ["s3"], "credentials": {}}, "provider"),
    ({"provider": "s3"}, "credentials"),
    ({"provider": "s3", "credentials": "x"}, "credentials"),
    ({"provider": "s3", "credentials": {"accessKeyId": "a", "secretAccessKey": "b"}},
     "credentials.bucket"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "secretAccessKey": "b"}},
     "credentials.accessKeyId"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a"}},
     "credentials.secretAccessKey"),
    ({"provider": "s3", "credentials": {"bucket": "Bad_Bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b"}}, "credentials.bucket"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": 5,
                                        "secretAccessKey": "b"}}, "credentials.accessKeyId"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b", "endpoint": "ftp://x"}},
     "credentials.endpoint"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b",
                                        "endpoint": "https://u:p@s3.example.com"}},
     "credentials.endpoint"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b", "region": "US EAST"}},
     "credentials.region"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b", "token": "c"}},
     "credentials.token"),
    ({"provider": "r2", "credentials": {"accountId": "evil.com/x", "bucket": "ok-bucket",
                                        "accessKeyId": "a", "secretAccessKey": "b"}},
     "credentials.accountId"),
    ({"provider": "r2", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b"}}, "credentials.accountId"),
    ({"provider": "s3", "credentials": {"bucket": "ok-bucket", "accessKeyId": "a",
                                        "secretAccessKey": "b"}, "name": ""}, "name"),
    ({"provider": "s3", "credentials": {}, "colour": "red"}, "colour"),
])
def test_bad_input_names_the_field(live: Live, body: dict[str, Any], field: str) -> None:
    client = live.client(live.key(account()))
    api_error(client.post("/api/connections", json=body), 400, "invalid_request", field)


def test_bad_updates(live: Live, s3_endpoint: str, bucket: str) -> None:
    client = live.client(live.key(account()))
    url = f"/api/connections/{make(client, creds(s3_endpoint, bucket))['id']}"
    api_error(client.patch(url, json={}), 400, "invalid_request")
    api_error(client.patch(url, json={"provider": "r2"}), 400, "invalid_request", "provider")
    api_error(client.patch(url, json={"credentials": {"bucket": "b-b-b"}}), 400,
              "invalid_request", "credentials.accessKeyId")
    api_error(client.patch(url, json={"name": 7}), 400, "invalid_request", "name")


def test_tenancy_scopes_and_credentials(live: Live, s3_endpoint: str, bucket: str) -> None:
    owner = account()
    mine, theirs = live.client(live.key(owner)), live.client(live.key(account()))
    made = make(mine, creds(s3_endpoint, bucket))
    url = f"/api/connections/{made['id']}"
    api_error(theirs.patch(url, json={"name": "x"}), 404, "not_found", "id")
    api_error(theirs.delete(url), 404, "not_found", "id")
    assert ok(theirs.get("/api/connections")) == {"data": [], "nextCursor": None}
    api_error(theirs.get("/api/resources/r2/buckets", params={"connectionId": made["id"]}),
              404, "not_found", "connectionId")

    reader = live.client(live.key(owner, "read"))
    assert [c["id"] for c in ok(reader.get("/api/connections"))["data"]] == [made["id"]]
    body = {"provider": "s3", "credentials": creds(s3_endpoint, bucket)}
    api_error(reader.post("/api/connections", json=body), 403, "forbidden")
    api_error(reader.patch(url, json={"name": "x"}), 403, "forbidden")
    api_error(reader.delete(url), 403, "forbidden")
    api_error(reader.post("/api/connections/verify-token", json=body), 403, "forbidden")
    anonymous = live.client()
    for r in (anonymous.get("/api/connections"), anonymous.post("/api/connections", json=body),
              anonymous.post("/api/connections/verify-token", json=body),
              anonymous.get("/api/resources/kv/namespaces")):
        api_error(r, 401, "unauthorized")


# -- verify-token -------------------------------------------------------------------------


def test_verify_token(live: Live, s3_endpoint: str, bucket: str) -> None:
    client = live.client(live.key(account()))
    verify = "/api/connections/verify-token"
    good = {"provider": "s3", "credentials": creds(s3_endpoint, bucket)}
    assert ok(client.post(verify, json=good)) == {"valid": True, "buckets": [{"name": bucket}]}

    missing = {"provider": "s3", "credentials": creds(s3_endpoint, "no-such-bucket-here")}
    answer = ok(client.post(verify, json=missing))
    assert answer["valid"] is False and "no such bucket" in answer["error"]

    closed = f"http://127.0.0.1:{free_port()}"
    answer = ok(client.post(verify, json={"provider": "s3", "credentials": creds(closed,
                                                                                  bucket)}))
    assert answer["valid"] is False and "endpoint unreachable" in answer["error"]

    api_error(client.post(verify, json={"provider": "s3"}), 400, "invalid_request",
              "credentials")
    api_error(client.post(verify, json={"provider": "ftp", "credentials": {}}), 400,
              "invalid_request", "provider")
    api_error(client.post(verify, json={**good, "name": "x"}), 400, "invalid_request", "name")
    api_error(client.post(verify, json={"provider": "s3", "credentials": {"bucket": "b-b"}}),
              400, "invalid_request", "credentials.accessKeyId")
    # The literal path is not an id, and takes POST only.
    api_error(client.patch(verify, json={"name": "x"}), 404, "not_found", "id")


def test_verify_rate_limit(tmp_path: Any, s3_endpoint: str, bucket: str) -> None:
    with live_server(tmp_path, rate_verify=2, egress_allow="127.0.0.1") as live:
        client = live.client(live.key("verifier"))
        good = {"provider": "s3", "credentials": creds(s3_endpoint, bucket)}
        for _ in range(2):
            assert ok(client.post("/api/connections/verify-token", json=good))["valid"]
        r = client.post("/api/connections/verify-token", json=good)
        api_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        # Other writes have their own limit.
        make(client, creds(s3_endpoint, bucket))


# -- resources: KV ------------------------------------------------------------------------


def put_kv(client: httpx.Client, owner: str, store: str, key: str, value: bytes,
           **params: str) -> None:
    r = client.put(f"/v1/accounts/{owner}/stores/{store}/keys/{key}", content=value,
                   params=params)
    assert r.status_code == 200, r.text


def test_browse_kv(live: Live) -> None:
    owner = account()
    client = live.client(live.key(owner))
    put_kv(client, owner, "settings", "theme", b"dark", metadata='{"by": "ann"}')
    put_kv(client, owner, "settings", "lang", b"en", expiration="4102444800")
    put_kv(client, owner, "settings", "user/1", b"\x00\xffbinary")
    put_kv(client, owner, "cache", "k", b"v")
    base = "/api/resources/kv/namespaces"
    assert ok(client.get(base)) == {"data": [{"id": "cache", "title": "cache"},
                                             {"id": "settings", "title": "settings"}],
                                    "nextCursor": None}
    keys = ok(client.get(f"{base}/settings/keys"))
    assert keys == {"data": [{"name": "lang", "expiration": 4102444800},
                             {"name": "theme", "metadata": {"by": "ann"}},
                             {"name": "user/1"}], "nextCursor": None}
    assert ok(client.get(f"{base}/settings/keys", params={"prefix": "us"}))["data"] == [
        {"name": "user/1"}]
    first = ok(client.get(f"{base}/settings/keys", params={"limit": "2"}))
    assert [k["name"] for k in first["data"]] == ["lang", "theme"] and first["nextCursor"]
    rest = ok(client.get(f"{base}/settings/keys", params={"limit": "2",
                                                          "cursor": first["nextCursor"]}))
    assert rest == {"data": [{"name": "user/1"}], "nextCursor": None}

    r = client.get(f"{base}/settings/values/user/1")
    assert r.status_code == 200 and r.content == b"\x00\xffbinary"
    assert r.headers["content-type"] == "application/octet-stream"
    assert client.get(f"{base}/settings/values/theme").content == b"dark"
    api_error(client.get(f"{base}/settings/values/nope"), 404, "not_found", "key")
    api_error(client.get(f"{base}/missing/keys"), 404, "not_found", "namespaceId")
    api_error(client.get(f"{base}/bad%20name/keys"), 400, "invalid_request", "namespaceId")
    api_error(client.get(f"{base}/settings/keys", params={"limit": "500"}), 400,
              "invalid_request", "limit")

    other = live.client(live.key(account(), "read"))
    assert ok(other.get(base)) == {"data": [], "nextCursor": None}
    api_error(other.get(f"{base}/settings/keys"), 404, "not_found", "namespaceId")
    api_error(other.get(f"{base}/settings/values/theme"), 404, "not_found")


# -- resources: buckets -------------------------------------------------------------------


def test_browse_own_files(live: Live) -> None:
    owner = account()
    client = live.client(live.key(owner))
    for key in ("docs/a.txt", "docs/b.txt", "img/c.png"):
        r = client.put(f"/v1/accounts/{owner}/files/{key}", content=key.encode())
        assert r.status_code == 200, r.text
    assert ok(client.get("/api/resources/r2/buckets")) == {
        "data": [{"name": "default", "provider": "flowbox"}], "nextCursor": None}
    objects = "/api/resources/r2/buckets/default/objects"
    listed = ok(client.get(objects))
    assert [o["key"] for o in listed["data"]] == ["docs/a.txt", "docs/b.txt", "img/c.png"]
    assert listed["nextCursor"] is None
    first = listed["data"][0]
    assert set(first) == {"key", "size", "etag", "uploaded"}
    assert first["size"] == len(b"docs/a.txt") and first["uploaded"].endswith("Z")
    assert [o["key"] for o in ok(client.get(objects, params={"prefix": "docs/"}))["data"]] == [
        "docs/a.txt", "docs/b.txt"]
    page = ok(client.get(objects, params={"limit": "2"}))
    assert len(page["data"]) == 2 and page["nextCursor"]
    rest = ok(client.get(objects, params={"limit": "2", "cursor": page["nextCursor"]}))
    assert [o["key"] for o in rest["data"]] == ["img/c.png"] and rest["nextCursor"] is None
    api_error(client.get(objects, params={"prefix": "../x"}), 400, "invalid_request", "prefix")
    api_error(client.get("/api/resources/r2/buckets/elsewhere/objects"), 404, "not_found",
              "bucketName")

    other = live.client(live.key(account(), "read"))
    assert ok(other.get(objects)) == {"data": [], "nextCursor": None}


def test_browse_a_connections_bucket(live: Live, s3_endpoint: str, bucket: str) -> None:
    for key in ("a/1.txt", "a/2.txt", "b/3.txt"):
        s3(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=b"hello")
    owner = account()
    client = live.client(live.key(owner))
    made = make(client, creds(s3_endpoint, bucket))
    params = {"connectionId": made["id"]}
    assert ok(client.get("/api/resources/r2/buckets", params=params)) == {
        "data": [{"name": bucket, "provider": "s3"}], "nextCursor": None}
    objects = f"/api/resources/r2/buckets/{bucket}/objects"
    listed = ok(client.get(objects, params=params))
    assert [o["key"] for o in listed["data"]] == ["a/1.txt", "a/2.txt", "b/3.txt"]
    assert listed["data"][0]["size"] == 5 and listed["data"][0]["etag"]
    page = ok(client.get(objects, params={**params, "limit": "2", "prefix": "a/"}))
    assert [o["key"] for o in page["data"]] == ["a/1.txt", "a/2.txt"]
    page = ok(client.get(objects, params={**params, "limit": "2"}))
    rest = ok(client.get(objects, params={**params, "limit": "2",
                                          "cursor": page["nextCursor"]}))
    assert [o["key"] for o in rest["data"]] == ["b/3.txt"] and rest["nextCursor"] is None

    api_error(client.get("/api/resources/r2/buckets/default/objects", params=params), 404,
              "not_found", "bucketName")
    api_error(client.get(objects, params={"connectionId": "conn_unknown"}), 404,
              "not_found", "connectionId")
    api_error(client.get(objects, params={"connectionId": ""}), 400, "invalid_request",
              "connectionId")
    other = live.client(live.key(account()))
    api_error(other.get(objects, params=params), 404, "not_found", "connectionId")


# -- deploying to a connection ----------------------------------------------------------

WRITER = """
export default async function (event, { files }) {
  try {
    await files.put("notes/" + event.payload.name, event.payload.text);
    return { read: await (await files.get("notes/" + event.payload.name)).text() };
  } catch (e) {
    return { failed: e.message };
  }
}
"""


def test_a_deploy_to_a_connection_keeps_files_in_its_bucket(live: Live, s3_endpoint: str,
                                                            bucket: str) -> None:
    name = account()
    client = live.client(live.key(name))
    connection = make(client, creds(s3_endpoint, bucket))
    wf = ok(client.post("/api/workflows", json={"name": "writer", "kind": "script"}), 201)["id"]
    ok(client.post(f"/api/workflows/{wf}/versions", json={"code": WRITER}), 201)
    ok(client.post(f"/api/workflows/{wf}/deploy", json={"connectionId": connection["id"]}), 201)

    public = live.client()
    answer = ok(public.post(f"/functions/{wf}", json={"name": "a.txt", "text": "hello"}))
    assert answer == {"read": "hello"}
    # In the connection's bucket, under the account's prefix; not on the node.
    body = s3(s3_endpoint).get_object(Bucket=bucket, Key=f"{name}/notes/a.txt")["Body"].read()
    assert body == b"hello"
    listed = ok(client.get("/api/resources/r2/buckets/default/objects"))["data"]
    assert listed == []

    ok(client.delete(f"/api/connections/{connection['id']}"))
    failed = ok(public.post(f"/functions/{wf}", json={"name": "b.txt", "text": "x"}))
    assert "failed" in failed and "b.txt" not in str(s3(s3_endpoint).list_objects_v2(
        Bucket=bucket).get("Contents", []))
