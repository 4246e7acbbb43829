"""Versions of a platform workflow: each is submitted source compiled once,
numbered from 1. A locked version cannot be deployed; the active (deployed)
or a locked version cannot be deleted. Reverting makes a new version with
an old one's source.

What a version may contain depends on the workflow's kind: a durable
workflow exports a WorkflowEntrypoint class or a default async function;
a function (kind "script") exports a default async function and uses no
durable step API, since it has no instance to sleep or wait in."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from bindings import iso_time
from sandbox import Artifact, Engine

from ..db import Database
from ..errors import Conflict, InvalidRequest
from ..inputs import unknown_fields
from ..workflows import MAX_CODE_BYTES, compile_code

LANGUAGES = {"typescript": "ts", "javascript": "js"}
# What a function may not use: these need a durable instance.
_DURABLE_API = re.compile(r"\bstep\s*\.\s*(do|sleep|sleepUntil|waitForEvent)\b|"
                          r"\bWorkflowEntrypoint\b")
_COLUMNS = ("id, account, workflow_id, number, language, source, locked, reverted_from, "
            "created_at")


@dataclass(frozen=True)
class Version:
    id: str
    account: str
    workflow_id: str
    number: int
    language: str
    source: str
    locked: bool
    reverted_from: str | None
    created_at: float

    @property
    def filename(self) -> str:
        return f"{self.workflow_id}.{LANGUAGES[self.language]}"

    def summary(self, active_id: str | None) -> dict[str, Any]:
        return {"id": self.id, "workflowId": self.workflow_id, "number": self.number,
                "language": self.language, "locked": self.locked,
                "revertedFrom": self.reverted_from, "active": self.id == active_id,
                "createdAt": iso_time(self.created_at)}

    def detail(self, active_id: str | None, artifact: Artifact) -> dict[str, Any]:
        """The summary with the source and the compiled form."""
        return {**self.summary(active_id), "source": self.source, "compiled": {
            "kind": artifact.kind, "export": artifact.export,
            "bytecodeBytes": len(artifact.bytecode),
            "sha256": hashlib.sha256(artifact.bytecode).hexdigest(),
            "bytecode": base64.b64encode(artifact.bytecode).decode()}}


# -- validation (pure, but for the compile) ----------------------------------------


def submission(body: dict[str, Any]) -> tuple[str, str]:
    """(code, language) of `POST /workflows/:id/versions`."""
    if "ir" in body:
        raise InvalidRequest("Flowbox takes versions as {code, language}; the node-graph IR "
                             "is not supported", "ir")
    unknown_fields(body, ("code", "language"))
    code, language = body.get("code"), body.get("language", "typescript")
    if not isinstance(code, str) or not code.strip():
        raise InvalidRequest("code must be a non-empty string of JavaScript or TypeScript",
                             "code")
    if len(code.encode()) > MAX_CODE_BYTES:
        raise InvalidRequest(f"code is larger than {MAX_CODE_BYTES} bytes", "code")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise InvalidRequest('language must be "typescript" or "javascript"', "language")
    return code, language


def durable_api_use(code: str) -> tuple[str, int, int] | None:
    """The first durable step API a function's code names: (what, line, column)."""
    match = _DURABLE_API.search(code)
    if match is None:
        return None
    line = code.count("\n", 0, match.start()) + 1
    column = match.start() - (code.rfind("\n", 0, match.start()) + 1) + 1
    return match.group(0), line, column


def compile_version(engine: Engine, kind: str, code: str, language: str) -> Artifact:
    """Compiles a submission for a workflow of `kind`; a 400 naming line and
    column when it does not compile or does not fit the kind."""
    if kind == "script":
        used = durable_api_use(code)
        if used is not None:
            what, line, column = used
            raise InvalidRequest(
                f"a function (kind \"script\") has no durable runtime: {what!r} at line {line}, "
                f"column {column} needs a workflow (kind \"workflow\")", "code",
                code="compile_error", line=line, column=column)
    artifact = compile_code(engine, code, f"version.{LANGUAGES[language]}", classes=True)
    if kind == "script" and artifact.kind != "function":
        raise InvalidRequest("a function must `export default` an async function (event, env)",
                             "code", code="compile_error", line=None, column=None)
    return artifact


# -- storage ------------------------------------------------------------------------


class VersionStore:
    """Versions of platform workflows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, account: str, workflow_id: str, code: str, language: str,
               artifact: Artifact, reverted_from: str | None = None) -> Version:
        now = time.time()
        for _ in range(5):  # the number is the next free one; a concurrent create may take it
            row = self.db.fetchone("SELECT COALESCE(MAX(number), 0) + 1 FROM versions "
                                   "WHERE workflow_id = ?", (workflow_id,))
            version = Version(f"ver_{secrets.token_hex(8)}", account, workflow_id, int(row[0]),
                              language, code, False, reverted_from, now)
            try:
                self.db.execute(f"INSERT INTO versions ({_COLUMNS}, artifact) VALUES "
                                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (version.id, account, workflow_id, version.number, language,
                                 code, 0, reverted_from, now, artifact.to_bytes()))
                return version
            except self.db.integrity_errors:
                continue
        raise Conflict("versions are being created concurrently; try again", "code")

    def get(self, account: str, workflow_id: str, version_id: str) -> Version | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM versions WHERE account = ? AND "
                               "workflow_id = ? AND id = ?", (account, workflow_id, version_id))
        return _version(row) if row else None

    def latest(self, account: str, workflow_id: str) -> Version | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM versions WHERE account = ? AND "
                               "workflow_id = ? ORDER BY number DESC LIMIT 1",
                               (account, workflow_id))
        return _version(row) if row else None

    def artifact(self, version: Version) -> bytes:
        row = self.db.fetchone("SELECT artifact FROM versions WHERE id = ?", (version.id,))
        return bytes(row[0])

    def all(self, account: str, workflow_id: str) -> list[Version]:
        """Newest first."""
        rows = self.db.fetchall(f"SELECT {_COLUMNS} FROM versions WHERE account = ? AND "
                                "workflow_id = ? ORDER BY number DESC", (account, workflow_id))
        return [_version(r) for r in rows]

    def set_locked(self, version: Version, locked: bool) -> Version:
        self.db.execute("UPDATE versions SET locked = ? WHERE id = ?", (int(locked), version.id))
        return dataclasses.replace(version, locked=locked)

    def delete(self, version: Version, active_id: str | None) -> None:
        """Deletes a version that is neither locked nor active nor deployed."""
        if version.locked:
            raise Conflict("a locked version cannot be deleted; unlock it first", "versionId")
        if version.id == active_id:
            raise Conflict("the active (deployed) version cannot be deleted; deploy another "
                           "or take the workflow down first", "versionId")
        self.db.execute("DELETE FROM versions WHERE id = ?", (version.id,))


def _version(row: Any) -> Version:
    return Version(id=row[0], account=row[1], workflow_id=row[2], number=int(row[3]),
                   language=row[4], source=row[5], locked=bool(row[6]), reverted_from=row[7],
                   created_at=float(row[8]))
