"""Account-level environment variables and secrets (seed 003's `/env-vars`).

A secret's value is stored as given, since deploys hand it to workflow
code, but it never leaves the service again: every wire shape shows
`MASK` in its place. Secrets follow the sandbox's masking rule (at least
`MIN_SECRET_CHARS` characters), or redacting them in run output would
mask innocent text."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from bindings import iso_time
from bindings.env import MIN_SECRET_CHARS, NAME

from ..db import Database
from ..errors import Conflict, InvalidRequest
from ..inputs import unknown_fields

MASK = "********"
MAX_NAME = 128
MAX_VALUE_BYTES = 5 * 1024
FIELDS = ("name", "value", "isSecret")
_COLUMNS = "id, account, name, value, is_secret, created_at, updated_at"


@dataclass(frozen=True)
class EnvVar:
    id: str
    account: str
    name: str
    value: str
    is_secret: bool
    created_at: float
    updated_at: float

    def __repr__(self) -> str:  # a secret's value must not reach a log through repr
        value = MASK if self.is_secret else repr(self.value)
        return f"EnvVar(id={self.id!r}, name={self.name!r}, value={value})"

    def to_wire(self) -> dict[str, Any]:
        """The API shape; a secret's value is always masked."""
        return {"id": self.id, "name": self.name,
                "value": MASK if self.is_secret else self.value, "isSecret": self.is_secret,
                "createdAt": iso_time(self.created_at), "updatedAt": iso_time(self.updated_at)}


def _row(row: Any) -> EnvVar:
    ident, account, name, value, is_secret, created, updated = row
    return EnvVar(str(ident), str(account), str(name), str(value), bool(is_secret),
                  float(created), float(updated))


# -- validation (pure) ------------------------------------------------------------


def check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidRequest("name must be a string", "name")
    if len(value) > MAX_NAME:
        raise InvalidRequest(f"name is longer than {MAX_NAME} characters", "name")
    if not NAME.match(value):
        raise InvalidRequest("name must match ^[A-Z][A-Z0-9_]*$ (like MY_VAR)", "name")
    return value


def check_value(value: Any, is_secret: bool) -> str:
    """A value, checked against the secret rule when it is (or becomes) one.
    Messages never quote the value: it may be a secret."""
    if not isinstance(value, str):
        raise InvalidRequest("value must be a string", "value")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        raise InvalidRequest(f"value is over {MAX_VALUE_BYTES} bytes", "value")
    if is_secret and len(value) < MIN_SECRET_CHARS:
        raise InvalidRequest(f"a secret must be at least {MIN_SECRET_CHARS} characters long, "
                             "or it would mask innocent text in run output", "value")
    return value


def check_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest("isSecret must be true or false", "isSecret")
    return value


def creation(body: dict[str, Any]) -> tuple[str, str, bool]:
    """(name, value, is_secret) of `POST /env-vars`."""
    unknown_fields(body, FIELDS)
    for field in ("name", "value"):
        if field not in body:
            raise InvalidRequest(f"{field} is required", field)
    is_secret = check_flag(body.get("isSecret", False))
    return check_name(body["name"]), check_value(body["value"], is_secret), is_secret


def changes(current: EnvVar, body: dict[str, Any]) -> tuple[str, str, bool]:
    """The (name, value, is_secret) `PATCH /env-vars/:id` leaves: any subset
    of the fields, checked as on creation. Turning a variable into a
    secret checks its current value too; turning a secret into a plain
    variable needs a new value (the old one is never shown)."""
    unknown_fields(body, FIELDS)
    if not body:
        raise InvalidRequest("nothing to update; give name, value or isSecret")
    is_secret = check_flag(body["isSecret"]) if "isSecret" in body else current.is_secret
    if current.is_secret and not is_secret and "value" not in body:
        # The old value stays secret for good: showing it now would hand it
        # to anyone with write access.
        raise InvalidRequest("a secret becomes a plain variable only with a new value: send "
                             "value with isSecret false", "value")
    name = check_name(body["name"]) if "name" in body else current.name
    value = check_value(body.get("value", current.value), is_secret)
    return name, value, is_secret


# -- storage ------------------------------------------------------------------------


class EnvVarStore:
    """Env vars of every account, always read within one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, account: str, name: str, value: str, is_secret: bool) -> EnvVar:
        """A new variable; Conflict (field `name`) when the name is taken."""
        now = time.time()
        var = EnvVar(f"env_{secrets.token_hex(8)}", account, name, value, is_secret, now, now)
        try:
            self.db.execute(f"INSERT INTO env_vars ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (var.id, account, name, value, int(is_secret), now, now))
        except self.db.integrity_errors:
            raise Conflict(f"an env var named {name!r} already exists", "name") from None
        return var

    def get(self, account: str, var_id: str) -> EnvVar | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM env_vars WHERE account = ? AND id = ?",
                               (account, var_id))
        return _row(row) if row else None

    def all(self, account: str) -> list[EnvVar]:
        """Every env var of the account, by name."""
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM env_vars WHERE account = ? ORDER BY name", (account,))
        return [_row(r) for r in rows]

    def page(self, account: str, after: str | None, limit: int) -> tuple[list[EnvVar], bool]:
        """By name, after the name `after`; and whether more follow."""
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM env_vars WHERE account = ? AND name > ? "
            "ORDER BY name LIMIT ?", (account, after or "", limit + 1))
        return [_row(r) for r in rows[:limit]], len(rows) > limit

    def update(self, var: EnvVar, name: str, value: str, is_secret: bool) -> EnvVar:
        """Sets all three fields; Conflict (field `name`) on a taken name."""
        now = time.time()
        try:
            self.db.execute("UPDATE env_vars SET name = ?, value = ?, is_secret = ?, "
                            "updated_at = ? WHERE account = ? AND id = ?",
                            (name, value, int(is_secret), now, var.account, var.id))
        except self.db.integrity_errors:
            raise Conflict(f"an env var named {name!r} already exists", "name") from None
        return EnvVar(var.id, var.account, name, value, is_secret, var.created_at, now)

    def delete(self, var: EnvVar) -> None:
        self.db.execute("DELETE FROM env_vars WHERE account = ? AND id = ?",
                        (var.account, var.id))
