"""The shared suite every ObjectStore backend passes: a local directory and
S3 (moto's server over HTTP). Keys here are full keys; scoping is the
binding's job (test_files.py)."""

from __future__ import annotations

import hashlib
import time

import pytest

from bindings import KeyRejected, ObjectStore


def keys_of(store: ObjectStore, prefix: str = "", **kwargs: object) -> list[str]:
    """Every key under prefix, page by page through next_after."""
    seen: list[str] = []
    after = None
    for _ in range(100):
        page = store.list(prefix, start_after=after, limit=kwargs.get("limit", 1000),  # type: ignore[arg-type]
                          delimiter=kwargs.get("delimiter"), with_metadata=False)  # type: ignore[arg-type]
        seen += [o.key for o in page.objects] + page.prefixes
        if page.next_after is None:
            return seen
        after = page.next_after
    raise AssertionError("listing never ended")


def test_put_get_head_round_trip_with_metadata(objects: ObjectStore) -> None:
    body = bytes(range(256)) * 4
    before = time.time()
    info = objects.put("acct/a/b.bin", body, {"contentType": "application/x-test"},
                       {"Owner": "Ann", "note": "é"})
    assert info.key == "acct/a/b.bin" and info.size == 1024
    assert info.etag == hashlib.md5(body).hexdigest()
    assert before - 2 <= info.uploaded <= time.time() + 2
    got = objects.get("acct/a/b.bin")
    assert got is not None
    got_info, got_body = got
    assert got_body == body
    for i in (got_info, objects.head("acct/a/b.bin")):
        assert i is not None
        assert (i.size, i.etag, i.version) == (1024, info.etag, info.version)
        assert i.http_metadata == {"contentType": "application/x-test"}
        assert i.custom_metadata == {"Owner": "Ann", "note": "é"}


def test_missing_objects_are_none(objects: ObjectStore) -> None:
    assert objects.get("acct/nothing") is None
    assert objects.head("acct/nothing") is None
    objects.delete(["acct/nothing"])  # not an error


def test_empty_body_and_no_metadata(objects: ObjectStore) -> None:
    objects.put("acct/empty", b"", {}, {})
    got = objects.get("acct/empty")
    assert got is not None and got[1] == b"" and got[0].size == 0
    assert got[0].http_metadata == {} and got[0].custom_metadata == {}


def test_overwrite_replaces_body_and_version(objects: ObjectStore) -> None:
    first = objects.put("acct/k", b"one", {}, {"v": "1"})
    second = objects.put("acct/k", b"two!", {}, {})
    got = objects.get("acct/k")
    assert got is not None and got[1] == b"two!" and got[0].custom_metadata == {}
    assert first.version != second.version and got[0].version == second.version


def test_a_key_and_keys_below_it_coexist(objects: ObjectStore) -> None:
    for key in ("acct/a", "acct/a/b", "acct/a/b/c", "acct/dir/"):
        objects.put(key, key.encode(), {}, {})
    for key in ("acct/a", "acct/a/b", "acct/a/b/c", "acct/dir/"):
        got = objects.get(key)
        assert got is not None and got[1] == key.encode()
    objects.delete(["acct/a/b"])
    assert objects.get("acct/a/b") is None
    assert objects.get("acct/a/b/c") is not None and objects.get("acct/a") is not None


@pytest.mark.parametrize("key", ["acct/with space", "acct/tilde~", "acct/per%cent", "acct/ü/日本",
                                 "acct/.hidden", "acct/a..b", "acct/quote'\"", "acct/x~/y"])
def test_unusual_but_valid_keys_round_trip(objects: ObjectStore, key: str) -> None:
    objects.put(key, b"v", {}, {})
    got = objects.get(key)
    assert got is not None and got[1] == b"v"
    assert keys_of(objects, "acct/") == [key]


def test_delete_many(objects: ObjectStore) -> None:
    for i in range(5):
        objects.put(f"acct/{i}", b"x", {}, {})
    objects.delete(["acct/1", "acct/3", "acct/missing"])
    assert keys_of(objects, "acct/") == ["acct/0", "acct/2", "acct/4"]


def test_listing_is_in_byte_order_and_respects_the_prefix(objects: ObjectStore) -> None:
    for key in ("acct/a/b", "acct/a-c", "acct/a", "acct/B", "acct/é", "other/a", "acctx/a"):
        objects.put(key, b"x", {}, {})
    assert keys_of(objects, "acct/") == ["acct/B", "acct/a", "acct/a-c", "acct/a/b", "acct/é"]
    assert keys_of(objects, "acct/a") == ["acct/a", "acct/a-c", "acct/a/b"]
    assert keys_of(objects, "acct/zz") == []


def test_pagination_returns_every_key_exactly_once(objects: ObjectStore) -> None:
    expected = sorted(f"acct/{i:03d}" for i in range(23))
    for key in expected:
        objects.put(key, b"x", {}, {})
    page = objects.list("acct/", start_after=None, limit=10, delimiter=None, with_metadata=False)
    assert len(page.objects) == 10 and page.next_after is not None
    assert keys_of(objects, "acct/", limit=10) == expected
    assert keys_of(objects, "acct/", limit=1) == expected


def test_delimiter_groups_prefixes_across_pages(objects: ObjectStore) -> None:
    for key in ("acct/a.txt", "acct/docs/1", "acct/docs/2", "acct/docs/sub/3", "acct/img/1",
                "acct/z.txt"):
        objects.put(key, b"x", {}, {})
    expected = ["acct/a.txt", "acct/docs/", "acct/img/", "acct/z.txt"]
    for limit in (1, 2, 1000):
        got = keys_of(objects, "acct/", limit=limit, delimiter="/")
        assert sorted(got) == expected, limit
    page = objects.list("acct/docs/", start_after=None, limit=1000, delimiter="/",
                        with_metadata=False)
    assert [o.key for o in page.objects] == ["acct/docs/1", "acct/docs/2"]
    assert page.prefixes == ["acct/docs/sub/"]


def test_listing_fills_metadata_only_when_asked(objects: ObjectStore) -> None:
    objects.put("acct/m", b"abc", {"contentType": "text/plain"}, {"k": "v"})
    bare = objects.list("acct/", start_after=None, limit=10, delimiter=None,
                        with_metadata=False).objects[0]
    full = objects.list("acct/", start_after=None, limit=10, delimiter=None,
                        with_metadata=True).objects[0]
    assert (bare.size, bare.etag) == (3, hashlib.md5(b"abc").hexdigest())
    assert bare.custom_metadata == {} and bare.http_metadata == {}
    assert full.custom_metadata == {"k": "v"} and full.http_metadata == {"contentType": "text/plain"}


def test_local_backend_refuses_a_segment_it_cannot_store(tmp_path: object) -> None:
    from bindings import LocalObjectStore

    store = LocalObjectStore(tmp_path / "files")  # type: ignore[operator]
    with pytest.raises(KeyRejected, match="longer than the local backend allows"):
        store.put("acct/" + "é" * 200, b"x", {}, {})


def test_get_refuses_an_object_over_max_bytes_without_reading_it(objects: ObjectStore) -> None:
    from bindings.errors import ObjectTooLarge

    objects.put("acct/big", b"x" * 2000, {}, {})
    with pytest.raises(ObjectTooLarge) as info:
        objects.get("acct/big", max_bytes=1999)
    assert info.value.size == 2000
    got = objects.get("acct/big", max_bytes=2000)
    assert got is not None and len(got[1]) == 2000


@pytest.mark.parametrize("prefix", ["node1", "node1/"])
def test_an_s3_prefix_is_a_folder_of_the_bucket(s3_endpoint: str, prefix: str) -> None:
    import uuid

    import boto3

    from bindings import S3Config, S3ObjectStore

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    store = S3ObjectStore(S3Config(bucket=bucket, endpoint_url=s3_endpoint, region="us-east-1",
                                   access_key_id="testing", secret_access_key="testing",
                                   prefix=prefix))
    store.put("s/doc.txt", b"x", {}, {})
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["node1/s/doc.txt"]
    assert [o.key for o in store.list("s/", start_after=None, limit=10, delimiter=None, with_metadata=False).objects] == ["s/doc.txt"]
