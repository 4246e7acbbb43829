"""Workflows registered through the collab-kit API (seed 000): what a
registration may contain, how it is stored, and which workflows an event
starts. Code is compiled when it is registered; only the artifact runs."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bindings import EVENT_TYPES, iso_time
from sandbox import Artifact, CompileError, Engine

from .db import Database
from .errors import InvalidRequest
from .inputs import unknown_fields

MAX_NAME_CHARS = 200
MAX_CODE_BYTES = 1024 * 1024
MAX_ROOM_ID_CHARS = 256
CREATE_FIELDS = ("name", "code", "events", "roomId")
UPDATE_FIELDS = ("name", "code", "events", "roomId", "enabled")
_COLUMNS = "id, account, name, code, events, room_id, enabled, created_at, updated_at"


@dataclass(frozen=True)
class Workflow:
    id: str
    account: str
    name: str
    code: str
    events: tuple[str, ...]
    room_id: str | None
    enabled: bool
    created_at: float
    updated_at: float

    def to_wire(self) -> dict[str, Any]:
        """The seed's WorkflowRegistration."""
        return {"id": self.id, "organization_id": self.account, "name": self.name,
                "code": self.code, "events": list(self.events), "room_id": self.room_id,
                "enabled": self.enabled, "created_at": iso_time(self.created_at),
                "updated_at": iso_time(self.updated_at)}

    def matches(self, event_type: str, room_id: str | None) -> bool:
        return (self.enabled and event_type in self.events
                and (self.room_id is None or self.room_id == room_id))


# -- validation (pure) ------------------------------------------------------------


def check_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The registration fields of a create (all required but roomId) or an
    update (any subset), checked; keys as in the request."""
    allowed = CREATE_FIELDS if creating else UPDATE_FIELDS
    unknown_fields(body, allowed)
    if creating:
        for name in ("name", "code", "events"):
            if name not in body:
                raise InvalidRequest(f"{name} is required", name)
    elif not body:
        raise InvalidRequest(f"nothing to update; give any of {', '.join(allowed)}")
    checks = {"name": _name, "code": _code, "events": check_event_types, "roomId": _room_id,
              "enabled": _enabled}
    return {name: checks[name](value) for name, value in body.items()}


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("name must be a non-empty string", "name")
    if len(value) > MAX_NAME_CHARS:
        raise InvalidRequest(f"name is longer than {MAX_NAME_CHARS} characters", "name")
    return value


def _code(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("code must be a non-empty string of JavaScript or TypeScript",
                             "code")
    if len(value.encode()) > MAX_CODE_BYTES:
        raise InvalidRequest(f"code is larger than {MAX_CODE_BYTES} bytes", "code")
    return value


def check_event_types(value: Any) -> tuple[str, ...]:
    """A non-empty array of platform event types, without repeats."""
    if not isinstance(value, list) or not value:
        raise InvalidRequest("events must be a non-empty array of event types", "events")
    for item in value:
        if item not in EVENT_TYPES:
            raise InvalidRequest(f"unknown event type {item!r}; the types are "
                                 f"{', '.join(EVENT_TYPES)}", "events")
    return tuple(dict.fromkeys(value))


def _room_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidRequest("roomId must be a non-empty string or null", "roomId")
    if len(value) > MAX_ROOM_ID_CHARS:
        raise InvalidRequest(f"roomId is longer than {MAX_ROOM_ID_CHARS} characters", "roomId")
    return value


def _enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest("enabled must be true or false", "enabled")
    return value


def compile_code(engine: Engine, code: str, filename: str = "workflow.ts", *,
                 field: str = "code", classes: bool = False,
                 modules: Mapping[str, str] | None = None) -> Artifact:
    """Compiles registered code (TypeScript or JavaScript by `filename`;
    types are stripped either way), with the script's other `modules`. A
    compile error is a 400 naming the module, line and column. Only Worker
    scripts (`classes`) may hold workflow classes."""
    try:
        artifact = engine.compile(code, filename, modules)
    except CompileError as exc:
        where = f" at line {exc.line}, column {exc.column}" if exc.line is not None else ""
        if exc.filename and exc.filename != filename:
            where += f" of {exc.filename}"
        raise InvalidRequest(f"code does not compile: {exc.reason}{where}", field,
                             code="compile_error", line=exc.line, column=exc.column,
                             **({"file": exc.filename} if modules else {})) from None
    if artifact.kind != "function" and not classes:
        raise InvalidRequest("code must `export default` an async function (event, bindings); "
                             "WorkflowEntrypoint classes are not supported on this route",
                             field, code="compile_error", line=None, column=None)
    return artifact


# -- storage ------------------------------------------------------------------------


class WorkflowStore:
    """Workflows in the database, always read and written within one account."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, account: str, fields: dict[str, Any], artifact: Artifact) -> Workflow:
        now = time.time()
        wf = Workflow(id=f"wf_{secrets.token_hex(8)}", account=account, name=fields["name"],
                      code=fields["code"], events=fields["events"],
                      room_id=fields.get("roomId"), enabled=True, created_at=now, updated_at=now)
        self.db.execute(
            f"INSERT INTO workflows ({_COLUMNS}, artifact) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (wf.id, account, wf.name, wf.code, json.dumps(list(wf.events)), wf.room_id, 1,
             now, now, artifact.to_bytes()))
        return wf

    def get(self, account: str, workflow_id: str) -> Workflow | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM workflows WHERE account = ? AND id = ?",
                               (account, workflow_id))
        return _workflow(row) if row else None

    def page(self, account: str, after: tuple[float, str] | None,
             limit: int) -> tuple[list[Workflow], bool]:
        """A page in creation order after the `after` position, and whether
        more follow."""
        at, ident = after or (-1.0, "")
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM workflows WHERE account = ? AND "
            "(created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?",
            (account, at, at, ident, limit + 1))
        return [_workflow(r) for r in rows[:limit]], len(rows) > limit

    def update(self, current: Workflow, fields: dict[str, Any],
               artifact: Artifact | None) -> Workflow | None:
        """Applies checked `fields` (and a new artifact) to a workflow read
        before; the workflow as stored afterwards, None when it is gone."""
        columns = {"name": "name", "code": "code", "events": "events", "roomId": "room_id",
                   "enabled": "enabled"}
        sets: list[str] = ["updated_at = ?"]
        params: list[Any] = [max(time.time(), current.updated_at + 1e-6)]
        for name, value in fields.items():
            sets.append(f"{columns[name]} = ?")
            params.append(json.dumps(list(value)) if name == "events"
                          else int(value) if name == "enabled" else value)
        if artifact is not None:
            sets.append("artifact = ?")
            params.append(artifact.to_bytes())
        self.db.execute(f"UPDATE workflows SET {', '.join(sets)} WHERE account = ? AND id = ?",
                        (*params, current.account, current.id))
        return self.get(current.account, current.id)

    def delete(self, account: str, workflow_id: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("DELETE FROM workflows WHERE account = ? AND id = ?"),
                        (account, workflow_id))
            return bool(cur.rowcount)

    def matching(self, account: str, event_type: str, room_id: str | None) -> list[Workflow]:
        """The enabled workflows an event of this type in this room starts."""
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM workflows WHERE account = ? AND enabled = 1 "
            "AND (room_id IS NULL OR room_id = ?) AND events LIKE ? ORDER BY created_at, id",
            (account, room_id, f'%"{event_type}"%'))
        return [wf for wf in map(_workflow, rows) if wf.matches(event_type, room_id)]

    def runnable(self, workflow_id: str) -> tuple[Workflow, bytes] | None:
        """The workflow and its stored artifact, for a worker."""
        row = self.db.fetchone(f"SELECT {_COLUMNS}, artifact FROM workflows WHERE id = ?",
                               (workflow_id,))
        return (_workflow(row), bytes(row[9])) if row else None

    def replace_artifact(self, workflow_id: str, updated_at: float, artifact: Artifact) -> None:
        """Stores a recompiled artifact unless the workflow changed meanwhile."""
        self.db.execute("UPDATE workflows SET artifact = ? WHERE id = ? AND updated_at = ?",
                        (artifact.to_bytes(), workflow_id, updated_at))


def _workflow(row: Any) -> Workflow:
    return Workflow(id=row[0], account=row[1], name=row[2], code=row[3],
                    events=tuple(json.loads(row[4])), room_id=row[5], enabled=bool(row[6]),
                    created_at=float(row[7]), updated_at=float(row[8]))
