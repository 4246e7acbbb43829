"""The KV and directory storage behind `store` and `room`: one suite for
every backend (in memory, SQLite file, PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import PG, migrated_database

from bindings import KVEntry, MemoryDirectory, MemoryKV, Room, User
from server.db import SqlDirectory, SQLiteDatabase, SqlKV


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        yield MemoryKV(), MemoryDirectory()
        return
    with migrated_database(request.param, tmp_path) as db:
        yield SqlKV(db), SqlDirectory(db)


def test_kv_put_get_overwrite_delete(backend: tuple[Any, Any]) -> None:
    kv, _ = backend
    kv.put("a", "default", KVEntry("k", b"\x00\xffv", {"m": [1, "é"]}))
    got = kv.kv_get("a", "default", "k")
    assert got == KVEntry("k", b"\x00\xffv", {"m": [1, "é"]}, None)
    kv.put("a", "default", KVEntry("k", b"two"))
    assert kv.kv_get("a", "default", "k") == KVEntry("k", b"two")
    kv.delete("a", "default", "k")
    assert kv.kv_get("a", "default", "k") is None


def test_kv_is_scoped_by_account_and_store(backend: tuple[Any, Any]) -> None:
    kv, _ = backend
    kv.put("a", "default", KVEntry("k", b"a-default"))
    kv.put("a", "other", KVEntry("k", b"a-other"))
    kv.put("b", "default", KVEntry("k", b"b-default"))
    assert kv.kv_get("a", "other", "k").value == b"a-other"
    assert kv.kv_get("b", "default", "k").value == b"b-default"
    assert kv.kv_get("c", "default", "k") is None
    assert [e.key for e in kv.kv_list("b", "default", "", None, 10).entries] == ["k"]


def test_kv_expiration(backend: tuple[Any, Any]) -> None:
    kv, _ = backend
    kv.put("a", "s", KVEntry("old", b"x", expiration=int(time.time()) - 1))
    kv.put("a", "s", KVEntry("new", b"x", expiration=int(time.time()) + 600))
    assert kv.kv_get("a", "s", "old") is None
    assert kv.kv_get("a", "s", "new").expiration > time.time()
    assert [e.key for e in kv.kv_list("a", "s", "", None, 10).entries] == ["new"]


def test_kv_list_orders_by_code_point_with_prefix_and_pages(backend: tuple[Any, Any]) -> None:
    kv, _ = backend
    keys = ["b", "B", "a-c", "a/b", "a", "é", "a%", "a_"]
    for k in keys:
        kv.put("a", "s", KVEntry(k, b"x", {"k": k}))
    assert [e.key for e in kv.kv_list("a", "s", "", None, 100).entries] == sorted(keys)
    # LIKE wildcards in a prefix are plain characters.
    assert [e.key for e in kv.kv_list("a", "s", "a%", None, 100).entries] == ["a%"]
    assert [e.key for e in kv.kv_list("a", "s", "a", None, 100).entries] == \
        ["a", "a%", "a-c", "a/b", "a_"]
    seen, after = [], None
    while True:
        page = kv.kv_list("a", "s", "", after, 3)
        seen += [e.key for e in page.entries]
        if not page.more:
            break
        after = page.entries[-1].key
    assert seen == sorted(keys)
    assert kv.kv_list("a", "s", "", None, 3).entries[0].metadata == {"k": "B"}


def test_rooms_users_and_presence(backend: tuple[Any, Any]) -> None:
    _, d = backend
    d.put_room("a", Room("r1", "Lobby", {"floor": 2}, 1.0, 2.0))
    d.put_user("a", User("u1", "Ann", "ann@x", {"role": "x"}, 1.0, 1.0))
    d.put_user("a", User("u2", "Bob", None, {}, 1.0, 1.0))
    assert d.get_room("a", "r1") == Room("r1", "Lobby", {"floor": 2}, 1.0, 2.0)
    assert d.get_user("a", "u1") == User("u1", "Ann", "ann@x", {"role": "x"}, 1.0, 1.0)
    d.join("a", "r1", "u2", 10.0)
    d.join("a", "r1", "u1", 11.0)
    d.join("a", "r1", "u2", 12.0)  # already here: keeps the first time
    assert [(p.user_id, p.joined_at) for p in d.presence("a", "r1")] == [("u2", 10.0),
                                                                      ("u1", 11.0)]
    d.leave("a", "r1", "u2")
    assert [p.user_id for p in d.presence("a", "r1")] == ["u1"]
    d.put_user("a", User("u1", "Ann B.", "ann@x", {}, 1.0, 5.0))
    assert d.get_user("a", "u1").name == "Ann B."
    d.delete_user("a", "u1")
    assert d.get_user("a", "u1") is None and d.presence("a", "r1") == []
    d.join("a", "r1", "u2", 20.0)
    d.delete_room("a", "r1")
    assert d.get_room("a", "r1") is None and d.presence("a", "r1") == []


def test_directory_is_scoped_by_account(backend: tuple[Any, Any]) -> None:
    _, d = backend
    d.put_room("a", Room("r1", "A's"))
    d.put_user("a", User("u1", "A's user"))
    d.join("a", "r1", "u1", 1.0)
    assert d.get_room("b", "r1") is None and d.get_user("b", "u1") is None
    assert d.presence("b", "r1") == []


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    from server.db.migrations import MIGRATIONS

    db = SQLiteDatabase(tmp_path / "x.db")
    assert db.migrate() == len(MIGRATIONS)
    SqlKV(db).put("a", "s", KVEntry("k", b"v"))
    db.close()
    again = SQLiteDatabase(tmp_path / "x.db")
    assert again.migrate() == len(MIGRATIONS)
    assert SqlKV(again).kv_get("a", "s", "k").value == b"v"


def test_nodes_starting_together_on_an_empty_postgres_database_all_migrate() -> None:
    """Three nodes migrate one empty database at once: each ends on the
    latest schema, none fails on a table another one is creating."""
    import threading
    import uuid

    import psycopg

    from server.db import PostgresDatabase
    from server.db.migrations import MIGRATIONS

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    start = threading.Barrier(3)
    results: list[Any] = []

    def node() -> None:
        db = PostgresDatabase(f"{PG} options=-csearch_path={schema}")
        try:
            start.wait(timeout=10)
            results.append(db.migrate())
        except Exception as exc:  # reported below
            results.append(exc)
        finally:
            db.close()

    try:
        for _ in range(5):  # a race needs a few tries to show; the lock must hold every time
            results.clear()
            with psycopg.connect(PG, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
                admin.execute(f"CREATE SCHEMA {schema}")
            threads = [threading.Thread(target=node) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            start.reset()
            assert results == [len(MIGRATIONS)] * 3, results
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
