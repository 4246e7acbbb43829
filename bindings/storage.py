"""The narrow storage interfaces the bindings are written against, and the
records that cross them. The server backs them with SQLite, PostgreSQL, a
local directory or S3; bindings never see which.

Every read and write names its account: the interfaces are shared by all
tenants, and scoping happens in the binding before a call gets here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# -- KV stores ----------------------------------------------------------------


@dataclass(frozen=True)
class KVEntry:
    """One key of a KV store; `expiration` is seconds since the epoch."""

    key: str
    value: bytes
    metadata: Any = None
    expiration: int | None = None


@dataclass(frozen=True)
class KVPage:
    """Entries in key order (values may be empty: listing needs names only),
    and whether more follow after the last one."""

    entries: list[KVEntry]
    more: bool


class KVSource(Protocol):
    """Read access to the named KV stores of every account."""

    def kv_get(self, account: str, store: str, key: str) -> KVEntry | None:
        """The live (unexpired) entry, or None."""
        ...

    def kv_list(self, account: str, store: str, prefix: str, after: str | None,
                limit: int) -> KVPage:
        """Live keys starting with `prefix`, greater than `after`, in order."""
        ...


# -- rooms and users ------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str
    name: str | None = None
    email: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class Room:
    id: str
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class Presence:
    """A user present in a room since `joined_at`."""

    user_id: str
    joined_at: float


class Directory(Protocol):
    """Read access to rooms, users and presence."""

    def get_room(self, account: str, room_id: str) -> Room | None: ...

    def get_user(self, account: str, user_id: str) -> User | None: ...

    def presence(self, account: str, room_id: str) -> list[Presence]:
        """Who is in the room now, in the order they joined."""
        ...


class DirectoryWriter(Protocol):
    """What platform events change in a directory (see room.apply_event)."""

    def put_user(self, account: str, user: User) -> None: ...

    def delete_user(self, account: str, user_id: str) -> None:
        """Removes the user and their presence everywhere."""
        ...

    def join(self, account: str, room_id: str, user_id: str, at: float) -> None: ...

    def leave(self, account: str, room_id: str, user_id: str) -> None: ...


class DirectoryStore(Directory, DirectoryWriter, Protocol):
    """A directory that can be read and written."""


# -- object storage -------------------------------------------------------------


@dataclass(frozen=True)
class ObjectInfo:
    """An object's metadata. `uploaded` is seconds since the epoch;
    `http_metadata` uses R2's camelCase names (contentType, ...)."""

    key: str
    size: int
    etag: str
    uploaded: float
    version: str
    http_metadata: dict[str, str] = field(default_factory=dict)
    custom_metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectPage:
    """One page of a listing. `next_after` is the `start_after` that
    continues it, None when the listing is complete."""

    objects: list[ObjectInfo]
    prefixes: list[str]
    next_after: str | None


class ObjectStore(Protocol):
    """A flat namespace of objects under full keys (bindings add the scope).
    Transport failures raise StorageError; unstorable keys KeyRejected."""

    def put(self, key: str, body: bytes, http_metadata: dict[str, str],
            custom_metadata: dict[str, str]) -> ObjectInfo: ...

    def get(self, key: str, max_bytes: int | None = None) -> tuple[ObjectInfo, bytes] | None:
        """The object and its body; raises ObjectTooLarge, without reading
        the body, when it is over `max_bytes`."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete(self, keys: Sequence[str]) -> None:
        """Deletes what exists of `keys`; missing keys are not an error."""
        ...

    def list(self, prefix: str, *, start_after: str | None, limit: int,
             delimiter: str | None, with_metadata: bool) -> ObjectPage:
        """Objects (and, with a delimiter, common prefixes) in key order;
        `limit` counts both. Metadata is filled only when asked for."""
        ...
