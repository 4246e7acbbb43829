"""The sandbox engine: one wasmtime engine, the compiled guest module (cached
on disk between processes), and the epoch ticker that makes time limits
work. Create one per process and share it between threads; every execution
still gets a fresh instance of its own.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import json
import os
import struct
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

from . import build, snapshot
from .artifact import Artifact
from .errors import GuestCrash
from .limits import Limits
from .protocol import Capability
from .result import RunResult

_WASMTIME_VERSION = importlib.metadata.version("wasmtime")
TICK_SECONDS = 0.005
_DEADLINE_CALLBACK = ffi._wasmtime_store_epoch_deadline_callback.argtypes[1]
_HOST_CALL = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_void_p, ctypes.c_size_t)
_ARGS = struct.Struct("<I12xi12xI12xi12x")
# Wasm frames live on the host thread's native stack; keep this well under
# the 8 MiB default of Linux threads so a runaway guest traps, never faults.
MAX_WASM_STACK = 2 * 1024 * 1024


class Engine:
    """Compiles user code to artifacts and runs them, each run in a fresh
    wasmtime instance under `Limits`.

    `signing_key` authenticates artifacts (only bytecode this installation
    produced is ever loaded); pass the same key across restarts to keep
    stored artifacts loadable. `adapters` are named JavaScript functions
    ``(raw) => api`` (each source a single expression) that shape a
    capability's raw host methods into its user-facing API; a capability
    names its adapter. Use as a context manager or call `close()`.
    """

    def __init__(self, *, wasm_path: Path | None = None, cache_dir: Path | None = None,
                 signing_key: bytes | None = None,
                 adapters: Mapping[str, str] | None = None) -> None:
        wasm_path = wasm_path or build.WASM_PATH
        if not wasm_path.exists():
            raise GuestCrash(f"guest not built: {wasm_path} is missing "
                             "(run ./setup.sh or python sandbox/build.py)")
        wasm = wasm_path.read_bytes()
        self.build_id = hashlib.sha256(wasm + _WASMTIME_VERSION.encode()).hexdigest()[:32]
        self.signing_key = signing_key or os.urandom(32)
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.max_wasm_stack = MAX_WASM_STACK
        config.memory_may_move = False  # so an execution may cache the memory's base address
        config.cranelift_opt_level = "speed"
        self.wasmtime = wasmtime.Engine(config)
        linker = wasmtime.Linker(self.wasmtime)
        linker.define_wasi()
        self._define_host_call(linker)
        self.deadline_callback = _DEADLINE_CALLBACK(self._on_deadline)
        self.adapters = dict(adapters or {})
        self.module = _load_module(self.wasmtime, linker, wasm,
                                   cache_dir or build.BUILD / "cache", self.build_id,
                                   self.adapters)
        self.instance_pre = linker.instantiate_pre(self.module)
        # The execution running on each thread. A wasmtime store is used by
        # one thread at a time and its host calls arrive on that thread, so
        # this routes each call to its own execution without a global.
        self._current = threading.local()
        self._active = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._ticker = threading.Thread(target=self._tick, name="flowbox-epoch", daemon=True)
        self._ticker.start()
        self._strip_types: Artifact | None = None

    # -- public API --------------------------------------------------------

    def compile(self, source: str, filename: str = "workflow.js",
                modules: Mapping[str, str] | None = None) -> Artifact:
        """Compiles JavaScript or TypeScript (by `filename`) to an artifact,
        with the script's other modules (name -> source) it may import.
        Raises CompileError with message, file, line and column."""
        from .compiler import compile_source

        return compile_source(self, source, filename, modules)

    def run(self, artifact: Artifact, event: Any = None, *,
            capabilities: Mapping[str, Capability] | None = None,
            data: Mapping[str, Any] | None = None, limits: Limits | None = None,
            entry: str | None = None, sent_events: list[Any] | None = None) -> RunResult:
        """Runs an artifact's entry point once, in a fresh instance: its own,
        or the export named `entry` (a workflow class chosen by name);
        `sent_events` answer its waits when no durable `step` is given. Never
        raises for anything user code does: failures are in `result.error`."""
        from .execution import Execution

        artifact.verify(self)
        for name, cap in (capabilities or {}).items():
            if cap.adapter is not None and cap.adapter not in self.adapters:
                raise ValueError(f"capability {name!r} needs adapter {cap.adapter!r}, "
                                 "which this engine was not given")
        with Execution(self, limits or Limits(), capabilities or {}) as ex:
            return ex.run(artifact, event, dict(data or {}), entry, sent_events)

    def close(self) -> None:
        """Stops the ticker. Runs in progress may no longer time out."""
        self._closed = True
        self._wake.set()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- used by Execution -------------------------------------------------

    def enter(self, execution: Any) -> Any:
        """Makes `execution` the current one on this thread; returns the one
        it replaces (a capability may run a nested execution)."""
        previous = getattr(self._current, "execution", None)
        self._current.execution = execution
        with self._lock:
            self._active += 1
            self._wake.set()
        return previous

    def leave(self, previous: Any = None) -> None:
        self._current.execution = previous
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._wake.clear()

    def _define_host_call(self, linker: wasmtime.Linker) -> None:
        """Defines ``flowbox.call(req, req_len, reply, reply_cap) -> i32``.

        Through wasmtime's unchecked API rather than ``Linker.define_func``:
        wasmtime-py's generic trampoline wraps every argument in a ``Val``,
        which costs more than the rest of a host call together. The
        callback also never raises (wasmtime-py would keep the exception in
        a module global that misroutes errors between threads)."""
        i32 = wasmtime.ValType.i32()
        ty = wasmtime.FuncType([i32] * 4, [i32])
        # Plain integer arguments: ctypes converts them far more cheaply than
        # the pointer types of wasmtime-py's declaration, so cast to it.
        self._raw_host_call = _HOST_CALL(self._host_call)
        define = ffi._wasmtime_linker_define_func_unchecked
        callback_type: Any = define.argtypes[6]
        callback = ctypes.cast(self._raw_host_call, callback_type)
        module, name = ctypes.create_string_buffer(b"flowbox"), ctypes.create_string_buffer(b"call")
        err = define(linker.ptr(), module, 7, name, 4, ty.ptr(), callback, None,
                     define.argtypes[8]())
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)

    def _on_deadline(self, _ctx: Any, _data: Any, delta: Any, kind: Any) -> int:
        # Runs on the thread whose store reached its epoch deadline.
        execution = getattr(self._current, "execution", None)
        if execution is None:  # pragma: no cover - a store only runs inside an execution
            delta[0], kind[0] = 1, 0
            return 0
        result: int = execution.check_deadline(delta, kind)
        return result

    def _host_call(self, _env: int, _caller: int, vals: int, _n: int) -> int:
        # `vals` points at wasmtime_val_raw_t slots of 16 bytes: the four
        # i32 arguments in, the i32 result out (slot 0).
        try:
            execution = getattr(self._current, "execution", None)
            if execution is None:
                result = -1
            else:
                req, req_len, reply, reply_cap = _ARGS.unpack(ctypes.string_at(vals, 64))
                result = execution.host_call(req, req_len, reply, reply_cap)
        except BaseException:  # the guest traps on -1; see _define_host_call
            result = -1
        ctypes.c_int32.from_address(vals).value = result
        return 0

    def _tick(self) -> None:
        while not self._closed:
            self._wake.wait()
            if self._closed:
                return
            self.wasmtime.increment_epoch()
            time.sleep(TICK_SECONDS)


def _load_module(engine: wasmtime.Engine, linker: wasmtime.Linker, wasm: bytes,
                 cache_dir: Path, build_id: str, adapters: Mapping[str, str]) -> wasmtime.Module:
    """The guest, initialized (snapshot.py) and compiled once; later
    processes deserialize the cached machine code (trusted input: we wrote
    it, keyed by the wasm's hash, the wasmtime version and the adapters)."""
    image_id = hashlib.sha256(json.dumps([build_id, sorted(adapters.items())]).encode())
    path = cache_dir / f"guest-{image_id.hexdigest()[:32]}-initialized.cwasm"
    if path.exists():
        try:
            return wasmtime.Module.deserialize_file(engine, str(path))
        except wasmtime.WasmtimeError:
            path.unlink(missing_ok=True)  # stale or from another config
    module = wasmtime.Module(engine, snapshot.initialized_module(wasm, engine, linker, adapters))
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(module.serialize())
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only costs compile time
    return module
