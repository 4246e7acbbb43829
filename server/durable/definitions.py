"""What durable instances run: Worker scripts (compiled code and the env
their bindings give) and named workflows (a script's class plus settings),
as Cloudflare's API shapes them."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import bindings
from sandbox import Artifact

from ..db import Database

MAX_WORKFLOW_NAME = 64
DEFAULT_MAX_STEPS = 10_000


@dataclass(frozen=True)
class ScriptEnv:
    """A script's bindings: plain_text vars, secret_text secrets,
    kv_namespace stores and r2_bucket buckets, by binding name."""

    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    stores: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    # The storage connection whose bucket holds `files` (a platform deploy
    # to a connection); None for the node's own file store.
    connection: str | None = None

    def to_json(self) -> str:
        return json.dumps({"vars": self.vars, "secrets": self.secrets, "stores": self.stores,
                           "buckets": self.buckets, "connection": self.connection})

    @classmethod
    def from_json(cls, text: str) -> ScriptEnv:
        d = json.loads(text)
        return cls(d["vars"], d["secrets"], d["stores"], d["buckets"], d.get("connection"))

    def env(self) -> bindings.Env:
        return bindings.Env(vars=self.vars, secrets=self.secrets)


@dataclass(frozen=True)
class Script:
    """A Worker script: its main module's source, the other modules it
    was uploaded with (name -> JavaScript source), the compiled artifact
    and its env."""

    account: str
    name: str
    main_module: str
    code: str
    artifact: bytes
    env: ScriptEnv
    created_at: float
    updated_at: float
    modules: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Version:
    """What a workflow ran at one version: its class and a copy of its
    script as it was then. Instances run the version they started with."""

    id: str
    workflow_id: str
    class_name: str
    script: Script


@dataclass(frozen=True)
class Settings:
    """A workflow's settings from `PUT …/workflows/{name}`."""

    concurrency: int | None = None
    max_steps: int = DEFAULT_MAX_STEPS
    success_retention: float | None = None  # seconds
    error_retention: float | None = None
    schedules: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # platform event types that start an instance

    def to_json(self) -> str:
        return json.dumps({"concurrency": self.concurrency, "max_steps": self.max_steps,
                           "success_retention": self.success_retention,
                           "error_retention": self.error_retention,
                           "schedules": list(self.schedules), "events": list(self.events)})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        d = json.loads(text)
        return cls(d["concurrency"], d["max_steps"], d["success_retention"],
                   d["error_retention"], tuple(d["schedules"]), tuple(d.get("events", ())))


@dataclass(frozen=True)
class DurableWorkflow:
    id: str
    account: str
    name: str
    script_name: str
    class_name: str
    version_id: str
    settings: Settings
    created_at: float
    modified_at: float
    triggered_on: float | None


_SCRIPT = "account, name, main_module, code, artifact, env, created_at, updated_at, modules"
_VERSION = ("id, workflow_id, class_name, account, script_name, main_module, code, artifact, "
            "env, created_at, created_at, modules")
_WORKFLOW = ("id, account, name, script_name, class_name, version_id, settings, created_at, "
             "modified_at, triggered_on")


class Definitions:
    """Scripts and durable workflows of every account."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- scripts ---------------------------------------------------------------------

    def put_script(self, account: str, name: str, main_module: str, code: str,
                   artifact: Artifact, env: ScriptEnv,
                   modules: dict[str, str] | None = None) -> tuple[Script, bool]:
        """Creates or replaces a script; True when it was created. The
        workflows bound to it get a new version."""
        now = time.time()
        modules_json = json.dumps(modules) if modules else None
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "SELECT created_at FROM scripts WHERE account = ? AND name = ?"), (account, name))
            row = cur.fetchone()
            # One upsert: deploys of the same script racing each other (on
            # this node or another) end one after the other, never in a
            # duplicate-key error.
            cur.execute(self.db.sql(
                f"INSERT INTO scripts ({_SCRIPT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (account, name) DO UPDATE SET main_module = excluded.main_module, "
                "code = excluded.code, artifact = excluded.artifact, env = excluded.env, "
                "updated_at = excluded.updated_at, modules = excluded.modules "
                "RETURNING created_at"),
                (account, name, main_module, code, artifact.to_bytes(), env.to_json(),
                 now, now, modules_json))
            created_at = float(cur.fetchone()[0])
            cur.execute(self.db.sql("SELECT id, class_name FROM durable_workflows "
                                    "WHERE account = ? AND script_name = ?"), (account, name))
            for workflow_id, class_name in cur.fetchall():
                version = str(uuid.uuid4())
                cur.execute(self.db.sql("UPDATE durable_workflows SET version_id = ?, "
                                        "modified_at = ? WHERE id = ?"),
                            (version, now, workflow_id))
                self._keep_version(cur, account, workflow_id, version, name, class_name, now)
        return Script(account, name, main_module, code, artifact.to_bytes(), env, created_at,
                      now, dict(modules or {})), row is None

    def _keep_version(self, cur: Any, account: str, workflow_id: str, version: str,
                      script_name: str, class_name: str, now: float) -> None:
        """Copies the script as it is now into the version's record, and
        forgets the workflow's versions that no instance runs any more."""
        cur.execute(self.db.sql(
            "INSERT INTO workflow_versions (id, account, workflow_id, script_name, class_name, "
            "main_module, code, modules, artifact, env, created_at) "
            "SELECT ?, account, ?, name, ?, main_module, code, modules, artifact, env, ? "
            "FROM scripts WHERE account = ? AND name = ? "
            "ON CONFLICT (id) DO UPDATE SET script_name = excluded.script_name, "
            "class_name = excluded.class_name, main_module = excluded.main_module, "
            "code = excluded.code, modules = excluded.modules, artifact = excluded.artifact, "
            "env = excluded.env, created_at = excluded.created_at"),
            (version, workflow_id, class_name, now, account, script_name))
        cur.execute(self.db.sql(
            "DELETE FROM workflow_versions WHERE workflow_id = ? AND id <> ? AND id NOT IN "
            "(SELECT version_id FROM instances WHERE workflow_id = ?)"),
            (workflow_id, version, workflow_id))

    def script(self, account: str, name: str) -> Script | None:
        row = self.db.fetchone(f"SELECT {_SCRIPT} FROM scripts WHERE account = ? AND name = ?",
                               (account, name))
        return _script(row) if row is not None else None

    def version(self, version_id: str) -> Version | None:
        """A workflow version with its copy of the script; None for an
        instance created before versions were kept, or a deleted workflow."""
        row = self.db.fetchone(f"SELECT {_VERSION} FROM workflow_versions WHERE id = ?",
                               (version_id,))
        if row is None:
            return None
        return Version(row[0], row[1], row[2], _script(row[3:]))

    def prune_versions(self) -> int:
        """Forgets versions that neither a workflow nor an instance refers
        to (after retention deleted instances, or a workflow was deleted)."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "DELETE FROM workflow_versions WHERE id NOT IN "
                "(SELECT version_id FROM durable_workflows) AND id NOT IN "
                "(SELECT version_id FROM instances)"))
            return int(cur.rowcount)

    def delete_script(self, account: str, name: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("DELETE FROM scripts WHERE account = ? AND name = ?"),
                        (account, name))
            return bool(cur.rowcount)

    # -- workflows -------------------------------------------------------------------

    def put_workflow(self, account: str, name: str, script_name: str, class_name: str,
                     settings: Settings, *, workflow_id: str | None = None,
                     version_id: str | None = None) -> DurableWorkflow:
        """Creates or updates a workflow; the platform API deploys its
        workflows with their own id and version id."""
        now = time.time()
        version = version_id or str(uuid.uuid4())
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                f"INSERT INTO durable_workflows ({_WORKFLOW}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, name) DO UPDATE SET "
                "script_name = excluded.script_name, class_name = excluded.class_name, "
                "version_id = excluded.version_id, settings = excluded.settings, "
                "modified_at = excluded.modified_at"),
                (workflow_id or str(uuid.uuid4()), account, name, script_name, class_name,
                 version, settings.to_json(), now, now, None))
            cur.execute(self.db.sql("SELECT id FROM durable_workflows "
                                    "WHERE account = ? AND name = ?"), (account, name))
            self._keep_version(cur, account, cur.fetchone()[0], version, script_name,
                               class_name, now)
        found = self.workflow(account, name)
        assert found is not None
        return found

    def workflow(self, account: str, name: str) -> DurableWorkflow | None:
        row = self.db.fetchone(f"SELECT {_WORKFLOW} FROM durable_workflows "
                               "WHERE account = ? AND name = ?", (account, name))
        return _workflow(row) if row else None

    def workflow_by_id(self, workflow_id: str) -> DurableWorkflow | None:
        row = self.db.fetchone(f"SELECT {_WORKFLOW} FROM durable_workflows WHERE id = ?",
                               (workflow_id,))
        return _workflow(row) if row else None

    def workflows(self, account: str, search: str | None, offset: int,
                  limit: int) -> tuple[list[DurableWorkflow], int]:
        where, params = "account = ?", [account]
        if search:
            where += " AND name LIKE ?"
            params.append("%" + search.replace("%", "").replace("_", "") + "%")
        total = int(self.db.fetchone(f"SELECT COUNT(*) FROM durable_workflows WHERE {where}",
                                     params)[0])
        rows = self.db.fetchall(f"SELECT {_WORKFLOW} FROM durable_workflows WHERE {where} "
                                "ORDER BY name LIMIT ? OFFSET ?", (*params, limit, offset))
        return [_workflow(r) for r in rows], total

    def scheduled(self) -> list[DurableWorkflow]:
        """Workflows with cron schedules, for the scheduler."""
        # The pattern is a parameter: a literal % in the SQL text is a
        # placeholder to psycopg.
        rows = self.db.fetchall(f"SELECT {_WORKFLOW} FROM durable_workflows "
                                "WHERE settings NOT LIKE ?", ('%"schedules": []%',))
        return [_workflow(r) for r in rows]

    def triggered_by(self, account: str, event_type: str) -> list[DurableWorkflow]:
        """The account's workflows that a platform event of this type starts."""
        rows = self.db.fetchall(f"SELECT {_WORKFLOW} FROM durable_workflows "
                                "WHERE account = ? AND settings LIKE ? ORDER BY created_at, id",
                                (account, f'%"{event_type}"%'))
        return [w for w in map(_workflow, rows) if event_type in w.settings.events]

    def mark_triggered(self, workflow_id: str, when: float) -> None:
        self.db.execute("UPDATE durable_workflows SET triggered_on = ? WHERE id = ?",
                        (when, workflow_id))

    def delete_workflow(self, account: str, name: str) -> DurableWorkflow | None:
        found = self.workflow(account, name)
        if found is not None:
            with self.db.transaction() as cur:
                cur.execute(self.db.sql("DELETE FROM durable_workflows WHERE id = ?"),
                            (found.id,))
                cur.execute(self.db.sql("DELETE FROM workflow_versions WHERE workflow_id = ?"),
                            (found.id,))
        return found


def _script(row: Any) -> Script:
    return Script(row[0], row[1], row[2], row[3], bytes(row[4]), ScriptEnv.from_json(row[5]),
                  float(row[6]), float(row[7]), json.loads(row[8]) if row[8] else {})


def _workflow(row: Any) -> DurableWorkflow:
    return DurableWorkflow(id=row[0], account=row[1], name=row[2], script_name=row[3],
                           class_name=row[4], version_id=row[5],
                           settings=Settings.from_json(row[6]), created_at=float(row[7]),
                           modified_at=float(row[8]),
                           triggered_on=float(row[9]) if row[9] is not None else None)

