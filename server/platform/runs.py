"""Runs of platform workflows: the instances of the Cloudflare workflow a
deployment made, listed across an account's (or a project's) workflows,
and shaped as the platform API answers them."""

from __future__ import annotations

from typing import Any

from bindings import Env, iso_time
from bindings.journal import StepRecord

from ..db import Database
from ..db.paging import keyset_page
from ..durable import wire
from ..durable.instances import COLUMNS, Instance, instance_from_row
from ..durable.transitions import STATUSES
from ..errors import InvalidRequest


def status_filter(value: str | None) -> str | None:
    if value is not None and value not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", "status")
    return value


def to_wire(i: Instance) -> dict[str, Any]:
    return {"id": i.id, "instanceId": i.name, "workflowId": i.workflow_id,
            "versionId": i.version_id, "status": i.status, "trigger": i.trigger,
            "createdAt": iso_time(i.created_at),
            "startedAt": iso_time(i.started_at) if i.started_at else None,
            "endedAt": iso_time(i.ended_at) if i.ended_at else None}


def detail(i: Instance, steps: list[StepRecord], env: Env) -> dict[str, Any]:
    """A run with its params, output, error and steps (Cloudflare's step
    shapes), secrets masked."""
    cf = wire.detail(i, steps, env)
    return {**to_wire(i), "params": i.params,
            "output": cf["output"] if i.output is not None else None,
            "error": cf["error"], "steps": cf["steps"]}


class PlatformRuns:
    """Instances of platform workflows, newest first."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(self, account: str, *, workflow_id: str | None, project_id: str | None,
             status: str | None, after: tuple[float, str] | None,
             limit: int) -> tuple[list[Instance], bool]:
        columns = ", ".join(f"i.{c}" for c in COLUMNS.split(", "))
        rows, more = keyset_page(
            self.db, f"SELECT {columns} FROM instances i JOIN platform_workflows w "
            "ON w.id = i.workflow_id", [("w.account", account), ("w.id", workflow_id),
                                        ("w.project_id", project_id), ("i.status", status)],
            after, limit, key="i.", newest_first=True)
        return [instance_from_row(r) for r in rows], more

    def get(self, account: str, workflow_id: str, run_id: str) -> Instance | None:
        """A run by its id (`ins_…`) or its instance id."""
        row = self.db.fetchone(f"SELECT {COLUMNS} FROM instances WHERE account = ? AND "
                               "workflow_id = ? AND (id = ? OR name = ?)",
                               (account, workflow_id, run_id, run_id))
        return instance_from_row(row) if row else None
