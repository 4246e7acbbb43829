"""Accounts and their credentials. An API key belongs to one account and
carries scopes (`read`, `write`, `deploy`), optionally a project and an
expiry; a session is the operator's own credential (every scope, and the
only one that may manage keys). Only a credential's SHA-256 is stored, so
the secret is shown once, when it is created."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from .db import Database

SCOPES = ("read", "write", "deploy")
KEY_PREFIX = "fbk_"
SESSION_PREFIX = "fbs_"
PREFIXES = {"key": KEY_PREFIX, "session": SESSION_PREFIX}
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class InvalidInput(ValueError):
    """Bad input for an account or key; `field` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: never the secret."""

    id: str
    account: str
    scopes: tuple[str, ...]
    name: str | None
    created_at: float
    project_id: str | None = None  # the key sees only this project's workflows
    expires_at: float | None = None
    kind: str = "key"  # or "session"
    revoked_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def parse_scopes(text: str | list[str]) -> tuple[str, ...]:
    """`"read,write"` or a list, checked; in canonical order."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text)]
    unknown = [s for s in items if s not in SCOPES]
    if unknown or not items:
        raise InvalidInput(f"scopes must be a non-empty list of {', '.join(SCOPES)}"
                           + (f"; unknown: {unknown[0]!r}" if unknown else ""), "scopes")
    return tuple(s for s in SCOPES if s in items)


def check_account_id(account: str) -> str:
    if not ACCOUNT_ID.match(account):
        raise InvalidInput("account id must be 1 to 64 letters, digits, '_' or '-', starting "
                           "with a letter or digit", "account")
    return account


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    """Accounts and keys in a Database. Authentication results are cached
    for `cache_seconds` (keys are checked on every request); revoking on
    this node takes effect at once, on other nodes within that time."""

    def __init__(self, db: Database, cache_seconds: float = 5.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}

    def ensure_account(self, account: str, name: str | None = None) -> bool:
        """Creates the account when it is new; True when it was created."""
        check_account_id(account)
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING"), (account, name, time.time()))
            return bool(cur.rowcount)

    def exists(self, account: str) -> bool:
        return self.db.fetchone("SELECT 1 FROM accounts WHERE id = ?", (account,)) is not None

    def create_key(self, account: str, scopes: tuple[str, ...], name: str | None = None, *,
                   project_id: str | None = None, expires_at: float | None = None,
                   kind: str = "key") -> tuple[ApiKey, str]:
        """A new credential for an existing account: the record and the
        secret, which is not stored and cannot be shown again."""
        if not self.exists(account):
            raise InvalidInput(f"no account {account!r}", "account")
        secret = PREFIXES[kind] + secrets.token_urlsafe(32)
        key = ApiKey(id=f"{'key' if kind == 'key' else 'ses'}_{secrets.token_hex(8)}",
                     account=account, scopes=parse_scopes(list(scopes)), name=name,
                     created_at=time.time(), project_id=project_id, expires_at=expires_at,
                     kind=kind)
        self.db.execute(
            f"INSERT INTO api_keys ({_KEY}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key.id, account, ",".join(key.scopes), name, key.created_at, project_id,
             expires_at, kind, None, _hash(secret)))
        return key, secret

    def create_session(self, account: str, ttl: float) -> tuple[ApiKey, str]:
        """The operator's credential for `ttl` seconds: every scope."""
        return self.create_key(account, SCOPES, "session", expires_at=time.time() + ttl,
                               kind="session")

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live credential with this secret, or None (unknown, revoked
        or expired)."""
        if not secret.startswith(tuple(PREFIXES.values())):
            return None
        digest = _hash(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            key = cached[0]
        else:
            row = self.db.fetchone(f"SELECT {_KEY} FROM api_keys "
                                   "WHERE hash = ? AND revoked_at IS NULL", (digest,))
            key = None if row is None else _key(row)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (key, now + self.cache_seconds)
        return None if key is None or key.expired(time.time()) else key

    def keys(self, account: str) -> list[ApiKey]:
        """The account's API keys (not sessions), newest first, revoked too."""
        rows = self.db.fetchall(f"SELECT {_KEY} FROM api_keys WHERE account = ? "
                                "AND kind = 'key' ORDER BY created_at DESC, id DESC", (account,))
        return [_key(r) for r in rows]

    def sessions(self, account: str) -> list[ApiKey]:
        """The account's operator sessions, newest first, ended ones too."""
        rows = self.db.fetchall(f"SELECT {_KEY} FROM api_keys WHERE account = ? "
                                "AND kind = 'session' ORDER BY created_at DESC, id DESC",
                                (account,))
        return [_key(r) for r in rows]

    def revoke(self, account: str, key_id: str, kind: str = "key") -> bool:
        """Revokes a live API key (or, with kind "session", a session) of
        this account; False when it has no such live credential."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account = ? "
                "AND kind = ? AND revoked_at IS NULL"), (time.time(), key_id, account, kind))
            revoked = bool(cur.rowcount)
        self._cache.clear()
        return revoked


_KEY = ("id, account, scopes, name, created_at, project_id, expires_at, kind, revoked_at")


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row[0], account=row[1], scopes=tuple(row[2].split(",")), name=row[3],
                  created_at=float(row[4]), project_id=row[5],
                  expires_at=float(row[6]) if row[6] is not None else None, kind=row[7],
                  revoked_at=float(row[8]) if row[8] is not None else None)
