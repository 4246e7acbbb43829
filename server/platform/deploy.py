"""Deploying a version of a platform workflow, stage by stage, as seed 003's
deploy stream names them. Each stage is a real step of Flowbox's deploy:

    INITIALIZING        the deployment is recorded; version and connection found
    GENERATING_CODE     the version's artifact is loaded and verified (compiled
    CODE_READY            again when this engine build differs)
    DETECTING_BINDINGS  env: account vars overlaid by the workflow's; every
    BINDINGS_READY        `env.NAME` the code reads must be defined; the
                          connection's credentials are checked
    CREATING_WORKER     the Worker script (code + env) is stored, named by the
                          workflow's id
    DEPLOYING           a durable workflow becomes a Cloudflare workflow of
    WORKER_DEPLOYED       that script (a function is live at its URL already)
    UPDATING_WORKFLOW   the version becomes the active one; older deployments
    COMPLETED             are superseded

A failing stage ends the deployment `failed`, with the stage and the reason
recorded, and changes nothing live: the script is stored only at
CREATING_WORKER, after every check passed."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bindings import Env, InvalidEnv, iso_time
from sandbox import Artifact, ArtifactError, Engine

from ..db import Database
from ..db.paging import keyset_page
from ..durable.definitions import Definitions, ScriptEnv, Settings
from .connections import Connection
from .envvars import EnvVar as AccountVar
from .versions import Version, VersionStore, compile_version
from .workflows import PlatformWorkflow, PlatformWorkflowStore

log = logging.getLogger("flowbox.deploy")
STAGES = ("INITIALIZING", "GENERATING_CODE", "CODE_READY", "DETECTING_BINDINGS",
          "BINDINGS_READY", "CREATING_WORKER", "DEPLOYING", "WORKER_DEPLOYED",
          "UPDATING_WORKFLOW", "COMPLETED")
BINDING_NAMES = ("store", "room", "files", "step", "env", "event")
_ENV_READ = re.compile(r"\benv\s*(?:\.\s*([A-Z][A-Z0-9_]*)\b|"
                       r"\[\s*[\"']([A-Z][A-Z0-9_]*)[\"']\s*\])")
_COLUMNS = ("id, account, workflow_id, version_id, connection_id, status, stage, error, "
            "created_at, finished_at")


class DeployFailed(Exception):
    """A stage could not complete; `stage` names it, `deployment_id` the
    deployment that recorded the failure."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.deployment_id: str | None = None


@dataclass(frozen=True)
class Deployment:
    id: str
    account: str
    workflow_id: str
    version_id: str
    connection_id: str | None
    status: str  # in_progress, active, superseded, taken_down, failed
    stage: str
    error: str | None
    created_at: float
    finished_at: float | None

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "workflowId": self.workflow_id, "versionId": self.version_id,
                "connectionId": self.connection_id, "status": self.status,
                "stage": self.stage, "error": self.error, "createdAt": iso_time(self.created_at),
                "finishedAt": iso_time(self.finished_at) if self.finished_at else None}


@dataclass(frozen=True)
class Progress:
    """One event of the deploy stream."""

    stage: str
    detail: dict[str, Any] = field(default_factory=dict)


# -- the pure parts ------------------------------------------------------------------


def env_reads(code: str) -> list[str]:
    """The names the code reads as `env.NAME` or `env["NAME"]`, in order."""
    return list(dict.fromkeys(a or b for a, b in _ENV_READ.findall(code)))


def bindings_used(code: str) -> list[str]:
    return [name for name in BINDING_NAMES if re.search(rf"\b{name}\b", code)]


def effective_env(account_vars: list[AccountVar], workflow: PlatformWorkflow,
                  connection: str | None = None) -> ScriptEnv:
    """Account vars and secrets, overridden by the workflow's own by name;
    `files` in the connection's bucket when there is one."""
    merged = {v.name: (v.value, v.is_secret) for v in account_vars}
    merged.update({v.name: (v.value, v.is_secret) for v in workflow.env_vars})
    return ScriptEnv(vars={n: v for n, (v, s) in merged.items() if not s},
                     secrets={n: v for n, (v, s) in merged.items() if s}, connection=connection)


def check_env(env: ScriptEnv, code: str) -> None:
    """Raises DeployFailed when the env cannot be handed to the code."""
    try:
        Env(vars=env.vars, secrets=env.secrets)
    except InvalidEnv as exc:
        raise DeployFailed("DETECTING_BINDINGS", str(exc)) from None
    defined = set(env.vars) | set(env.secrets)
    missing = [name for name in env_reads(code) if name not in defined]
    if missing:
        raise DeployFailed("DETECTING_BINDINGS", f"the code reads env.{missing[0]}, which is "
                           "defined neither in the workflow's envVars nor in the account's "
                           "env vars (POST /api/env-vars)")


# -- storage ------------------------------------------------------------------------


HEARTBEAT = 10.0  # seconds between a running deploy's signs of life
SILENCE = 45.0  # a deploy silent this long was cut off (see DeploymentStore.interrupted)


@contextmanager
def _heartbeat(beat: Callable[[], None]) -> Iterator[None]:
    """Calls `beat` every HEARTBEAT seconds while the block runs."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(HEARTBEAT):
            try:
                beat()
            except Exception:  # a missed beat is retried at the next one
                log.warning("deploy heartbeat failed", exc_info=True)

    thread = threading.Thread(target=loop, name="deploy-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


class DeploymentStore:
    """Deployments of platform workflows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, account: str, workflow_id: str, version_id: str,
              connection_id: str | None) -> Deployment:
        now = time.time()
        d = Deployment(f"dep_{secrets.token_hex(8)}", account, workflow_id, version_id,
                       connection_id, "in_progress", STAGES[0], None, now, None)
        self.db.execute(f"INSERT INTO deployments ({_COLUMNS}) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (d.id, account, workflow_id, version_id, connection_id, d.status,
                         d.stage, None, now, None))
        return d

    def stage(self, deployment_id: str, stage: str) -> None:
        self.db.execute("UPDATE deployments SET stage = ?, alive_at = ? WHERE id = ?",
                        (stage, time.time(), deployment_id))

    def alive(self, deployment_id: str) -> None:
        """The deploy's heartbeat: its node is still working on it."""
        self.db.execute("UPDATE deployments SET alive_at = ? WHERE id = ?",
                        (time.time(), deployment_id))

    def fail(self, deployment_id: str, stage: str, error: str) -> None:
        self.db.execute("UPDATE deployments SET status = 'failed', stage = ?, error = ?, "
                        "finished_at = ? WHERE id = ?", (stage, error, time.time(), deployment_id))

    def activate(self, cur: Any, deployment: Deployment) -> None:
        """Inside the caller's transaction: this deployment active, the
        workflow's earlier active ones superseded."""
        cur.execute(self.db.sql("UPDATE deployments SET status = 'superseded' "
                                "WHERE workflow_id = ? AND status = 'active'"),
                    (deployment.workflow_id,))
        cur.execute(self.db.sql("UPDATE deployments SET status = 'active', stage = 'COMPLETED', "
                                "finished_at = ? WHERE id = ?"), (time.time(), deployment.id))

    def take_down(self, cur: Any, workflow_id: str) -> None:
        cur.execute(self.db.sql("UPDATE deployments SET status = 'taken_down' "
                                "WHERE workflow_id = ? AND status = 'active'"), (workflow_id,))

    def interrupted(self, silent_since: float) -> int:
        """Marks deployments still in progress whose node has given no sign
        of life since a time as failed: it stopped or crashed mid-way."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "UPDATE deployments SET status = 'failed', error = 'interrupted: the server "
                "stopped during the deploy; deploy again', finished_at = ? "
                "WHERE status = 'in_progress' AND COALESCE(alive_at, created_at) < ?"),
                (time.time(), silent_since))
            return int(cur.rowcount)

    def get(self, account: str, deployment_id: str) -> Deployment | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM deployments WHERE account = ? AND id = ?",
                               (account, deployment_id))
        return _deployment(row) if row else None

    def active(self, account: str, workflow_id: str) -> Deployment | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM deployments WHERE account = ? AND "
                               "workflow_id = ? AND status = 'active'", (account, workflow_id))
        return _deployment(row) if row else None

    def page(self, account: str, *, workflow_id: str | None, project_id: str | None,
             after: tuple[float, str] | None, limit: int) -> tuple[list[Deployment], bool]:
        """Newest first: one workflow's, one project's, or the account's."""
        columns = ", ".join(f"d.{c}" for c in _COLUMNS.split(", "))
        rows, more = keyset_page(
            self.db, f"SELECT {columns} FROM deployments d JOIN platform_workflows w "
            "ON w.id = d.workflow_id", [("d.account", account), ("d.workflow_id", workflow_id),
                                        ("w.project_id", project_id)],
            after, limit, key="d.", newest_first=True)
        return [_deployment(r) for r in rows], more


def _deployment(row: Any) -> Deployment:
    return Deployment(id=row[0], account=row[1], workflow_id=row[2], version_id=row[3],
                      connection_id=row[4], status=row[5], stage=row[6], error=row[7],
                      created_at=float(row[8]),
                      finished_at=float(row[9]) if row[9] is not None else None)


# -- the pipeline ---------------------------------------------------------------------


@dataclass
class Deployer:
    """Runs deployments stage by stage (`run`) and takes workflows down."""

    db: Database
    engine: Engine
    definitions: Definitions
    workflows: PlatformWorkflowStore
    versions: VersionStore
    deployments: DeploymentStore
    account_vars: Callable[[str], list[AccountVar]]
    verify: Callable[[Connection], str | None]  # None when the credentials work

    def run(self, workflow: PlatformWorkflow, version: Version, connection: Connection | None,
            report: Callable[[Progress], None] = lambda _: None) -> Deployment:
        """Deploys, calling `report` as each stage starts or completes; the
        deployment as recorded, or DeployFailed (recorded too). Nothing here
        waits on whoever reads the reports, so a stream's reader going away
        cannot leave a deploy half done."""
        deployment = self.deployments.start(workflow.account, workflow.id, version.id,
                                            connection.id if connection else None)
        with _heartbeat(lambda: self.deployments.alive(deployment.id)):
            return self._run(workflow, version, connection, deployment, report)

    def _run(self, workflow: PlatformWorkflow, version: Version, connection: Connection | None,
             deployment: Deployment, report: Callable[[Progress], None]) -> Deployment:
        stage = STAGES[0]
        ctx = _Context(workflow, version, connection, deployment)
        try:
            report(Progress(stage, {"deploymentId": deployment.id, "versionId": version.id}))
            carried: dict[str, Any] = {}
            # (stage as a step starts, the step, the stage once it is done)
            for stage, step, done in (("GENERATING_CODE", self._code, "CODE_READY"),
                                      ("DETECTING_BINDINGS", self._bindings, "BINDINGS_READY"),
                                      ("CREATING_WORKER", self._worker, None),
                                      ("DEPLOYING", self._deploy, "WORKER_DEPLOYED"),
                                      ("UPDATING_WORKFLOW", self._activate, "COMPLETED")):
                self.deployments.stage(deployment.id, stage)
                report(Progress(stage, carried))
                carried = step(ctx)
                if done is not None:
                    report(Progress(done, carried))
                    carried = {}
        except DeployFailed as exc:
            self.deployments.fail(deployment.id, exc.stage, exc.message)
            exc.deployment_id = deployment.id
            raise
        except Exception as exc:  # a bug or a storage failure: recorded, then raised
            log.exception("deployment %s failed at %s", deployment.id, stage)
            self.deployments.fail(deployment.id, stage, "internal error")
            failed = DeployFailed(stage, "internal error; the server log has the details")
            failed.deployment_id = deployment.id
            raise failed from exc
        found = self.deployments.get(workflow.account, deployment.id)
        assert found is not None
        return found

    def _code(self, ctx: _Context) -> dict[str, Any]:
        try:
            artifact = Artifact.from_bytes(self.versions.artifact(ctx.version))
            artifact.verify(self.engine)
        except ArtifactError:
            artifact = compile_version(self.engine, ctx.workflow.kind, ctx.version.source,
                                       ctx.version.language)
        ctx.artifact = artifact
        return {"kind": artifact.kind, "export": artifact.export}

    def _bindings(self, ctx: _Context) -> dict[str, Any]:
        ctx.env = effective_env(self.account_vars(ctx.workflow.account), ctx.workflow,
                                ctx.connection.id if ctx.connection else None)
        check_env(ctx.env, ctx.version.source)
        if ctx.connection is not None:
            problem = self.verify(ctx.connection)
            if problem is not None:
                raise DeployFailed("DETECTING_BINDINGS", f"connection {ctx.connection.id!r}: "
                                   f"{problem}")
        return {"bindings": bindings_used(ctx.version.source),
                "env": sorted([*ctx.env.vars, *ctx.env.secrets])}

    def _worker(self, ctx: _Context) -> dict[str, Any]:
        assert ctx.artifact is not None and ctx.env is not None
        self.definitions.put_script(ctx.workflow.account, ctx.workflow.id,
                                    ctx.version.filename, ctx.version.source, ctx.artifact,
                                    ctx.env)
        return {"script": ctx.workflow.id}

    def _deploy(self, ctx: _Context) -> dict[str, Any]:
        assert ctx.artifact is not None
        if ctx.workflow.kind == "script":
            return {"url": f"/functions/{ctx.workflow.id}"}
        current = self.definitions.workflow(ctx.workflow.account, ctx.workflow.id)
        entry = ctx.artifact.export if ctx.artifact.kind == "workflow" else "default"
        self.definitions.put_workflow(
            ctx.workflow.account, ctx.workflow.id, ctx.workflow.id, entry,
            current.settings if current else Settings(), workflow_id=ctx.workflow.id,
            version_id=ctx.version.id)
        return {"workflow": ctx.workflow.id, "className": entry}

    def _activate(self, ctx: _Context) -> dict[str, Any]:
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("UPDATE platform_workflows SET active_version_id = ? "
                                    "WHERE id = ?"), (ctx.version.id, ctx.workflow.id))
            self.deployments.activate(cur, ctx.deployment)
        return {"deploymentId": ctx.deployment.id, "versionId": ctx.version.id}

    def take_down(self, workflow: PlatformWorkflow) -> None:
        """The workflow is no longer live: its script and Cloudflare workflow
        go (its runs stay, for the record), its active version is cleared."""
        self.definitions.delete_workflow(workflow.account, workflow.id)
        self.definitions.delete_script(workflow.account, workflow.id)
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("UPDATE platform_workflows SET active_version_id = NULL "
                                    "WHERE id = ?"), (workflow.id,))
            self.deployments.take_down(cur, workflow.id)


@dataclass
class _Context:
    workflow: PlatformWorkflow
    version: Version
    connection: Connection | None
    deployment: Deployment
    artifact: Artifact | None = None
    env: ScriptEnv | None = None
