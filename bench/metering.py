"""What CPU metering costs: the same guest and CPU-bound loop under wasmtime
with no interruption, with epoch interruption and with fuel metering; and
the loop as Flowbox really runs it (sandbox.Engine: epochs advanced by the
5 ms ticker, the deadline callback checking wall clock and thread CPU time
at each tick, a fresh instance from the snapshot).

    .venv/bin/python bench/metering.py [--json]

The first three run the guest through the same exports Flowbox uses; only
the wasmtime configuration differs (the epoch row never ticks, so it shows
the cost of the checks compiled into the code, not of the callback).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import sys
import time
from pathlib import Path

import wasmtime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import build
from sandbox.limits import Limits
from sandbox.protocol import parse_compile_output

LOOP = ("export default async function (e) { let a = 0;"
        " for (let i = 0; i < 5000000; i++) a = (a + i) % 1000003; return a }")
REPS = 5


def _instance(engine: wasmtime.Engine, module: wasmtime.Module,
              mode: str) -> tuple[wasmtime.Store, dict[str, wasmtime.Func], int]:
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    if mode == "epoch":
        store.set_epoch_deadline(1 << 62)
    if mode == "fuel":
        store.set_fuel(1 << 62)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    i32 = wasmtime.ValType.i32()
    linker.define_func("flowbox", "call", wasmtime.FuncType([i32] * 4, [i32]), lambda *a: -1)
    exports = linker.instantiate(store, module).exports(store)
    funcs = {n: exports[n] for n in ("_initialize", "fb_init", "fb_reset", "fb_alloc",
                                     "fb_compile", "fb_run")}
    memory = exports["memory"]
    assert isinstance(memory, wasmtime.Memory)
    funcs["_initialize"](store)  # type: ignore[operator]
    funcs["fb_init"](store)  # type: ignore[operator]
    funcs["fb_reset"](store, Limits.memory, Limits.stack)  # type: ignore[operator]
    return store, funcs, ctypes.addressof(memory.data_ptr(store).contents)  # type: ignore[misc]


def _write(store: wasmtime.Store, funcs: dict, base: int, data: bytes) -> int:  # type: ignore[type-arg]
    ptr: int = funcs["fb_alloc"](store, len(data) + 1)
    ctypes.memmove(base + ptr, data + b"\0", len(data) + 1)
    return ptr


def measure(mode: str, wasm: bytes) -> float:
    config = wasmtime.Config()
    config.epoch_interruption = mode == "epoch"
    config.consume_fuel = mode == "fuel"
    config.cranelift_opt_level = "speed"
    engine = wasmtime.Engine(config)
    module = wasmtime.Module(engine, wasm)
    store, funcs, base = _instance(engine, module, mode)
    out = funcs["fb_compile"](store, _write(store, funcs, base, LOOP.encode()), len(LOOP),
                              _write(store, funcs, base, b"loop.js"))
    packed = out & 0xFFFFFFFFFFFFFFFF
    meta_bc = parse_compile_output(ctypes.string_at(base + (packed & 0xFFFFFFFF), packed >> 32))
    assert isinstance(meta_bc, tuple)
    bytecode = meta_bc[1]
    samples = []
    for _ in range(REPS):
        store, funcs, base = _instance(engine, module, mode)
        payload = b'{"export":"default","event":null,"data":{},"caps":{}}'
        bc = _write(store, funcs, base, bytecode)
        inp = _write(store, funcs, base, payload)
        t = time.perf_counter()
        funcs["fb_run"](store, bc, len(bytecode), inp, len(payload))
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def measure_flowbox() -> float:
    """The loop through sandbox.Engine, ticker and deadline callback included."""
    from sandbox import Engine

    with Engine() as engine:
        artifact = engine.compile(LOOP, "loop.js")
        limits = Limits(timeout=60, cpu=60)
        samples = []
        for _ in range(REPS):
            result = engine.run(artifact, None, limits=limits)
            assert result.error is None, result.error
            samples.append(result.duration * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    wasm = build.WASM_PATH.read_bytes()
    ms = {mode: measure(mode, wasm) for mode in ("none", "epoch", "fuel")}
    ms["flowbox"] = measure_flowbox()
    print(f"{'metering':10s} {'loop (ms)':>10s} {'vs none':>8s}")
    for mode, value in ms.items():
        print(f"{mode:10s} {value:10.1f} {value / ms['none']:8.2f}")
    if args.json:
        print(json.dumps({"none_ms": round(ms["none"], 1), "epoch_ms": round(ms["epoch"], 1),
                          "fuel_ms": round(ms["fuel"], 1), "flowbox_ms": round(ms["flowbox"], 1),
                          "epoch_overhead": round(ms["epoch"] / ms["none"] - 1, 3),
                          "flowbox_overhead": round(ms["flowbox"] / ms["none"] - 1, 3),
                          "fuel_overhead": round(ms["fuel"] / ms["none"] - 1, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
