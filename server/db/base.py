"""The database shared by every storage class: connections (one per
thread), transactions and versioned migrations. SQL is written once with
`?` placeholders and `{blob}`-style type names; a dialect supplies both."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar

from .migrations import MIGRATIONS


class Database:
    """Base of SQLiteDatabase and PostgresDatabase."""

    placeholder = "?"
    types: ClassVar[dict[str, str]] = {}
    # What the driver raises when a constraint (like a unique key) is violated.
    integrity_errors: tuple[type[Exception], ...] = ()
    # What it raises when the connection is lost (a read may then be retried).
    connection_errors: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self._local = threading.local()
        # Taken around write transactions when the dialect wants writers
        # queued in-process rather than retrying on a lock (see sqlite.py).
        self.write_lock: AbstractContextManager[Any] = nullcontext()
        # Appended to a SELECT that must lock the rows it reads until the
        # transaction ends (SQLite's writers are one at a time already).
        self.for_update = ""
        # The database's own clock, in epoch seconds, as SQL: leases are set
        # and judged by it, so that nodes whose clocks disagree agree on them.
        self.now = "((julianday('now') - 2440587.5) * 86400.0)"

    # -- what a dialect provides ---------------------------------------------

    def connect(self) -> Any:
        """A new DB-API connection."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------

    def sql(self, text: str) -> str:
        """A query in this dialect."""
        text = text.format(**self.types)
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        """A connection for one transaction: this thread's own (SQLite); a
        dialect with a pool lends one of it."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.connect()
        yield conn

    def relax(self, conn: Any, cur: Any, durable: bool) -> None:
        """Before a transaction: whether its commit must reach the disk
        before returning (see `transaction`)."""

    @contextmanager
    def transaction(self, *, durable: bool = True, write: bool = True) -> Iterator[Any]:
        """A cursor inside one transaction: committed on success, rolled back
        on any exception. With durable=False the commit survives a crash of
        the process but may be lost with the machine's power; the next
        durable commit makes it durable too (commits stay in order).
        `write=False` promises the transaction only reads."""
        with self.borrow() as conn, self.write_lock if write else nullcontext():
            cur = conn.cursor()
            try:
                self.relax(conn, cur, durable)
                yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cur.close()

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        with self.transaction() as cur:
            cur.execute(self.sql(query), params)

    def fetchone(self, query: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a query that only reads (tried again once when
        the connection was lost: a read is safe to repeat)."""
        return self._read(query, params, lambda cur: cur.fetchone())

    def fetchall(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a query that only reads (tried again once when the
        connection was lost)."""
        rows: list[Any] = self._read(query, params, lambda cur: list(cur.fetchall()))
        return rows

    def _read(self, query: str, params: Sequence[Any], take: Any) -> Any:
        for attempt in (1, 2):
            try:
                with self.transaction(write=False) as cur:
                    cur.execute(self.sql(query), params)
                    return take(cur)
            except self.connection_errors:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def ping(self) -> None:
        """Raises when the database cannot be reached (for /health)."""
        self.fetchone("SELECT 1")

    def migrate(self) -> int:
        """Applies the migrations not applied yet; returns the schema version."""
        with self.transaction() as cur:
            self.lock_schema(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT MAX(version) FROM schema_version")
            current = cur.fetchone()[0] or 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for statement in statements:
                    cur.execute(self.sql(statement))
                cur.execute(self.sql("INSERT INTO schema_version (version) VALUES (?)"),
                            (version,))
                current = version
        return current

    def announce(self, cur: Any) -> None:
        """Inside a transaction that queued work: tell the other nodes when
        it commits (server/wakeups.py). One node needs no telling."""

    def lock_schema(self, cur: Any) -> None:
        """Held until the migration's transaction ends, so that nodes
        starting together migrate one after another."""

    def release(self) -> None:
        """This thread is done with the database: its own connection is
        closed (a pool's connections stay with the pool)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        """Closes what this Database holds: this thread's connection, or
        the pool."""
        self.release()
