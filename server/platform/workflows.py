"""Workflows and functions of the platform API (seed 003): what a create or
update may contain, and how they are stored. `kind` is "workflow" (durable,
run as instances) or "script" (a function invoked over HTTP); it is set at
creation and never changes.

A deployed workflow is also a Cloudflare workflow under /client/v4, named
by its id, and its runs are that workflow's instances: one object seen
through every surface."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from bindings import iso_time
from bindings.env import MIN_SECRET_CHARS, NAME

from ..db import Database
from ..db.paging import keyset_page
from ..errors import InvalidRequest, NotFound
from ..inputs import unknown_fields
from .projects import MAX_DESCRIPTION, MAX_NAME, text

KINDS = ("workflow", "script")
MASK = "********"
MAX_ENV_VARS = 100
MAX_ENV_VALUE = 5 * 1024
MAX_TRIGGER_CODE = 100 * 1024
MAX_JSON_FIELD = 16 * 1024
CREATE_FIELDS = ("name", "description", "kind", "projectId")
UPDATE_FIELDS = ("name", "description", "envVars", "triggerCode", "dependencies",
                 "deployConfig")
_COLUMNS = ("id, account, project_id, name, description, kind, env_vars, trigger_code, "
            "dependencies, deploy_config, active_version_id, created_at, updated_at")


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    is_secret: bool


@dataclass(frozen=True)
class PlatformWorkflow:
    id: str
    account: str
    project_id: str
    name: str
    description: str
    kind: str
    env_vars: tuple[EnvVar, ...]
    trigger_code: str | None
    dependencies: dict[str, Any]
    deploy_config: dict[str, Any]
    active_version_id: str | None
    created_at: float
    updated_at: float

    def to_wire(self) -> dict[str, Any]:
        wire = {"id": self.id, "projectId": self.project_id, "name": self.name,
                "description": self.description, "kind": self.kind,
                "envVars": [{"name": v.name, "value": MASK if v.is_secret else v.value,
                             "isSecret": v.is_secret} for v in self.env_vars],
                "triggerCode": self.trigger_code, "dependencies": self.dependencies,
                "deployConfig": self.deploy_config, "activeVersionId": self.active_version_id,
                "createdAt": iso_time(self.created_at), "updatedAt": iso_time(self.updated_at)}
        if self.kind == "script":
            wire["url"] = f"/functions/{self.id}"
        return wire


# -- validation (pure) ------------------------------------------------------------


def creation(body: dict[str, Any]) -> tuple[str, str, str, str | None]:
    """(name, description, kind, projectId or None) of `POST /workflows`."""
    unknown_fields(body, CREATE_FIELDS)
    name = text(body, "name", MAX_NAME, required=True, empty=False)
    assert name is not None
    kind = body.get("kind", "workflow")
    if kind not in KINDS:
        raise InvalidRequest('kind must be "workflow" or "script"', "kind")
    project = body.get("projectId")
    if project is not None and (not isinstance(project, str) or not project):
        raise InvalidRequest("projectId must be a project id", "projectId")
    return name, text(body, "description", MAX_DESCRIPTION) or "", kind, project


def changes(body: dict[str, Any], current: PlatformWorkflow) -> dict[str, Any]:
    """The checked fields of `PATCH /workflows/:id`, by column."""
    if "kind" in body:
        raise InvalidRequest("kind is set when a workflow is created and cannot change",
                             "kind")
    unknown_fields(body, UPDATE_FIELDS)
    if not body:
        raise InvalidRequest(f"nothing to update; give any of {', '.join(UPDATE_FIELDS)}")
    out: dict[str, Any] = {}
    if "name" in body:
        out["name"] = text(body, "name", MAX_NAME, empty=False)
    if "description" in body:
        out["description"] = text(body, "description", MAX_DESCRIPTION)
    if "envVars" in body:
        out["env_vars"] = env_vars(body["envVars"], current.env_vars)
    if "triggerCode" in body:
        out["trigger_code"] = (None if body["triggerCode"] is None
                               else text(body, "triggerCode", MAX_TRIGGER_CODE))
    for field, column in (("dependencies", "dependencies"), ("deployConfig", "deploy_config")):
        if field in body:
            out[column] = _small_object(body[field], field)
    return out


def env_vars(value: Any, previous: tuple[EnvVar, ...] = ()) -> tuple[EnvVar, ...]:
    """A workflow's `envVars`: `[{name, value, isSecret}]`. A secret sent
    back with the mask as its value keeps the value it had."""
    if not isinstance(value, list) or len(value) > MAX_ENV_VARS:
        raise InvalidRequest(f"envVars must be an array of at most {MAX_ENV_VARS} "
                             "{name, value, isSecret}", "envVars")
    kept = {v.name: v for v in previous if v.is_secret}
    out: dict[str, EnvVar] = {}
    for i, item in enumerate(value):
        field = f"envVars[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "value", "isSecret"}:
            raise InvalidRequest("each env var must be {name, value, isSecret}", field)
        name, raw, secret = item.get("name"), item.get("value"), item.get("isSecret", False)
        if not isinstance(name, str) or not NAME.match(name) or len(name) > 128:
            raise InvalidRequest("name must match ^[A-Z][A-Z0-9_]*$ (at most 128 characters)",
                                 f"{field}.name")
        if name in out:
            raise InvalidRequest(f"env var {name} is given twice", f"{field}.name")
        if not isinstance(secret, bool):
            raise InvalidRequest("isSecret must be true or false", f"{field}.isSecret")
        if secret and raw == MASK and name in kept:
            raw = kept[name].value
        if not isinstance(raw, str) or len(raw) > MAX_ENV_VALUE:
            raise InvalidRequest(f"value must be a string of at most {MAX_ENV_VALUE} "
                                 "characters", f"{field}.value")
        if secret and len(raw) < MIN_SECRET_CHARS:
            raise InvalidRequest(f"a secret must be at least {MIN_SECRET_CHARS} characters",
                                 f"{field}.value")
        out[name] = EnvVar(name, raw, secret)
    return tuple(out.values())


def _small_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{field} must be an object", field)
    if len(json.dumps(value)) > MAX_JSON_FIELD:
        raise InvalidRequest(f"{field} is larger than {MAX_JSON_FIELD} bytes", field)
    return value


# -- storage ------------------------------------------------------------------------


def _env_json(items: tuple[EnvVar, ...]) -> str:
    return json.dumps([{"name": v.name, "value": v.value, "isSecret": v.is_secret}
                       for v in items])


class PlatformWorkflowStore:
    """Platform workflows of every account, always read within one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, account: str, project_id: str, name: str, description: str,
               kind: str) -> PlatformWorkflow:
        now = time.time()
        wf = PlatformWorkflow(f"wfl_{secrets.token_hex(8)}", account, project_id, name,
                              description, kind, (), None, {}, {}, None, now, now)
        self.db.execute(f"INSERT INTO platform_workflows ({_COLUMNS}) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (wf.id, account, project_id, name, description, kind, "[]", None, "{}",
                         "{}", None, now, now))
        return wf

    def get(self, account: str, workflow_id: str,
            project_id: str | None = None) -> PlatformWorkflow | None:
        """The workflow, if it is the account's (and in `project_id` when given)."""
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM platform_workflows "
                               "WHERE account = ? AND id = ?", (account, workflow_id))
        found = _workflow(row) if row else None
        if found is not None and project_id is not None and found.project_id != project_id:
            return None
        return found

    def by_id(self, workflow_id: str) -> PlatformWorkflow | None:
        """Any account's workflow, for a function's public URL."""
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM platform_workflows WHERE id = ?",
                               (workflow_id,))
        return _workflow(row) if row else None

    def page(self, account: str, project_id: str | None, after: tuple[float, str] | None,
             limit: int) -> tuple[list[PlatformWorkflow], bool]:
        """Oldest first, in one project or all of the account's."""
        rows, more = keyset_page(self.db, f"SELECT {_COLUMNS} FROM platform_workflows",
                                 [("account", account), ("project_id", project_id)], after,
                                 limit)
        return [_workflow(r) for r in rows], more

    def update(self, wf: PlatformWorkflow, fields: dict[str, Any]) -> PlatformWorkflow:
        """Applies checked fields (by column) and returns the stored workflow."""
        encoded = {column: (_env_json(value) if column == "env_vars"
                            else json.dumps(value) if column in ("dependencies", "deploy_config")
                            else value) for column, value in fields.items()}
        sets = "".join(f"{column} = ?, " for column in encoded)
        self.db.execute(f"UPDATE platform_workflows SET {sets}updated_at = ? "
                        "WHERE account = ? AND id = ?",
                        (*encoded.values(), max(time.time(), wf.updated_at + 1e-6), wf.account,
                         wf.id))
        found = self.get(wf.account, wf.id)
        if found is None:  # deleted meanwhile by a concurrent request
            raise NotFound(f"no workflow {wf.id!r}", "workflowId")
        return found

    def delete(self, wf: PlatformWorkflow) -> None:
        """The workflow with its versions and deployments (its runs and its
        Cloudflare workflow are the caller's: see routes)."""
        with self.db.transaction() as cur:
            for table, column in (("versions", "workflow_id"), ("deployments", "workflow_id"),
                                  ("platform_workflows", "id")):
                cur.execute(self.db.sql(f"DELETE FROM {table} WHERE account = ? AND {column} = ?"),
                            (wf.account, wf.id))


def _workflow(row: Any) -> PlatformWorkflow:
    return PlatformWorkflow(
        id=row[0], account=row[1], project_id=row[2], name=row[3], description=row[4],
        kind=row[5], env_vars=tuple(EnvVar(v["name"], v["value"], v["isSecret"])
                                    for v in json.loads(row[6])),
        trigger_code=row[7], dependencies=json.loads(row[8]), deploy_config=json.loads(row[9]),
        active_version_id=row[10], created_at=float(row[11]), updated_at=float(row[12]))
