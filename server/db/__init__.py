"""Persistence: one narrow interface over SQLite (the embedded default) and
PostgreSQL (many nodes sharing one database). Queries are written once;
each dialect overrides only what differs."""

from .base import Database
from .directory import SqlDirectory
from .kv import SqlKV
from .postgres import PostgresDatabase
from .sqlite import SQLiteDatabase

__all__ = ["Database", "PostgresDatabase", "SQLiteDatabase", "SqlDirectory", "SqlKV"]
