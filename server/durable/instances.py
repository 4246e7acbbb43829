"""Durable instances in the database: creation, the claim and finish of
an activation (under a lease, fenced by an owner token), status actions,
events sent to an instance, and what is due to run.

The journal of each instance lives in `instance_steps` (journal.py writes
it during an activation); events wait in `instance_events` until a
`waitForEvent` takes them, oldest first.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bindings.journal import StepRecord
from bindings.step import Activation

from ..db import Database
from ..errors import Conflict, InvalidTransition
from .journal import read_steps
from .transitions import (
    ACTIVE,
    FINISHED,
    STATUSES,
    after_action,
    after_activation,
    reported_status,
)

COLUMNS = ("id, account, workflow_id, name, status, params, trigger, version_id, created_at, "
            "started_at, ended_at, modified_at, wake_at, output, error, activations, "
            "success_retention, error_retention")
DEFAULT_RETENTION = 30 * 86_400.0


@dataclass(frozen=True)
class Instance:
    id: str  # internal key
    account: str
    workflow_id: str
    name: str  # the instance id users see
    status: str
    params: Any
    trigger: str
    version_id: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    modified_at: float
    wake_at: float | None
    output: Any
    error: dict[str, Any] | None
    activations: int
    success_retention: float | None = None
    error_retention: float | None = None


@dataclass(frozen=True)
class NewInstance:
    name: str
    params: Any
    success_retention: float | None = None  # seconds
    error_retention: float | None = None


@dataclass(frozen=True)
class Claim:
    """An activation's hold on an instance: `owner` fences its writes."""

    instance: Instance
    owner: str


@dataclass(frozen=True)
class Finished:
    """An activation's outcome, recorded: when the instance wakes next
    (None unless it is waiting)."""

    wake_at: float | None


def new_instance_name() -> str:
    return str(uuid.uuid4())


class InstanceStore:
    """Instances of durable workflows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the API side ------------------------------------------------------------

    def create(self, account: str, workflow_id: str, version_id: str,
               new: Sequence[NewInstance], trigger: str, *, skip_existing: bool) -> list[Instance]:
        """Inserts queued instances; a name already in use is a Conflict, or
        with `skip_existing` left out of the answer."""
        with self.db.transaction() as cur:
            return self.insert(cur, account, workflow_id, version_id, new, trigger,
                               skip_existing=skip_existing)

    def insert(self, cur: Any, account: str, workflow_id: str, version_id: str,
               new: Sequence[NewInstance], trigger: str, *,
               skip_existing: bool) -> list[Instance]:
        """`create` inside the caller's transaction (an accepted event writes
        its runs and its instances together)."""
        now = time.time()
        created = []
        for item in new:
            row = (f"ins_{secrets.token_hex(10)}", account, workflow_id, item.name, "queued",
                   json.dumps(item.params), trigger, version_id, now, None, None, now,
                   None, None, None, 0, item.success_retention, item.error_retention)
            # DO NOTHING: two requests creating the same id at once get one
            # instance and one conflict, never a duplicate-key error.
            cur.execute(self.db.sql(f"INSERT INTO instances ({COLUMNS}) VALUES "
                                    f"({', '.join('?' * len(row))}) "
                                    "ON CONFLICT (workflow_id, name) DO NOTHING"), row)
            if not cur.rowcount:
                if skip_existing:
                    continue
                raise Conflict(f"an instance with id {item.name!r} already exists",
                               "instance_id")
            created.append(instance_from_row(row))
        if created:
            self.db.announce(cur)
        return created

    def get(self, workflow_id: str, name: str) -> Instance | None:
        row = self.db.fetchone(f"SELECT {COLUMNS} FROM instances "
                               "WHERE workflow_id = ? AND name = ?", (workflow_id, name))
        return instance_from_row(row) if row else None

    def page(self, workflow_id: str, *, status: str | None, since: float | None,
             until: float | None, after: tuple[float, str] | None, ascending: bool,
             offset: int, limit: int) -> tuple[list[Instance], bool]:
        clauses: list[str] = ["workflow_id = ?"]
        params: list[Any] = [workflow_id]
        if status == "unknown":
            known = ", ".join(f"'{s}'" for s in STATUSES if s != "unknown")
            clauses.append(f"status NOT IN ({known})")
            status = None
        for column, op, value in (("status", "=", status), ("created_at", ">=", since),
                                  ("created_at", "<=", until)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if after is not None:
            op = ">" if ascending else "<"
            clauses.append(f"(created_at {op} ? OR (created_at = ? AND id {op} ?))")
            params += [after[0], after[0], after[1]]
        order = "ASC" if ascending else "DESC"
        rows = self.db.fetchall(
            f"SELECT {COLUMNS} FROM instances WHERE {' AND '.join(clauses)} "
            f"ORDER BY created_at {order}, id {order} LIMIT ? OFFSET ?",
            (*params, limit + 1, offset))
        return [instance_from_row(r) for r in rows[:limit]], len(rows) > limit

    def steps(self, instance_id: str) -> list[StepRecord]:
        return read_steps(self.db, instance_id)

    def count_by_status(self, workflow_id: str) -> dict[str, int]:
        rows = self.db.fetchall("SELECT status, COUNT(*) FROM instances WHERE workflow_id = ? "
                                "GROUP BY status", (workflow_id,))
        counts: dict[str, int] = {}
        for status, count in rows:
            known = reported_status(status)
            counts[known] = counts.get(known, 0) + int(count)
        return counts

    def act(self, instance: Instance, action: str, from_step: str | None = None) -> str:
        """Applies pause, resume, terminate or restart; returns the new
        status. Clearing the owner fences out a running activation."""
        now = time.time()
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("SELECT status FROM instances WHERE id = ?"), (instance.id,))
            row = cur.fetchone()
            if row is None:
                raise InvalidTransition("the instance was deleted")
            status = after_action(action, row[0])
            sets = ["status = ?", "modified_at = ?"]
            params: list[Any] = [status, now]
            if action == "terminate":
                sets += ["owner = NULL", "lease_expires = NULL", "ended_at = ?", "wake_at = NULL"]
                params.append(now)
            elif action == "restart":
                sets += ["owner = NULL", "lease_expires = NULL", "ended_at = NULL",
                         "started_at = NULL", "output = NULL", "error = NULL", "wake_at = NULL",
                         "expires_at = NULL"]
                self._cut_journal(cur, instance.id, from_step)
            elif action == "resume" and status == "queued":
                sets.append("wake_at = NULL")
            cur.execute(self.db.sql(f"UPDATE instances SET {', '.join(sets)} WHERE id = ?"),
                        (*params, instance.id))
            if status == "queued":
                self.db.announce(cur)
        return status

    def _cut_journal(self, cur: Any, instance_id: str, from_step: str | None) -> None:
        if from_step is None:
            cur.execute(self.db.sql("DELETE FROM instance_steps WHERE instance = ?"),
                        (instance_id,))
            return
        cur.execute(self.db.sql("SELECT seq FROM instance_steps WHERE instance = ? AND key = ?"),
                    (instance_id, from_step))
        row = cur.fetchone()
        if row is None:
            kind, _, rest = from_step.partition(":")
            name, _, count = rest.rpartition("#")
            raise InvalidTransition(f"the instance has no step {name!r} (type {kind}, "
                                    f"occurrence {count}) to restart from")
        cur.execute(self.db.sql("DELETE FROM instance_steps WHERE instance = ? AND seq >= ?"),
                    (instance_id, row[0]))

    def send_event(self, instance: Instance, event_type: str, payload: Any) -> float:
        """Buffers an event for the instance's waits and wakes it if it is
        waiting; returns the event's time."""
        now = time.time()
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("SELECT status FROM instances WHERE id = ?"), (instance.id,))
            row = cur.fetchone()
            if row is None or row[0] in FINISHED:
                raise InvalidTransition(f"the instance is {row[0] if row else 'deleted'}: "
                                        "it takes no more events")
            cur.execute(self.db.sql("SELECT COALESCE(MAX(seq), 0) + 1 FROM instance_events "
                                    "WHERE instance = ?"), (instance.id,))
            seq = int(cur.fetchone()[0])
            cur.execute(self.db.sql("INSERT INTO instance_events (instance, seq, type, payload, "
                                    "created_at) VALUES (?, ?, ?, ?, ?)"),
                        (instance.id, seq, event_type, json.dumps(payload), now))
            # A running activation gets the mark too: it may be about to
            # suspend for this very event (see `finish`).
            cur.execute(self.db.sql("UPDATE instances SET wake_at = ?, modified_at = ? "
                                    "WHERE id = ? AND status IN ('waiting', 'running')"),
                        (now, now, instance.id))
            self.db.announce(cur)
        return now

    def delete_workflow(self, workflow_id: str) -> None:
        self._delete("workflow_id = ?", (workflow_id,))

    def delete(self, instance_ids: Sequence[str]) -> None:
        """Deletes instances with their journals and events; an activation
        still running is fenced out (its owner row is gone)."""
        for item in instance_ids:
            self._delete("id = ?", (item,))

    def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        with self.db.transaction() as cur:
            for table in ("instance_steps", "instance_events"):
                cur.execute(self.db.sql(f"DELETE FROM {table} WHERE instance IN "
                                        f"(SELECT id FROM instances WHERE {where})"), params)
            cur.execute(self.db.sql(f"DELETE FROM instances WHERE {where}"), params)
            return int(cur.rowcount)

    # -- the worker side ------------------------------------------------------------

    def workflow_of(self, instance_id: str) -> str | None:
        row = self.db.fetchone("SELECT workflow_id FROM instances WHERE id = ?", (instance_id,))
        return row[0] if row else None

    def claim(self, instance_id: str, node: str, lease: float,
              concurrency: int | None) -> Claim | None:
        """Takes an instance that is queued, or waiting and due, for one
        activation; None when it is not ready, or its workflow already has
        `concurrency` activations running."""
        now = time.time()
        owner = f"{node}:{secrets.token_hex(6)}"
        with self.db.transaction() as cur:
            if concurrency is not None:
                # Claims of the same workflow count one after another, on
                # every node, so that the limit holds.
                cur.execute(self.db.sql(
                    "SELECT id FROM durable_workflows WHERE id = "
                    f"(SELECT workflow_id FROM instances WHERE id = ?){self.db.for_update}"),
                    (instance_id,))
                cur.execute(self.db.sql(
                    "SELECT COUNT(*) FROM instances WHERE status IN ('running', 'waitingForPause') "
                    "AND workflow_id = (SELECT workflow_id FROM instances WHERE id = ?)"),
                    (instance_id,))
                if int(cur.fetchone()[0]) >= concurrency:
                    return None
            cur.execute(self.db.sql(
                f"UPDATE instances SET status = 'running', owner = ?, "
                f"lease_expires = {self.db.now} + ?, "
                "wake_at = NULL, started_at = COALESCE(started_at, ?), modified_at = ?, "
                "activations = activations + 1 WHERE id = ? AND (status = 'queued' OR "
                "(status = 'waiting' AND wake_at <= ?))"),
                (owner, lease, now, now, instance_id, now))
            if not cur.rowcount:
                return None
            cur.execute(self.db.sql(f"SELECT {COLUMNS} FROM instances WHERE id = ?"),
                        (instance_id,))
            return Claim(instance_from_row(cur.fetchone()), owner)

    def finish(self, claim: Claim, outcome: Activation) -> Finished | None:
        """Records how an activation ended; None when its owner was fenced
        out (terminated, restarted, or its lease lapsed and was taken). An
        instance that suspends after an event arrived during the activation
        is due at once, so that a wait for that event sees it."""
        now = time.time()
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("SELECT status, success_retention, error_retention, wake_at "
                                    "FROM instances WHERE id = ? AND owner = ?"),
                        (claim.instance.id, claim.owner))
            row = cur.fetchone()
            if row is None or row[0] not in ACTIVE:
                return None
            status = after_activation(outcome.status, row[0])
            finished = status in FINISHED
            retention = row[1] if status == "complete" else row[2]
            wake_at = outcome.wake_at
            if status == "waiting" and row[3] is not None:  # set by send_event
                wake_at = min(float(row[3]), wake_at if wake_at is not None else now)
            cur.execute(self.db.sql(
                "UPDATE instances SET status = ?, owner = NULL, lease_expires = NULL, "
                "modified_at = ?, wake_at = ?, output = ?, error = ?, ended_at = ?, "
                "expires_at = ? WHERE id = ?"),
                (status, now, wake_at,
                 json.dumps(outcome.output) if finished else None,
                 json.dumps(outcome.error) if outcome.error is not None else None,
                 now if finished else None,
                 now + (retention or DEFAULT_RETENTION) if finished else None,
                 claim.instance.id))
        return Finished(wake_at if status == "waiting" else None)

    def ready(self, horizon: float, limit: int) -> list[tuple[str, str, float]]:
        """(id, account, when) of queued instances and of waiting ones due
        before `horizon`, soonest first."""
        rows = self.db.fetchall(
            "SELECT id, account, COALESCE(wake_at, 0) AS t FROM instances "
            "WHERE status = 'queued' OR (status = 'waiting' AND wake_at <= ?) "
            "ORDER BY t LIMIT ?", (horizon, limit))
        return [(r[0], r[1], float(r[2])) for r in rows]

    def recover(self, *, only_lapsed: bool = False) -> int:
        """Activations a crash interrupted go back to queued (a pause that
        was pending becomes paused): all of them (a single node that
        restarted) or those whose lease lapsed by the database's clock."""
        where = "status IN ('running', 'waitingForPause')"
        if only_lapsed:
            where += f" AND lease_expires < {self.db.now}"
        with self.db.transaction() as cur:
            cur.execute(self.db.sql(
                "UPDATE instances SET status = CASE status WHEN 'running' THEN 'queued' "
                f"ELSE 'paused' END, owner = NULL, lease_expires = NULL WHERE {where}"))
            return int(cur.rowcount)

    def renew(self, owners: Sequence[str], lease: float) -> int:
        """Extends the leases of the activations these claims hold."""
        if not owners:
            return 0
        marks = ", ".join("?" * len(owners))
        with self.db.transaction(durable=False) as cur:
            cur.execute(self.db.sql(
                f"UPDATE instances SET lease_expires = {self.db.now} + ? "
                f"WHERE owner IN ({marks})"), (lease, *owners))
            return int(cur.rowcount)

    def expire(self, now: float) -> int:
        """Deletes finished instances past their retention."""
        return self._delete("expires_at < ?", (now,))


def instance_from_row(row: Any) -> Instance:
    def f(v: Any) -> float | None:
        return float(v) if v is not None else None

    return Instance(id=row[0], account=row[1], workflow_id=row[2], name=row[3],
                    status=reported_status(row[4]),
                    params=json.loads(row[5]), trigger=row[6], version_id=row[7],
                    created_at=float(row[8]), started_at=f(row[9]), ended_at=f(row[10]),
                    modified_at=float(row[11]), wake_at=f(row[12]),
                    output=json.loads(row[13]) if row[13] is not None else None,
                    error=json.loads(row[14]) if row[14] is not None else None,
                    activations=int(row[15]), success_retention=f(row[16]),
                    error_retention=f(row[17]))
