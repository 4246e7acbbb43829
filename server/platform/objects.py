"""Where a deployed script's `files` live: the node's own object store, or
the bucket of the storage connection it was deployed to (S3 or R2 through
boto3), still under the account's prefix, since the bindings scope every
key before it reaches a store."""

from __future__ import annotations

from collections.abc import Sequence

import bindings
from bindings import Egress, ObjectInfo, ObjectStore, StorageError
from bindings.storage import ObjectPage

from ..durable.definitions import Script
from ..lru import LRUCache
from .connections import ConnectionStore, s3_config

CACHED = 64


class ConnectionGone:
    """The store of a deployment whose connection was deleted: every call
    fails as a storage failure, which user code sees as a catchable error.
    Falling back to the node's store would put the files somewhere else."""

    def __init__(self, connection_id: str) -> None:
        self.message = (f"storage connection {connection_id} was deleted; deploy again "
                        "without it or with another")

    def put(self, key: str, body: bytes, http_metadata: dict[str, str],
            custom_metadata: dict[str, str]) -> ObjectInfo:
        raise StorageError(self.message)

    def get(self, key: str, max_bytes: int | None = None) -> tuple[ObjectInfo, bytes] | None:
        raise StorageError(self.message)

    def head(self, key: str) -> ObjectInfo | None:
        raise StorageError(self.message)

    def delete(self, keys: Sequence[str]) -> None:
        raise StorageError(self.message)

    def list(self, prefix: str, *, start_after: str | None, limit: int,
             delimiter: str | None, with_metadata: bool) -> ObjectPage:
        raise StorageError(self.message)


class ConnectionObjects:
    """Object stores of connections, one boto3 client per connection
    version, made on first use."""

    def __init__(self, connections: ConnectionStore, egress: Egress) -> None:
        self.connections = connections
        self.egress = egress
        self._stores: LRUCache[tuple[str, float], ObjectStore] = LRUCache(CACHED)

    def for_script(self, script: Script) -> ObjectStore:
        connection_id = script.env.connection
        assert connection_id is not None
        connection = self.connections.get(script.account, connection_id)
        if connection is None:
            return ConnectionGone(connection_id)
        key = (connection.id, connection.updated_at)
        store = self._stores.get(key)
        if store is None:
            store = bindings.S3ObjectStore(s3_config(connection, self.egress))
            self._stores.put(key, store)
        return store
