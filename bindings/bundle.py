"""Everything one execution is handed, built in one place so that every
binding is scoped to the same account before the sandbox sees it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sandbox import Capability, RunResult
from sandbox.protocol import FETCH

from .env import Env
from .event import for_sandbox
from .fetch import FetchBinding, FetchPolicy
from .files import FilesBinding, FilesLimits
from .room import RoomBinding
from .storage import Directory, KVSource, ObjectStore
from .store import StoreBinding


@dataclass(frozen=True)
class Sources:
    """The storage behind the bindings, shared by all accounts."""

    kv: KVSource
    directory: Directory
    objects: ObjectStore


@dataclass
class Bundle:
    """What `Engine.run` takes (`capabilities`, `data`, the event), and
    `finish` for what comes back."""

    capabilities: dict[str, Capability]
    data: dict[str, Any]
    event: dict[str, Any]
    env: Env = field(default_factory=Env)

    def finish(self, result: RunResult) -> RunResult:
        """The result as it may leave the host: subrequests among the logs,
        secrets masked."""
        fetch = self.capabilities.get(FETCH)
        if isinstance(fetch, FetchBinding) and fetch.records:
            entries = [r.log_entry() for r in fetch.records]
            result.logs[:] = sorted([*result.logs, *entries], key=lambda e: e.time)
        return self.env.redact(result)


def build(sources: Sources, *, account: str, event: dict[str, Any], env: Env | None = None,
          room_scope: str | None = None, files_limits: FilesLimits | None = None,
          timeout: float | None = None, fetch: FetchPolicy | None = None) -> Bundle:
    """The bindings for one execution of a workflow of `account`.

    `room_scope` is the workflow's room when it is room-scoped: its files
    are then those of that room. `timeout` is the execution's, so that
    binding calls give up when it has passed. `fetch` lets user code make
    subrequests under that policy (without it, fetch says there is no
    network access). User code sees the bindings
    as `(event, {store, room, files, event, env, ...vars})`, and a workflow
    class sees the same object as `this.env`."""
    env = env or Env()
    deadline = time.monotonic() + timeout if timeout is not None else None
    room = event.get("roomId") if isinstance(event.get("roomId"), str) else None
    capabilities: dict[str, Capability] = {
        "store": StoreBinding(sources.kv, account),
        "room": RoomBinding(sources.directory, account, room),
        "files": FilesBinding(sources.objects, account, room_scope, limits=files_limits,
                              deadline=deadline),
    }
    if fetch is not None:
        capabilities[FETCH] = FetchBinding(fetch.egress, limits=fetch.limits, deadline=deadline)
    visible = for_sandbox(event)
    values = env.values()
    return Bundle(capabilities=capabilities, data={**values, "env": values, "event": visible},
                  event=visible, env=env)
