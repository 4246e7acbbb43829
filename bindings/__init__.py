"""The capabilities handed to user code: `store` (KV, read-only), `room`
(room and user metadata, read-only), `files` (object storage), `event`
and `env`, and the host side of `fetch` under the egress policy. Each
binding is a small host object with a dispatch table, written against
the narrow interfaces of storage.py and scoped to one account before the
sandbox sees it; `bundle.build` puts them together for
one execution.

    engine = Engine(adapters=bindings.ADAPTERS)
    b = bindings.build(sources, account="acme", event=event, env=env, timeout=30)
    result = b.finish(engine.run(artifact, b.event, capabilities=b.capabilities,
                                 data=b.data, limits=limits))
"""

from pathlib import Path

from .bundle import Bundle, Sources, build
from .egress import Egress, EgressRefused
from .env import Env, InvalidEnv
from .errors import BackendUnavailable, BindingError, KeyRejected, StorageError
from .event import EVENT_TYPES, InvalidEvent, for_sandbox, iso_time, make_event
from .fetch import FetchBinding, FetchLimits, FetchPolicy
from .files import FilesBinding, FilesLimits
from .localfiles import LocalObjectStore
from .memory import MemoryDirectory, MemoryKV
from .room import RoomBinding, apply_event
from .s3files import S3Config, S3ObjectStore
from .storage import KVEntry, ObjectInfo, ObjectStore, Presence, Room, User
from .store import StoreBinding

_JS = Path(__file__).parent / "js"
# The JavaScript that shapes raw host methods into each binding's API; the
# engine registers them once (sandbox adapters).
ADAPTERS = {name: (_JS / f"{name}.js").read_text() for name in ("store", "files", "step")}

__all__ = [
    "ADAPTERS", "EVENT_TYPES", "BackendUnavailable", "BindingError", "Bundle", "Egress",
    "EgressRefused", "Env", "FetchBinding", "FetchLimits", "FetchPolicy", "FilesBinding",
    "FilesLimits", "InvalidEnv", "InvalidEvent", "KVEntry", "KeyRejected", "LocalObjectStore",
    "MemoryDirectory", "MemoryKV", "ObjectInfo", "ObjectStore", "Presence", "Room", "RoomBinding",
    "S3Config", "S3ObjectStore", "Sources", "StorageError", "StoreBinding", "User", "apply_event",
    "build", "for_sandbox", "iso_time", "make_event",
]
