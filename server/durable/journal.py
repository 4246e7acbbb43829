"""The step journal of one activation in the database (bindings.journal's
Journal): every write commits durably before the code sees its effect, and
only while the activation still owns the instance, so an activation that
was terminated, restarted or outlived its lease cannot record anything."""

from __future__ import annotations

import json
import time
from typing import Any

from bindings.errors import BindingError
from bindings.journal import StepRecord, received

from ..db import Database


def read_steps(db: Database, instance_id: str) -> list[StepRecord]:
    """An instance's step records, in the order the code first reached them."""
    rows = db.fetchall("SELECT record FROM instance_steps WHERE instance = ? ORDER BY seq",
                       (instance_id,))
    return [StepRecord.from_dict(json.loads(r[0])) for r in rows]


class LeaseLost(BindingError):
    """The activation no longer owns its instance; nothing it does counts."""

    def __init__(self) -> None:
        super().__init__("this activation no longer owns the instance (terminated, restarted "
                         "or taken over); its steps are not recorded")


class SqlJournal:
    """Journal of instance `instance_id`, written as `owner`."""

    def __init__(self, db: Database, instance_id: str, owner: str) -> None:
        self.db = db
        self.instance_id = instance_id
        self.owner = owner
        self._fence = db.sql("SELECT 1 FROM instances WHERE id = ? AND owner = ?")
        self._upsert = db.sql(
            "INSERT INTO instance_steps (instance, key, seq, record) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (instance, key) DO UPDATE SET record = excluded.record")

    def load(self) -> dict[str, StepRecord]:
        return {r.key: r for r in read_steps(self.db, self.instance_id)}

    def save(self, record: StepRecord) -> None:
        with self.db.transaction() as cur:
            self._check(cur)
            self._write(cur, record)

    def take_event(self, record: StepRecord, event_type: str) -> StepRecord | None:
        with self.db.transaction() as cur:
            self._check(cur)
            cur.execute(self.db.sql(
                "SELECT seq, payload, created_at FROM instance_events "
                "WHERE instance = ? AND type = ? ORDER BY seq LIMIT 1"),
                (self.instance_id, event_type))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(self.db.sql("DELETE FROM instance_events WHERE instance = ? AND seq = ?"),
                        (self.instance_id, row[0]))
            event: dict[str, Any] = {"type": event_type, "payload": json.loads(row[1]),
                                     "timestamp": float(row[2])}
            taken = received(record, event, time.time())
            self._write(cur, taken)
            return taken

    def _check(self, cur: Any) -> None:
        cur.execute(self._fence, (self.instance_id, self.owner))
        if cur.fetchone() is None:
            raise LeaseLost()

    def _write(self, cur: Any, record: StepRecord) -> None:
        cur.execute(self._upsert, (self.instance_id, record.key, record.seq,
                                   json.dumps(record.to_dict(), separators=(",", ":"))))
