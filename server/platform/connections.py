"""Storage connections (seed 003's `/connections`): credentials for an
S3-compatible bucket, on AWS S3 (or any endpoint that speaks S3) or on
Cloudflare R2, which deploys and the resource browser use.

Credentials are stored as given, since they are used, but no answer and
no log line ever carries the secret key: `redacted` is the only wire
shape, error messages name fields and never quote their values, and
`verify` reports a reason of its own rather than the service's text."""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from bindings import Egress, EgressRefused, S3Config, iso_time
from bindings.s3files import make_client

from ..db import Database
from ..db.paging import keyset_page
from ..errors import InvalidRequest
from ..inputs import unknown_fields
from .envvars import MASK
from .projects import text

MAX_NAME = 200
MAX_SECRET = 256
PROVIDERS = {
    "s3": (("bucket", "accessKeyId", "secretAccessKey"), ("endpoint", "region")),
    "r2": (("accountId", "bucket", "accessKeyId", "secretAccessKey"), ()),
}
DEFAULT_REGION = {"s3": "us-east-1", "r2": "auto"}
# S3's bucket naming rule, which R2 shares.
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# Becomes a host name label, so nothing else may pass (it must not redirect requests).
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
_COLUMNS = "id, account, name, provider, credentials, created_at, updated_at"


@dataclass(frozen=True)
class Connection:
    id: str
    account: str
    name: str
    provider: str
    credentials: dict[str, str]
    created_at: float
    updated_at: float

    def __repr__(self) -> str:  # the credentials must not reach a log through repr
        return f"Connection(id={self.id!r}, name={self.name!r}, provider={self.provider!r})"


def _row(row: Any) -> Connection:
    ident, account, name, provider, credentials, created, updated = row
    return Connection(str(ident), str(account), str(name), str(provider),
                      json.loads(str(credentials)), float(created), float(updated))


def endpoint(provider: str, credentials: dict[str, str]) -> str | None:
    """The S3 endpoint; None for AWS's own."""
    if provider == "r2":
        return f"https://{credentials['accountId']}.r2.cloudflarestorage.com"
    return credentials.get("endpoint")


def redacted(connection: Connection) -> dict[str, Any]:
    """The API shape: the access key id shortened, the secret key masked."""
    creds = connection.credentials
    key_id = creds["accessKeyId"]
    # The last 4 characters identify a key; a short key would be shown whole.
    shown = {"endpoint": endpoint(connection.provider, creds),
             "region": creds.get("region", DEFAULT_REGION[connection.provider]),
             "bucket": creds["bucket"],
             "accessKeyId": "…" + (key_id[-4:] if len(key_id) >= 8 else ""),
             "secretAccessKey": MASK}
    if connection.provider == "r2":
        shown["accountId"] = creds["accountId"]
    return {"id": connection.id, "name": connection.name, "provider": connection.provider,
            "credentials": shown, "createdAt": iso_time(connection.created_at),
            "updatedAt": iso_time(connection.updated_at)}


def s3_config(connection: Connection, egress: Egress, *, connect_timeout: float = 5.0,
              read_timeout: float = 15.0, max_attempts: int = 2) -> S3Config:
    """Where the connection's bucket is, for an S3ObjectStore; every request
    to it passes the egress policy (the endpoint is the tenant's choice)."""
    creds = connection.credentials
    return S3Config(bucket=creds["bucket"], endpoint_url=endpoint(connection.provider, creds),
                    region=creds.get("region", DEFAULT_REGION[connection.provider]),
                    access_key_id=creds["accessKeyId"],
                    secret_access_key=creds["secretAccessKey"], connect_timeout=connect_timeout,
                    read_timeout=read_timeout, max_attempts=max_attempts, egress=egress)


# -- validation (pure) ------------------------------------------------------------


def check_provider(value: Any) -> str:
    if not isinstance(value, str) or value not in PROVIDERS:
        raise InvalidRequest(f"provider must be one of {', '.join(sorted(PROVIDERS))}",
                             "provider")
    return str(value)


def _check_endpoint(value: str) -> None:
    parts = urlsplit(value)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.query or parts.fragment):
        raise InvalidRequest("endpoint must be an http(s) URL without credentials, query or "
                             "fragment, like https://s3.example.com", "credentials.endpoint")


def check_credentials(provider: str, value: Any) -> dict[str, str]:
    """The provider's credentials, each field checked; messages name the
    field and never quote a value."""
    if not isinstance(value, dict):
        raise InvalidRequest("credentials must be an object", "credentials")
    required, optional = PROVIDERS[provider]
    unknown_fields(value, required + optional)
    creds: dict[str, str] = {}
    for field in required + optional:
        found = text(value, field, 2048, required=field in required, empty=False)
        if found is not None:
            creds[field] = found
    checks = (("bucket", BUCKET, "3 to 63 lowercase letters, digits, '.' or '-'"),
              ("region", REGION, "lowercase letters, digits and '-', like us-east-1"),
              ("accountId", ACCOUNT_ID, "letters, digits and '-' (the Cloudflare account id)"))
    for field, pattern, rule in checks:
        if field in creds and not pattern.match(creds[field]):
            raise InvalidRequest(f"{field} must be {rule}", f"credentials.{field}")
    for field in ("accessKeyId", "secretAccessKey"):
        if len(creds[field]) > MAX_SECRET:
            raise InvalidRequest(f"{field} is longer than {MAX_SECRET} characters",
                                 f"credentials.{field}")
    if "endpoint" in creds:
        _check_endpoint(creds["endpoint"])
    return creds


def creation(body: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(name, provider, credentials) of `POST /connections`."""
    unknown_fields(body, ("provider", "credentials", "name"))
    if "provider" not in body:
        raise InvalidRequest("provider is required", "provider")
    provider = check_provider(body["provider"])
    if "credentials" not in body:
        raise InvalidRequest("credentials is required", "credentials")
    credentials = checked(provider, body["credentials"])
    name = text(body, "name", MAX_NAME, empty=False) or f"{provider}: {credentials['bucket']}"
    return name, provider, credentials


def checked(provider: str, value: Any) -> dict[str, str]:
    """check_credentials, with the field named as `credentials.<field>`."""
    try:
        return check_credentials(provider, value)
    except InvalidRequest as exc:
        if exc.field is None or exc.field.startswith("credentials"):
            raise
        # `text` and `unknown_fields` name the member alone.
        raise InvalidRequest(exc.message, f"credentials.{exc.field}") from None


def changes(provider: str, body: dict[str, Any]) -> tuple[str | None, dict[str, str] | None]:
    """(name, credentials) of `PATCH /connections/:id`; None when unchanged.
    New credentials replace the old ones as a whole."""
    unknown_fields(body, ("name", "credentials"))
    if not body:
        raise InvalidRequest("nothing to update; give name or credentials")
    name = text(body, "name", MAX_NAME, empty=False)
    credentials = checked(provider, body["credentials"]) if "credentials" in body else None
    return name, credentials


# -- verification -------------------------------------------------------------------

_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "InvalidToken", "ExpiredToken", "Forbidden"}
_MISSING = {"404", "NoSuchBucket", "NotFound"}


def verify(provider: str, credentials: dict[str, str], egress: Egress) -> dict[str, Any]:
    """Checks checked credentials against the service itself: HEAD on the
    bucket, with short timeouts and no retry, so a dead endpoint answers
    within seconds. Never raises for what the service says; an endpoint the
    egress policy refuses is never contacted."""
    config = s3_config(Connection("", "", "", provider, credentials, 0.0, 0.0), egress,
                       connect_timeout=3, read_timeout=5, max_attempts=1)
    client = make_client(config)
    try:
        client.head_bucket(Bucket=config.bucket)
    except EgressRefused as exc:
        return {"valid": False, "error": str(exc)}
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            reason = f"no such bucket: {config.bucket}"
        elif code in _DENIED:
            reason = "access denied: the keys are wrong or may not read this bucket"
        elif code in ("301", "PermanentRedirect"):
            reason = "the bucket is in another region"
        else:
            reason = f"the service refused the request ({code or 'no code'})"
        return {"valid": False, "error": reason}
    except BotoCoreError as exc:
        return {"valid": False, "error": f"endpoint unreachable ({type(exc).__name__})"}
    return {"valid": True, "buckets": [{"name": config.bucket}]}


# -- storage ------------------------------------------------------------------------


class ConnectionStore:
    """Connections of every account, always read within one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, account: str, name: str, provider: str,
               credentials: dict[str, str]) -> Connection:
        now = time.time()
        connection = Connection(f"conn_{secrets.token_hex(8)}", account, name, provider,
                                credentials, now, now)
        self.db.execute(f"INSERT INTO connections ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (connection.id, account, name, provider, json.dumps(credentials),
                         now, now))
        return connection

    def get(self, account: str, connection_id: str) -> Connection | None:
        row = self.db.fetchone(
            f"SELECT {_COLUMNS} FROM connections WHERE account = ? AND id = ?",
            (account, connection_id))
        return _row(row) if row else None

    def page(self, account: str, after: tuple[float, str] | None,
             limit: int) -> tuple[list[Connection], bool]:
        """Oldest first, after the (created_at, id) position `after`."""
        rows, more = keyset_page(self.db, f"SELECT {_COLUMNS} FROM connections",
                                 [("account", account)], after, limit)
        return [_row(r) for r in rows], more

    def update(self, connection: Connection, name: str | None,
               credentials: dict[str, str] | None) -> Connection:
        now = time.time()
        name = connection.name if name is None else name
        credentials = connection.credentials if credentials is None else credentials
        self.db.execute("UPDATE connections SET name = ?, credentials = ?, updated_at = ? "
                        "WHERE account = ? AND id = ?",
                        (name, json.dumps(credentials), now, connection.account, connection.id))
        return Connection(connection.id, connection.account, name, connection.provider,
                          credentials, connection.created_at, now)

    def delete(self, connection: Connection) -> None:
        self.db.execute("DELETE FROM connections WHERE account = ? AND id = ?",
                        (connection.account, connection.id))
