"""Reaching and calling guest exports without wasmtime-py's reflection.

`wasmtime.Func.__call__` looks up the function's type and boxes every
argument in a `Val` on each call, about 50 us here; our exports take and
return plain i32/i64, so we call them through wasmtime's unchecked API with
one reusable argument buffer (about 3 us). Traps still surface as
`wasmtime.Trap` and errors as `wasmtime.WasmtimeError`.
"""

from __future__ import annotations

import ctypes

import wasmtime
from wasmtime import _bindings as ffi
from wasmtime._extern import wrap_extern

_call_unchecked = ffi._wasmtime_func_call_unchecked


def export(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> object:
    """One export by name. `Instance.exports` wraps every export of the
    module, which costs more than a whole small execution."""
    item = ffi.wasmtime_extern_t()
    raw = name.encode()
    found = ffi.wasmtime_instance_export_get(store._context(), ctypes.byref(instance._instance),
                                             ctypes.create_string_buffer(raw), len(raw),
                                             ctypes.byref(item))
    if not found:
        raise KeyError(name)
    return wrap_extern(item)


class RawFunc:
    """An export of one store, called with i32 arguments; returns the first
    result as an unsigned 32-bit or 64-bit integer (`result_bits`)."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func, nargs: int,
                 result_bits: int = 32) -> None:
        self._context = store._context()
        self._func = ctypes.byref(func._func)
        self._vals = (ffi.wasmtime_val_raw_t * max(nargs, 1))()
        self._mask = (1 << result_bits) - 1
        self._wide = result_bits == 64

    def __call__(self, *args: int) -> int:
        vals = self._vals
        for i, arg in enumerate(args):
            vals[i].i32 = arg
        trap = ctypes.POINTER(ffi.wasm_trap_t)()
        error = _call_unchecked(self._context, self._func, vals, len(vals), ctypes.byref(trap))
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
        if trap:
            raise wasmtime.Trap._from_ptr(trap)
        value: int = vals[0].i64 if self._wide else vals[0].i32
        return value & self._mask
