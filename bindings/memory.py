"""KV stores and a room/user directory held in memory: for `flowbox run`
with a local data directory, and for tests. Thread-safe."""

from __future__ import annotations

import bisect
import threading
import time

from .storage import KVEntry, KVPage, Presence, Room, User


class MemoryKV:
    """A KVSource over dicts, with `put` and `delete` for whoever fills it."""

    def __init__(self) -> None:
        self._stores: dict[tuple[str, str], dict[str, KVEntry]] = {}
        self._lock = threading.Lock()

    def put(self, account: str, store: str, entry: KVEntry) -> None:
        with self._lock:
            self._stores.setdefault((account, store), {})[entry.key] = entry

    def delete(self, account: str, store: str, key: str) -> None:
        with self._lock:
            self._stores.get((account, store), {}).pop(key, None)

    def kv_get(self, account: str, store: str, key: str) -> KVEntry | None:
        entry = self._stores.get((account, store), {}).get(key)
        return entry if entry is not None and _live(entry) else None

    def kv_list(self, account: str, store: str, prefix: str, after: str | None,
                limit: int) -> KVPage:
        with self._lock:
            entries = self._stores.get((account, store), {})
            keys = sorted(k for k in entries if k.startswith(prefix))
            start = bisect.bisect_right(keys, after) if after is not None else 0
            live = [entries[k] for k in keys[start:] if _live(entries[k])]
        return KVPage(live[:limit], more=len(live) > limit)


def _live(entry: KVEntry) -> bool:
    return entry.expiration is None or entry.expiration > time.time()


class MemoryDirectory:
    """A Directory and DirectoryWriter over dicts."""

    def __init__(self) -> None:
        self._rooms: dict[tuple[str, str], Room] = {}
        self._users: dict[tuple[str, str], User] = {}
        self._presence: dict[tuple[str, str], dict[str, float]] = {}
        self._lock = threading.Lock()

    def put_room(self, account: str, room: Room) -> None:
        with self._lock:
            self._rooms[(account, room.id)] = room

    def delete_room(self, account: str, room_id: str) -> None:
        with self._lock:
            self._rooms.pop((account, room_id), None)
            self._presence.pop((account, room_id), None)

    def get_room(self, account: str, room_id: str) -> Room | None:
        return self._rooms.get((account, room_id))

    def get_user(self, account: str, user_id: str) -> User | None:
        return self._users.get((account, user_id))

    def presence(self, account: str, room_id: str) -> list[Presence]:
        with self._lock:
            present = list(self._presence.get((account, room_id), {}).items())
        return [Presence(user_id, at)
                for user_id, at in sorted(present, key=lambda p: (p[1], p[0]))]

    def put_user(self, account: str, user: User) -> None:
        with self._lock:
            self._users[(account, user.id)] = user

    def delete_user(self, account: str, user_id: str) -> None:
        with self._lock:
            self._users.pop((account, user_id), None)
            for (acct, _room), present in self._presence.items():
                if acct == account:
                    present.pop(user_id, None)

    def join(self, account: str, room_id: str, user_id: str, at: float) -> None:
        with self._lock:
            self._presence.setdefault((account, room_id), {}).setdefault(user_id, at)

    def leave(self, account: str, room_id: str, user_id: str) -> None:
        with self._lock:
            self._presence.get((account, room_id), {}).pop(user_id, None)
