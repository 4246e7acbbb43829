"""PostgreSQL: many API and worker nodes sharing one database."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Database

MIGRATION_LOCK = 0x466C6F77626F78  # "Flowbox": the advisory lock around migrations


class PostgresDatabase(Database):
    placeholder = "%s"
    # COLLATE "C": keys sort by code point whatever the database's locale.
    types: ClassVar[dict[str, str]] = {
        "blob": "BYTEA", "float": "DOUBLE PRECISION", "text_key": 'TEXT COLLATE "C"'}

    def __init__(self, dsn: str) -> None:
        import psycopg

        super().__init__()
        self.dsn = dsn
        self.for_update = " FOR UPDATE"
        self.integrity_errors = (psycopg.IntegrityError,)

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.dsn)

    def lock_schema(self, cur: Any) -> None:
        # Nodes starting together on an empty database would otherwise race
        # to create the same tables (UniqueViolation in pg_type).
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def relax(self, conn: Any, cur: Any, durable: bool) -> None:
        if not durable:
            cur.execute("SET LOCAL synchronous_commit = off")
