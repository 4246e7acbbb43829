"""SQLite: the embedded default, one file in WAL mode."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, ClassVar

from .base import Database


class SQLiteDatabase(Database):
    # SQLite's TEXT compares bytewise: UTF-8 byte order is code-point order.
    types: ClassVar[dict[str, str]] = {"blob": "BLOB", "float": "REAL", "text_key": "TEXT"}

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = str(path)
        # SQLite has one writer at a time, and a writer that finds the lock
        # taken sleeps for milliseconds before it retries: queue this
        # process's writers on a lock instead (other processes, like
        # `flowbox keys create`, still meet SQLite's busy timeout).
        self.write_lock = threading.Lock()
        self.integrity_errors = (sqlite3.IntegrityError,)

    def connect(self) -> Any:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=True)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def relax(self, conn: Any, cur: Any, durable: bool) -> None:
        # In WAL mode, NORMAL skips the fsync of this commit; the WAL keeps
        # order, so the next FULL commit syncs it along.
        wanted = 2 if durable else 1
        if getattr(self._local, "synchronous", 2) != wanted:
            conn.execute(f"PRAGMA synchronous={wanted}")
            self._local.synchronous = wanted
