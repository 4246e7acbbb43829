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


def open_database(data_dir: Path, url: str | None = None) -> Database:
    """PostgreSQL at `url` when given, else SQLite in `data_dir/flowbox.db`;
    migrated to the current schema."""
    if url:
        db: Database = PostgresDatabase(url)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        db = SQLiteDatabase(data_dir / "flowbox.db")
    db.migrate()
    return db
