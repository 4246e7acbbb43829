"""Tenants cannot see each other: code of one account tries every binding,
with every key, name and cursor it can think of, to read another
account's data on the same backends."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import migrated_database, run_with

import bindings
from bindings import KVEntry, MemoryDirectory, MemoryKV, ObjectStore, Room, Sources, User
from sandbox import Engine
from server.db import SqlDirectory, SqlKV

TREASURE = "acme-treasure-7f3a"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def tables(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """KV and directory on each backend: in memory, and the SQL stores the
    service uses on SQLite and PostgreSQL."""
    if request.param == "memory":
        yield MemoryKV(), MemoryDirectory()
        return
    with migrated_database(request.param, tmp_path) as db:
        yield SqlKV(db), SqlDirectory(db)


def sources(objects: ObjectStore, tables: tuple[Any, Any]) -> Sources:
    kv, directory = tables
    for store in ("default", "private"):
        kv.put("acme", store, KVEntry("secret", TREASURE.encode(), {"t": TREASURE}))
    kv.put("evil", "default", KVEntry("mine", b"evil's own"))
    directory.put_room("acme", Room("r-acme", TREASURE))
    directory.put_user("acme", User("u-acme", TREASURE))
    directory.join("acme", "r-acme", "u-acme", 1.0)
    objects.put("acme/secret.txt", TREASURE.encode(), {}, {"t": TREASURE})
    objects.put("acme/rooms/r-acme/secret.txt", TREASURE.encode(), {}, {})
    return Sources(kv, directory, objects)


def run_as(engine: Engine, src: Sources, account: str, body: str,
           room_scope: str | None = None) -> Any:
    event = bindings.make_event(account, "participant.joined",
                                {"roomId": "r-acme", "userId": "u-acme"})
    bundle = bindings.build(src, account=account, event=event, room_scope=room_scope)
    result = run_with(engine, "export default async function(event, { store, room, files }) {\n"
                      + body + "\n}", bundle)
    assert result.error is None, result.error
    return result.value


ATTACK = """
  const out = [];
  const attempt = async (f) => { try { out.push(await f()) } catch (e) { out.push(`${e.name}: ${e.message}`) } };
  const text = async (o) => o && (await o.text());
  for (const name of ["default", "private", "acme", "acme/default", "../acme", "acme:default", "ACME"]) {
    await attempt(() => store.namespace(name).get("secret"));
    await attempt(() => store.namespace(name).getWithMetadata("secret"));
    await attempt(() => store.namespace(name).list());
  }
  await attempt(() => store.get("secret"));
  await attempt(() => store.get("../acme/secret"));
  await attempt(() => room.get());
  await attempt(() => room.get("r-acme"));
  await attempt(() => room.users("r-acme"));
  await attempt(() => room.getUser("u-acme"));
  for (const key of ["secret.txt", "../acme/secret.txt", "/acme/secret.txt", "..%2facme/secret.txt",
                     "%2e%2e/acme/secret.txt", "..\\\\acme\\\\secret.txt", "rooms/r-acme/secret.txt",
                     "../../acme/secret.txt", "\\u0000../acme/secret.txt", "\\uff0e\\uff0e/acme/secret.txt"]) {
    await attempt(() => files.get(key).then(text));
    await attempt(() => files.head(key));
  }
  for (const prefix of ["", "../", "../acme/", "acme/", "/", "%2e%2e/"]) {
    await attempt(() => files.list({ prefix }));
    await attempt(() => files.list({ prefix, delimiter: "/" }));
  }
  for (const forged of ["../acme/", "../acme/a", "", "\\u0000", "acme/", "../"]) {
    const cursor = btoa(forged).replace(/\\+/g, "-").replace(/\\//g, "_");
    await attempt(() => files.list({ cursor }));
    await attempt(() => store.list({ cursor }));
  }
  return out;
"""


def test_another_account_reads_nothing_through_any_binding(
        engine: Engine, objects: ObjectStore, tables: tuple[Any, Any]) -> None:
    src = sources(objects, tables)
    for scope in (None, "r-acme"):
        stolen = run_as(engine, src, "evil", ATTACK, room_scope=scope)
        dump = json.dumps(stolen, ensure_ascii=False)
        assert TREASURE not in dump
        assert base64.b64encode(TREASURE.encode()).decode() not in dump
        assert len(stolen) > 60


def test_the_owner_reads_the_same_data(engine: Engine, objects: ObjectStore,
                                       tables: tuple[Any, Any]) -> None:
    # The control: the attack above would have found these.
    src = sources(objects, tables)
    seen = run_as(engine, src, "acme", """
      return [await store.get("secret"), await store.namespace("private").get("secret"),
              (await room.get("r-acme")).name, (await room.getUser("u-acme")).name,
              await (await files.get("secret.txt")).text(),
              (await files.list()).objects.map(o => o.key)];""")
    assert seen == [TREASURE] * 5 + [["rooms/r-acme/secret.txt", "secret.txt"]]
