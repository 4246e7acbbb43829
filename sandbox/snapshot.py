"""Executions start from a snapshot of an initialized guest, so none of
them pays for building a QuickJS runtime and context (about 0.45 ms).

The snapshot is taken once per guest build, from an instance that never
runs user code: instantiate, run the C constructors (`_initialize`) and
`fb_init`, then read linear memory. That image becomes the data segments of
a rewritten module (wasmimage.py), which wasmtime maps copy-on-write into
every new instance, so a fresh instance is a ready runtime at no copy cost.

This is faithful because all guest state lives in linear memory: the only
mutable wasm global, the stack pointer, is back at its initial value when
fb_init returns, and WASI state (no preopens, no environment) is the same
for every store. Anything that must differ per execution (random seed,
clock origin, limits) is set by `fb_reset` in each execution.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from typing import Any

import wasmtime

from . import protocol, wasmimage
from .errors import GuestCrash


def take(module: wasmtime.Module, engine: wasmtime.Engine, linker: wasmtime.Linker,
         adapters: Mapping[str, str]) -> bytes:
    """Initializes a throwaway instance, registers the adapters and returns
    its linear memory."""
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    store.set_epoch_deadline(1 << 62)
    try:
        exports = linker.instantiate(store, module).exports(store)
        memory = exports["memory"]
        init, fb_init = exports["_initialize"], exports["fb_init"]
        assert isinstance(memory, wasmtime.Memory)
        assert isinstance(init, wasmtime.Func) and isinstance(fb_init, wasmtime.Func)
        init(store)
        if fb_init(store) != 0:
            raise GuestCrash("guest fb_init failed while taking the snapshot")
        base = ctypes.addressof(memory.data_ptr(store).contents)
        for name, source in adapters.items():
            _add_adapter(store, exports, base, name, source)
        return ctypes.string_at(base, memory.data_len(store))
    finally:
        store.close()


def _add_adapter(store: wasmtime.Store, exports: Mapping[str, Any], base: int,
                 name: str, source: str) -> None:
    alloc, fb_adapter = exports["fb_alloc"], exports["fb_adapter"]
    assert isinstance(alloc, wasmtime.Func) and isinstance(fb_adapter, wasmtime.Func)

    def put(data: bytes) -> int:
        ptr = alloc(store, len(data) + 1)
        ctypes.memmove(base + ptr, data + b"\0", len(data) + 1)
        return int(ptr)

    src = source.encode()
    packed = fb_adapter(store, put(name.encode()), put(src), len(src))
    out = ctypes.string_at(base + (packed & 0xFFFFFFFF), packed >> 32)
    failure = protocol.parse_run_output(out)
    if isinstance(failure, protocol.Failure):
        raise GuestCrash(f"adapter {name!r} does not load: {failure.name}: {failure.message}")


def initialized_module(wasm: bytes, engine: wasmtime.Engine, linker: wasmtime.Linker,
                       adapters: Mapping[str, str]) -> bytes:
    """The guest module rewritten to start from an initialized state."""
    image = take(wasmtime.Module(engine, wasm), engine, linker, adapters)
    return wasmimage.with_memory_image(wasm, image)
