"""A failing or hung storage backend is reported to user code as such, is
bounded in time, and never crashes or blocks the host."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import run_with

import bindings
from bindings import (
    FilesLimits,
    MemoryDirectory,
    MemoryKV,
    ObjectStore,
    S3Config,
    Sources,
    StorageError,
)
from sandbox import Engine, Limits, TimeLimitExceeded

TRY_GET = """export default async function(event, { files }) {
  try { return await files.get("k") } catch (e) { return `${e.name}: ${e.message}` }
}"""


def go(engine: Engine, objects: ObjectStore, source: str = TRY_GET, *, timeout: float = 10,
       limits: FilesLimits | None = None) -> Any:
    event = bindings.make_event("acme", "user.created", {"userId": "u1"})
    bundle = bindings.build(Sources(MemoryKV(), MemoryDirectory(), objects), account="acme",
                            event=event, files_limits=limits, timeout=timeout)
    return run_with(engine, source, bundle, Limits(timeout=timeout))


def s3_at(port: int, **kwargs: Any) -> bindings.S3ObjectStore:
    return bindings.S3ObjectStore(S3Config(
        bucket="b", endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1",
        access_key_id="k", secret_access_key="s", **kwargs))


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_s3_down_is_a_catchable_backend_error(engine: Engine, closed_port: int,
                                              objects: ObjectStore) -> None:
    result = go(engine, s3_at(closed_port, connect_timeout=1, max_attempts=1))
    assert result.error is None
    assert result.value == ("Error: files.get: storage backend unavailable: the object store "
                            "is unreachable (EndpointConnectionError)")
    assert str(closed_port) not in result.value  # nothing of the host's setup
    # The host is fine: the next execution, on a working backend, works.
    ok = go(engine, objects, 'export default async (e, { files }) => (await files.put("k", "v")).size')
    assert ok.value == 1


def test_a_hung_backend_call_gives_up_at_the_call_timeout(engine: Engine,
                                                          silent_port: int) -> None:
    started = time.monotonic()
    result = go(engine, s3_at(silent_port, read_timeout=60, max_attempts=1),
                limits=FilesLimits(call_timeout=0.5))
    assert result.value == ("Error: files.get: the storage backend did not answer within 0.5 s")
    assert time.monotonic() - started < 10


def test_a_hung_backend_call_ends_with_the_execution_deadline(engine: Engine,
                                                              silent_port: int) -> None:
    started = time.monotonic()
    result = go(engine, s3_at(silent_port, read_timeout=60, max_attempts=1), timeout=1.0)
    # The binding gives up when the execution's time is up; whether user
    # code then returns or the sandbox stops it first is a matter of ticks.
    assert isinstance(result.error, TimeLimitExceeded) or result.value == (
        "Error: files.get: the storage backend did not answer within 1.0 s")
    assert time.monotonic() - started < 10


def test_a_broken_local_directory_is_reported(engine: Engine, tmp_path: Path) -> None:
    store = bindings.LocalObjectStore(tmp_path / "files")
    (tmp_path / "files" / "acme").write_text("a file where the account's directory should be")
    result = go(engine, store, """export default async function(event, { files }) {
      try { await files.put("k", "v") } catch (e) { return `${e.name}: ${e.message}` } }""")
    assert result.value.startswith("Error: files.put: storage backend unavailable: local "
                                   "storage failed")
    assert str(tmp_path) not in result.value


def test_a_binding_bug_is_an_internal_error_not_a_crash(engine: Engine, tmp_path: Path) -> None:
    class Broken(MemoryKV):
        def kv_get(self, account: str, store: str, key: str) -> Any:
            raise RuntimeError("database password is hunter2")

    event = bindings.make_event("acme", "user.created", {})
    bundle = bindings.build(Sources(Broken(), MemoryDirectory(), bindings.LocalObjectStore(tmp_path)),
                            account="acme", event=event)
    result = run_with(engine, """export default async function(event, { store }) {
      try { await store.get("k") } catch (e) { return e.message } }""", bundle)
    assert result.value == "store.get failed: internal error (RuntimeError)"


def test_a_checksum_failure_is_reported_as_one() -> None:
    from botocore.exceptions import FlexibleChecksumError

    from bindings.s3files import _s3

    def damaged() -> None:
        raise FlexibleChecksumError(error_msg="Expected checksum x did not match calculated y")

    with pytest.raises(StorageError, match="fails its checksum") as info:
        _s3(damaged)
    assert "unreachable" not in str(info.value)
