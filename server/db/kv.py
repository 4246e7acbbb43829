"""KV stores in the database: the bindings' KVSource, plus the writes the
operator API makes."""

from __future__ import annotations

import json
import time

from bindings import KVEntry
from bindings.storage import KVPage

from .base import Database


class SqlKV:
    """KVSource over a Database; every query names its account."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, account: str, store: str, entry: KVEntry) -> None:
        self.put_many(account, store, [entry])

    def put_many(self, account: str, store: str, entries: list[KVEntry]) -> None:
        """Writes every entry or none (one transaction)."""
        with self.db.transaction() as cur:
            for entry in entries:
                cur.execute(self.db.sql(
                    """INSERT INTO kv (account, store, key, value, metadata, expiration)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (account, store, key) DO UPDATE SET value = excluded.value,
                         metadata = excluded.metadata, expiration = excluded.expiration"""),
                    (account, store, entry.key, entry.value,
                     None if entry.metadata is None else json.dumps(entry.metadata),
                     entry.expiration))

    def delete(self, account: str, store: str, key: str) -> None:
        self.db.execute("DELETE FROM kv WHERE account = ? AND store = ? AND key = ?",
                        (account, store, key))

    def kv_get(self, account: str, store: str, key: str) -> KVEntry | None:
        row = self.db.fetchone(
            """SELECT key, value, metadata, expiration FROM kv
               WHERE account = ? AND store = ? AND key = ?
                 AND (expiration IS NULL OR expiration > ?)""",
            (account, store, key, int(time.time())))
        return _entry(row) if row else None

    def kv_list(self, account: str, store: str, prefix: str, after: str | None,
                limit: int) -> KVPage:
        # The range uses the primary key; substr keeps exactly the prefix.
        rows = self.db.fetchall(
            """SELECT key, value, metadata, expiration FROM kv
               WHERE account = ? AND store = ? AND key >= ? AND key > ?
                 AND substr(key, 1, ?) = ? AND (expiration IS NULL OR expiration > ?)
               ORDER BY key LIMIT ?""",
            (account, store, prefix, after or "", len(prefix), prefix, int(time.time()),
             limit + 1))
        entries = [_entry(r, with_value=False) for r in rows[:limit]]
        return KVPage(entries, more=len(rows) > limit)

    def stores(self, account: str) -> list[str]:
        """The names of the account's stores that hold a live key, in order."""
        rows = self.db.fetchall(
            """SELECT DISTINCT store FROM kv WHERE account = ?
                 AND (expiration IS NULL OR expiration > ?) ORDER BY store""",
            (account, int(time.time())))
        return [str(r[0]) for r in rows]


def _entry(row: tuple[object, ...], with_value: bool = True) -> KVEntry:
    key, value, metadata, expiration = row
    return KVEntry(key=str(key), value=bytes(value) if with_value else b"",  # type: ignore[call-overload]
                   metadata=None if metadata is None else json.loads(str(metadata)),
                   expiration=None if expiration is None else int(expiration))  # type: ignore[call-overload]
