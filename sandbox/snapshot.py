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

import wasmtime

from . import wasmimage


def take(module: wasmtime.Module, engine: wasmtime.Engine, linker: wasmtime.Linker) -> bytes:
    """Initializes a throwaway instance and returns its linear memory."""
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
            raise RuntimeError("guest fb_init failed while taking the snapshot")
        base = ctypes.addressof(memory.data_ptr(store).contents)
        return ctypes.string_at(base, memory.data_len(store))
    finally:
        store.close()


def initialized_module(wasm: bytes, engine: wasmtime.Engine,
                       linker: wasmtime.Linker) -> bytes:
    """The guest module rewritten to start from an initialized state."""
    image = take(wasmtime.Module(engine, wasm), engine, linker)
    return wasmimage.with_memory_image(wasm, image)
