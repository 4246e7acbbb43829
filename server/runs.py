"""Runs: one execution of one workflow for one accepted event, and the
state machine that makes accepted work survive a crash.

    queued ──claim──▶ running ──finish──▶ complete | errored
     │ ▲                 │                               │
     │ └──── requeue ────┘   (the worker died: its lease  │
     │                        lapsed, or the node restarted)
     │ ▲─────────────────── retry ───────────────────────┘
     └──cancel──▶ cancelled            (delete: any finished run)

A claim takes a lease for one worker; `finish` is accepted only from the
lease's holder while the run is still running, so a run is recorded as
finished once, whatever happened to earlier attempts.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from bindings import iso_time

from .db import Database

STATUSES = ("queued", "running", "complete", "errored", "cancelled")
FINISHED = ("complete", "errored")  # what a worker may record
ENDED = (*FINISHED, "cancelled")  # what may be deleted
_COLUMNS = ("id, account, workflow_id, event_id, status, attempts, created_at, started_at, "
            "finished_at, output, error")


def new_run_id() -> str:
    return f"run_{secrets.token_hex(10)}"


@dataclass(frozen=True)
class Run:
    id: str
    account: str
    workflow_id: str
    event_id: str
    status: str
    attempts: int
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    logs: list[dict[str, Any]] | None = None

    def to_wire(self, with_logs: bool = False) -> dict[str, Any]:
        duration = (round((self.finished_at - self.started_at) * 1000, 3)
                    if self.finished_at is not None and self.started_at is not None else None)
        wire = {"id": self.id, "organization_id": self.account,
                "workflow_id": self.workflow_id, "event_id": self.event_id,
                "status": self.status, "attempts": self.attempts,
                "created_at": iso_time(self.created_at),
                "started_at": _iso(self.started_at), "finished_at": _iso(self.finished_at),
                "duration_ms": duration, "output": self.output, "error": self.error}
        if with_logs:
            wire["logs"] = [{**entry, "time": iso_time(entry["time"])}
                            for entry in self.logs or []]
        return wire


@dataclass(frozen=True)
class Claim:
    """What a worker needs to execute a run it holds."""

    run_id: str
    account: str
    workflow_id: str
    event: dict[str, Any]
    attempt: int
    workflow_version: float | None  # the workflow's updated_at; None once deleted


@dataclass(frozen=True)
class RunFilter:
    workflow_id: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None


def _iso(t: float | None) -> str | None:
    return iso_time(t) if t is not None else None


class RunStore:
    """Runs in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the worker side -----------------------------------------------------------

    def claim(self, run_id: str, owner: str, lease: float) -> Claim | None:
        """Takes a queued run for `owner` for `lease` seconds; None when it is
        not queued any more (another worker has it, or it finished). The
        claim need not survive a power loss: a run that seems queued after
        one runs again, which recovery does for a crashed worker anyway."""
        now = time.time()
        with self.db.transaction(durable=False) as cur:
            cur.execute(self.db.sql(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, started_at = ?, "
                f"lease_owner = ?, lease_expires = {self.db.now} + ? "
                "WHERE id = ? AND status = 'queued'"),
                (now, owner, lease, run_id))
            if not cur.rowcount:
                return None
            cur.execute(self.db.sql(
                "SELECT r.account, r.workflow_id, r.attempts, e.body, w.updated_at FROM runs r "
                "JOIN events e ON e.id = r.event_id "
                "LEFT JOIN workflows w ON w.id = r.workflow_id WHERE r.id = ?"), (run_id,))
            account, workflow_id, attempts, body, version = cur.fetchone()
        return Claim(run_id, account, workflow_id, json.loads(body), int(attempts),
                     None if version is None else float(version))

    def finish(self, run_id: str, owner: str, status: str, output: Any,
               error: dict[str, Any] | None, logs: list[dict[str, Any]]) -> bool:
        """Records the outcome; False when `owner` no longer holds the run."""
        assert status in FINISHED
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "UPDATE runs SET status = ?, finished_at = ?, output = ?, error = ?, logs = ?, "
                "lease_owner = NULL, lease_expires = NULL "
                "WHERE id = ? AND status = 'running' AND lease_owner = ?"),
                (status, time.time(), json.dumps(output),
                 json.dumps(error) if error is not None else None, json.dumps(logs),
                 run_id, owner))
            return bool(cur.rowcount)

    def requeue(self, *, only_lapsed: bool = False) -> int:
        """Puts running runs back in the queue: all of them (a single node
        that restarted), or those whose lease lapsed by the database's
        clock."""
        query = "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires = NULL " \
                "WHERE status = 'running'"
        if only_lapsed:
            query += f" AND lease_expires < {self.db.now}"
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(query))
            return int(cur.rowcount)

    def renew(self, owner: str, lease: float) -> int:
        """Extends the leases of the runs `owner` is executing."""
        with self.db.transaction(durable=False) as cur:
            cur.execute(self.db.sql(
                f"UPDATE runs SET lease_expires = {self.db.now} + ? "
                "WHERE lease_owner = ? AND status = 'running'"), (lease, owner))
            return int(cur.rowcount)

    def queued(self, limit: int) -> list[tuple[str, str]]:
        """(run id, account) of the oldest queued runs."""
        rows = self.db.fetchall("SELECT id, account FROM runs WHERE status = 'queued' "
                                "ORDER BY created_at, id LIMIT ?", (limit,))
        return [(r[0], r[1]) for r in rows]

    # -- the API side ----------------------------------------------------------------

    def retry(self, account: str, run_id: str) -> bool:
        """Queues an errored run again (its event, the workflow's code as it
        is now); False unless it is errored."""
        return self._change(account, run_id, "errored",
                            "status = 'queued', started_at = NULL, finished_at = NULL, "
                            "output = NULL, error = NULL, logs = NULL", announce=True)

    def cancel(self, account: str, run_id: str) -> bool:
        """Cancels a run that has not started; False unless it is queued."""
        return self._change(account, run_id, "queued",
                            "status = 'cancelled', finished_at = ?", (time.time(),))

    def delete(self, account: str, run_id: str) -> bool:
        """Deletes a run that has ended; False unless it has."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "DELETE FROM runs WHERE account = ? AND id = ? AND status IN (?, ?, ?)"),
                (account, run_id, *ENDED))
            return bool(cur.rowcount)

    def _change(self, account: str, run_id: str, status: str, assignments: str,
                values: tuple[Any, ...] = (), *, announce: bool = False) -> bool:
        """Applies `assignments` to a run in `status`; `announce` when the
        change queues it (other nodes pick it up at once)."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                f"UPDATE runs SET {assignments} WHERE account = ? AND id = ? AND status = ?"),
                (*values, account, run_id, status))
            changed = bool(cur.rowcount)
            if changed and announce:
                self.db.announce(cur)
            return changed

    def get(self, account: str, run_id: str) -> Run | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS}, logs FROM runs WHERE account = ? AND id = ?",
                               (account, run_id))
        return _run(row, with_logs=True) if row else None

    def page(self, account: str, where: RunFilter, after: tuple[float, str] | None,
             limit: int) -> tuple[list[Run], bool]:
        """Newest first; a page after the `after` position and whether more follow."""
        clauses: list[str] = ["account = ?"]
        params: list[Any] = [account]
        for column, op, value in (("workflow_id", "=", where.workflow_id),
                                  ("status", "=", where.status),
                                  ("created_at", ">=", where.since),
                                  ("created_at", "<", where.until)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if after is not None:
            clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        rows = self.db.fetchall(
            f"SELECT {_COLUMNS} FROM runs WHERE {' AND '.join(clauses)} "
            "ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit + 1))
        return [_run(r) for r in rows[:limit]], len(rows) > limit


def _run(row: Any, with_logs: bool = False) -> Run:
    return Run(id=row[0], account=row[1], workflow_id=row[2], event_id=row[3], status=row[4],
               attempts=int(row[5]), created_at=float(row[6]),
               started_at=float(row[7]) if row[7] is not None else None,
               finished_at=float(row[8]) if row[8] is not None else None,
               output=json.loads(row[9]) if row[9] is not None else None,
               error=json.loads(row[10]) if row[10] is not None else None,
               logs=json.loads(row[11]) if with_logs and row[11] is not None else None)
