"""Object storage in any S3-compatible service through boto3: AWS S3,
Cloudflare R2, MinIO (and moto's server in the tests).

R2's `customMetadata` keeps the case of its keys, but S3 lowercases user
metadata names, so custom metadata travels as one JSON header. Every
failure of the service or the network becomes StorageError with a short,
host-free reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from .egress import Egress, EgressRefused
from .errors import ObjectTooLarge, StorageError
from .storage import ObjectInfo, ObjectPage

# R2's httpMetadata names and the S3 request / response fields they map to.
HTTP_FIELDS = {
    "contentType": "ContentType",
    "contentLanguage": "ContentLanguage",
    "contentDisposition": "ContentDisposition",
    "contentEncoding": "ContentEncoding",
    "cacheControl": "CacheControl",
}
T = TypeVar("T")
_CUSTOM = "flowbox-custom"
_VERSION = "flowbox-version"
_HTTP = "flowbox-http"  # which httpMetadata fields were given (S3 invents a contentType)


@dataclass(frozen=True)
class S3Config:
    """Where the objects live. `prefix` is put before every key, so several
    installations can share a bucket. Credentials default to boto3's own
    lookup when not given."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "auto"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_attempts: int = 2
    # For a tenant's own endpoint: every request passes this egress policy
    # (None for the operator's own store, which the operator configured).
    egress: Egress | None = None

    def __repr__(self) -> str:  # never print the secret key
        return (f"S3Config(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r}, "
                f"region={self.region!r}, prefix={self.prefix!r})")


def make_client(config: S3Config) -> Any:
    """A boto3 S3 client for `config`; with an egress policy, each request
    is checked against it first and, over plain HTTP, sent to the very
    address that was checked (no DNS rebinding between check and connect)."""
    client = boto3.session.Session().client(
        "s3", endpoint_url=config.endpoint_url, region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=Config(connect_timeout=config.connect_timeout,
                      read_timeout=config.read_timeout,
                      retries={"max_attempts": config.max_attempts, "mode": "standard"},
                      s3={"addressing_style": "path"}))
    if config.egress is not None:
        client.meta.events.register("before-send.s3", _guard(config.egress))
    return client


def _guard(egress: Egress) -> Callable[..., None]:
    def check(request: Any, **_: Any) -> None:
        url = urlsplit(request.url)
        host = url.hostname or ""
        port = url.port or (443 if url.scheme == "https" else 80)
        address = egress.address(host, port)  # raises EgressRefused
        if url.scheme == "http":
            # Pin the connection to the checked address; the signed Host stays.
            request.headers["Host"] = url.netloc
            shown = f"[{address}]" if ":" in address else address
            request.url = urlunsplit(url._replace(netloc=f"{shown}:{port}"))

    return check


class S3ObjectStore:
    """An ObjectStore in one bucket of an S3-compatible service."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.bucket = config.bucket
        # "node1" means the folder node1/: keys never run into the prefix.
        self.prefix = config.prefix + ("/" if config.prefix and not
                                       config.prefix.endswith("/") else "")
        self.client = make_client(config)

    def put(self, key: str, body: bytes, http_metadata: dict[str, str],
            custom_metadata: dict[str, str]) -> ObjectInfo:
        extra = {HTTP_FIELDS[k]: v for k, v in http_metadata.items() if k in HTTP_FIELDS}
        meta = {_VERSION: uuid.uuid4().hex, _CUSTOM: json.dumps(custom_metadata),
                _HTTP: ",".join(k for k in http_metadata if k in HTTP_FIELDS)}
        full = self.prefix + key

        def put() -> dict[str, Any]:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=body, Metadata=meta,
                                   **extra)
            # The upload time is the service's: read it back.
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=full)
            return head

        return _info(key, _s3(put))

    def get(self, key: str, max_bytes: int | None = None) -> tuple[ObjectInfo, bytes] | None:
        def get() -> tuple[ObjectInfo, bytes] | None:
            reply = _unless_missing(lambda: self.client.get_object(
                Bucket=self.bucket, Key=self.prefix + key))
            if reply is None:
                return None
            info = _info(key, reply)
            if max_bytes is not None and info.size > max_bytes:
                reply["Body"].close()  # headers only: the body is never read
                raise ObjectTooLarge(info.size)
            return info, reply["Body"].read()

        return _s3(get)

    def head(self, key: str) -> ObjectInfo | None:
        reply = _s3(lambda: _unless_missing(lambda: self.client.head_object(
            Bucket=self.bucket, Key=self.prefix + key)))
        return None if reply is None else _info(key, reply)

    def delete(self, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": self.prefix + k} for k in keys[i:i + 1000]]
            reply = _s3(lambda: self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}))  # noqa: B023
            if reply.get("Errors"):
                raise StorageError(f"the object store refused to delete "
                                   f"{len(reply['Errors'])} object(s)")

    def list(self, prefix: str, *, start_after: str | None, limit: int,
             delimiter: str | None, with_metadata: bool) -> ObjectPage:
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix,
                                "MaxKeys": limit}
        if start_after is not None:
            args["StartAfter"] = self.prefix + start_after
        if delimiter:
            args["Delimiter"] = delimiter
        strip = len(self.prefix)
        reply = _s3(lambda: self.client.list_objects_v2(**args))
        objects = []
        for item in reply.get("Contents", []):
            key = item["Key"][strip:]
            if with_metadata:
                info = self.head(key)
                if info is not None:  # else deleted while listing
                    objects.append(info)
            else:
                objects.append(ObjectInfo(
                    key=key, size=int(item["Size"]), etag=item["ETag"].strip('"'),
                    uploaded=item["LastModified"].timestamp(), version=""))
        prefixes = [p["Prefix"][strip:] for p in reply.get("CommonPrefixes", [])]
        next_after = None
        if reply.get("IsTruncated"):
            ends = [o.key for o in objects[-1:]] + [p + "\U0010ffff" for p in prefixes[-1:]]
            next_after = max(ends) if ends else start_after
        return ObjectPage(objects, prefixes, next_after)


def _s3(op: Callable[[], T]) -> T:
    """Runs one call to the service; its failures become StorageError."""
    try:
        return op()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise StorageError(f"the object store answered {code}") from None
    except EgressRefused as exc:
        raise StorageError(f"the object store is not reachable: {exc}") from None
    except FlexibleChecksumError:
        raise StorageError("the object store returned data that fails its checksum "
                           "(the stored object is damaged or was changed behind Flowbox's "
                           "back)") from None
    except BotoCoreError as exc:
        raise StorageError(f"the object store is unreachable ({type(exc).__name__})") \
            from None


def _unless_missing(op: Callable[[], Any]) -> Any:
    try:
        return op()
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def _missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _info(key: str, reply: dict[str, Any]) -> ObjectInfo:
    meta = reply.get("Metadata", {})
    try:
        custom = json.loads(meta.get(_CUSTOM, "{}"))
    except ValueError:
        custom = {}
    given = set(meta.get(_HTTP, "").split(","))
    http = {k: reply[f] for k, f in HTTP_FIELDS.items() if k in given and reply.get(f)}
    return ObjectInfo(key=key, size=int(reply["ContentLength"]),
                      etag=str(reply["ETag"]).strip('"'),
                      uploaded=reply["LastModified"].timestamp(),
                      version=meta.get(_VERSION, ""), http_metadata=http,
                      custom_metadata=custom if isinstance(custom, dict) else {})
