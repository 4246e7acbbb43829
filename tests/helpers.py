"""Helpers shared by the tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sandbox import Limits

SMALL = Limits(timeout=3.0, cpu=1.0, memory=32 * 1024 * 1024, host_calls=50,
               log_bytes=4096, result_bytes=64 * 1024)


class Recorder:
    """A capability that records its calls and answers from a table."""

    def __init__(self, methods: dict[str, Any]) -> None:
        self.methods = list(methods)
        self.adapter: str | None = None
        self._answers = methods
        self.calls: list[tuple[str, list[Any]]] = []

    def call(self, method: str, args: list[Any]) -> Any:
        self.calls.append((method, args))
        answer = self._answers[method]
        return answer(*args) if callable(answer) else answer


def run_with(engine: Any, source: str, bundle: Any, limits: Limits | None = None) -> Any:
    """Compiles `source` and runs it with a bindings Bundle; the finished result."""
    artifact = engine.compile(source, "workflow.js")
    result = engine.run(artifact, bundle.event, capabilities=bundle.capabilities,
                        data=bundle.data, limits=limits or Limits())
    return bundle.finish(result)


PG = "host=127.0.0.1 dbname=test user=postgres"


@contextmanager
def migrated_database(kind: str, tmp_path: Path) -> Iterator[Any]:
    """A migrated SQLite file, or a throwaway schema on the local PostgreSQL."""
    from server.db import PostgresDatabase, SQLiteDatabase

    if kind == "sqlite":
        db: Any = SQLiteDatabase(tmp_path / "flowbox.db")
        db.migrate()
        try:
            yield db
        finally:
            db.close()
        return
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    db = PostgresDatabase(f"{PG} options=-csearch_path={schema}")
    db.migrate()
    try:
        yield db
    finally:
        db.close()
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
