"""Persistence: one narrow interface over SQLite (the embedded default) and
PostgreSQL (many nodes sharing one database). Queries are written once;
each dialect overrides only what differs."""

from pathlib import Path

from .base import Database
from .directory import SqlDirectory
from .kv import SqlKV
from .postgres import PostgresDatabase
from .sqlite import SQLiteDatabase

__all__ = ["Database", "PostgresDatabase", "SQLiteDatabase", "SqlDirectory", "SqlKV",
           "open_database"]


def open_database(data_dir: Path, url: str | None = None, pool_size: int = 10) -> Database:
    """PostgreSQL at `url` (at most `pool_size` connections) when given,
    else SQLite in `data_dir/flowbox.db`; migrated to the current schema."""
    if url:
        db: Database = PostgresDatabase(url, pool_size=pool_size)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        db = SQLiteDatabase(data_dir / "flowbox.db")
    db.migrate()
    return db


def unavailable_errors() -> tuple[type[Exception], ...]:
    """What the database drivers raise when the database cannot be reached
    or used right now (answered 503, worth retrying), as opposed to a bug."""
    import sqlite3

    import psycopg
    import psycopg_pool

    return (psycopg.OperationalError, psycopg_pool.PoolTimeout, sqlite3.OperationalError)
