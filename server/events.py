"""Accepting platform events: the event, one queued run per matching
workflow and one queued instance per durable workflow the event type
starts are written in one transaction, so an event answered 202 is on
disk with all the work it started, or not at all."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bindings import for_sandbox

from .db import Database
from .durable.definitions import DurableWorkflow
from .durable.instances import InstanceStore, NewInstance
from .errors import Conflict, InvalidRequest
from .runs import new_run_id
from .workflows import Workflow

MAX_IDEMPOTENCY_KEY_CHARS = 255


@dataclass(frozen=True)
class Accepted:
    """The answer to an accepted event, and the runs it queued (empty when
    it repeats an earlier request)."""

    answer: dict[str, Any]
    queued: list[tuple[str, str]]
    repeated: bool = False


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_IDEMPOTENCY_KEY_CHARS or not value.isprintable():
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} "
                             "printable characters", "Idempotency-Key")
    return value


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class EventLog:
    """Accepted events and their idempotency keys."""

    def __init__(self, db: Database, instances: InstanceStore) -> None:
        self.db = db
        self.instances = instances

    def previous(self, account: str, key: str, request: str) -> Accepted | None:
        """The first answer to a request with this Idempotency-Key, if any;
        Conflict when the key was used for a different request."""
        row = self.db.fetchone("SELECT answer FROM events WHERE account = ? "
                               "AND idempotency_key = ?", (account, key))
        if row is None:
            return None
        stored = json.loads(row[0])
        if stored["request"] != request:
            raise Conflict("this Idempotency-Key was already used with a different request",
                           "Idempotency-Key")
        return Accepted(stored["data"], [], repeated=True)

    def accept(self, account: str, event: dict[str, Any], workflows: list[Workflow],
               key: str | None, request: str,
               durable: list[DurableWorkflow] | None = None) -> Accepted:
        """Stores the event and queues one run per workflow and one instance
        per durable workflow (named `event-<event id>`, the event as params)."""
        runs = [(new_run_id(), wf.id) for wf in workflows]
        visible = for_sandbox(event)
        new = [NewInstance(f"event-{event['id']}", visible)]
        data: dict[str, Any] = {
            "event": visible,
            "runs": [{"id": rid, "workflow_id": wid, "status": "queued"} for rid, wid in runs]}
        if durable:
            data["instances"] = [{"id": new[0].name, "workflow": w.name, "status": "queued"}
                                 for w in durable]
        answer = json.dumps({"request": request, "data": data})
        queued = [(rid, account) for rid, _ in runs]
        try:
            with self.db.transaction() as cur:
                cur.execute(self.db.sql(
                    "INSERT INTO events (id, account, type, body, idempotency_key, answer, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                    (event["id"], account, event["type"], json.dumps(event), key, answer,
                     event["time"]))
                cur.executemany(self.db.sql(
                    "INSERT INTO runs (id, account, workflow_id, event_id, status, attempts, "
                    "created_at) VALUES (?, ?, ?, ?, 'queued', 0, ?)"),
                    [(rid, account, wid, event["id"], event["time"]) for rid, wid in runs])
                for workflow in durable or []:
                    queued += [(i.id, account) for i in self.instances.insert(
                        cur, account, workflow.id, workflow.version_id, new, "event",
                        skip_existing=True)]
                if runs:
                    self.db.announce(cur)
        except self.db.integrity_errors:
            # A concurrent request with the same key won the insert.
            previous = self.previous(account, key, request) if key is not None else None
            if previous is None:
                raise
            return previous
        return Accepted(data, queued)
