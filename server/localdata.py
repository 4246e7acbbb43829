"""A local data directory for `flowbox run --data DIR`: the bindings'
storage from plain files, so a developer can try a workflow against
realistic data without a server.

    DIR/stores/NAME.json   one KV store: {"key": value}; strings are stored
                           as text, anything else as its JSON text
    DIR/rooms.json         {"roomId": {"name", "metadata", "participants": [userId]}}
    DIR/users.json         {"userId": {"name", "email", "metadata"}}
    DIR/env.json           {"vars": {"NAME": "value"}, "secrets": {"NAME": "value"}}
    DIR/files/             what `files` reads and writes (Flowbox's local format)

Every file is optional. Stores, rooms and users are read into memory: a
run never changes them (the event updates presence and users in memory
only). Files written by the run stay in DIR/files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bindings import (
    Env,
    KVEntry,
    LocalObjectStore,
    MemoryDirectory,
    MemoryKV,
    Room,
    Sources,
    User,
    apply_event,
)


class DataError(ValueError):
    """A data directory file that cannot be used; the message names it."""


def load(root: Path, account: str, event: dict[str, Any]) -> tuple[Sources, Env]:
    """The bindings' storage, as `event` leaves it, and the env from a data
    directory."""
    kv = MemoryKV()
    stores = root / "stores"
    for path in sorted(stores.glob("*.json")) if stores.is_dir() else []:
        for key, value in _object(path).items():
            data = value if isinstance(value, str) else json.dumps(value)
            kv.put(account, path.stem, KVEntry(key, data.encode()))
    directory = MemoryDirectory()
    now = time.time()
    for user_id, user in _records(root / "users.json").items():
        directory.put_user(account, User(user_id, user.get("name"), user.get("email"),
                                         user.get("metadata") or {}, now, now))
    for room_id, room in _records(root / "rooms.json").items():
        directory.put_room(account, Room(room_id, room.get("name"), room.get("metadata") or {},
                                         now, now))
        for user_id in room.get("participants") or []:
            directory.join(account, room_id, str(user_id), now)
    # As the service does: the event updates presence and users first.
    apply_event(directory, account, event)
    env_doc = _object(root / "env.json") if (root / "env.json").exists() else {}
    try:
        env = Env(vars=env_doc.get("vars") or {}, secrets=env_doc.get("secrets") or {})
    except ValueError as exc:
        raise DataError(f"{root / 'env.json'}: {exc}") from None
    return Sources(kv, directory, LocalObjectStore(root / "files")), env


def _object(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: {exc}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: must hold a JSON object")
    return doc


def _records(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    doc = _object(path)
    for ident, record in doc.items():
        if not isinstance(record, dict):
            raise DataError(f"{path}: {ident!r} must be an object")
    return doc
