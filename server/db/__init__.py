"""Persistence: one narrow interface over SQLite (the embedded default) and
PostgreSQL (many nodes sharing one database). Queries are written once;
each dialect overrides only what differs."""

import os
from pathlib import Path

from .base import Database
from .directory import SqlDirectory
from .kv import SqlKV
from .postgres import PostgresDatabase
from .sqlite import SQLiteDatabase

__all__ = ["Database", "DatabaseUnusable", "PostgresDatabase", "SQLiteDatabase", "SqlDirectory",
           "SqlKV", "open_database", "unavailable_errors"]


class DatabaseUnusable(Exception):
    """The database cannot be opened; the message says why in one line (an
    unsupported URL, an unreachable server, an unusable data directory)."""


def open_database(data_dir: Path, url: str | None = None, pool_size: int = 10) -> Database:
    """PostgreSQL at `url` (at most `pool_size` connections) when given,
    else SQLite in `data_dir/flowbox.db`; migrated to the current schema.
    Raises DatabaseUnusable."""
    if url:
        scheme, sep, _ = url.partition("://")
        if sep and scheme not in ("postgresql", "postgres"):
            raise DatabaseUnusable(f"unsupported database URL scheme {scheme!r}: Flowbox uses "
                                   "PostgreSQL (postgresql://...) or, without a URL, SQLite")
    db: Database | None = None
    try:
        if url:
            db = PostgresDatabase(url, pool_size=pool_size)
        else:
            # Owner only: the database holds secrets and the signing key.
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = data_dir / "flowbox.db"
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            db = SQLiteDatabase(path)
        db.migrate()
        return db
    except unavailable_errors() as exc:
        if db is not None:
            db.close()
        where = "the PostgreSQL database" if url else f"{data_dir}/flowbox.db"
        text = str(exc).strip()
        raise DatabaseUnusable(f"cannot use {where}: "
                               f"{text.splitlines()[0] if text else type(exc).__name__}") from None
    except OSError as exc:
        raise DatabaseUnusable(f"cannot use the data directory {data_dir}: "
                               f"{exc.strerror or exc}") from None


def unavailable_errors() -> tuple[type[Exception], ...]:
    """What the database drivers raise when the database cannot be reached
    or used right now (answered 503, worth retrying), as opposed to a bug."""
    import sqlite3

    import psycopg
    import psycopg_pool

    return (psycopg.OperationalError, psycopg_pool.PoolTimeout, sqlite3.OperationalError)
