"""PostgreSQL: many API and worker nodes sharing one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from .base import Database

CONNECT_TIMEOUT = 10  # seconds to reach the server when a node starts
PING_TIMEOUT = 2.0  # seconds /health waits for a connection
MIGRATION_LOCK = 0x466C6F77626F78  # "Flowbox": the advisory lock around migrations


class PostgresDatabase(Database):
    placeholder = "%s"
    # COLLATE "C": keys sort by code point whatever the database's locale.
    types: ClassVar[dict[str, str]] = {
        "blob": "BYTEA", "float": "DOUBLE PRECISION", "text_key": 'TEXT COLLATE "C"'}

    def __init__(self, dsn: str, *, pool_size: int = 10) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        super().__init__()
        self.dsn = dsn
        self.for_update = " FOR UPDATE"
        self.now = "EXTRACT(EPOCH FROM clock_timestamp())"
        self.integrity_errors = (psycopg.IntegrityError,)
        self.connection_errors = (psycopg.OperationalError,)
        # One connection first, so that an unreachable server is its own
        # error (refused, unknown host, bad password) at once.
        psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT).close()
        # Bounded (a node holds at most pool_size connections), idle ones
        # closed after a minute, and each checked as it is lent: one the
        # server dropped (a restart, pg_terminate_backend) is replaced
        # instead of failing the transaction that got it.
        self.pool = ConnectionPool(dsn, min_size=1, max_size=pool_size, max_idle=60.0,
                                   timeout=10.0, check=ConnectionPool.check_connection,
                                   name="flowbox", open=True)

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        conn = self.pool.getconn()
        try:
            yield conn
        finally:
            self.pool.putconn(conn)

    def ping(self) -> None:
        # A short wait for a connection: /health must answer quickly.
        with self.pool.connection(timeout=PING_TIMEOUT) as conn:
            conn.execute("SELECT 1")

    def release(self) -> None:
        pass  # connections belong to the pool, not to threads

    def close(self) -> None:
        self.pool.close()

    def announce(self, cur: Any) -> None:
        cur.execute("NOTIFY flowbox_work")

    def lock_schema(self, cur: Any) -> None:
        # Nodes starting together on an empty database would otherwise race
        # to create the same tables (UniqueViolation in pg_type).
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def relax(self, conn: Any, cur: Any, durable: bool) -> None:
        if not durable:
            cur.execute("SET LOCAL synchronous_commit = off")
