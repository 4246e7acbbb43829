"""One execution: a fresh wasmtime store and guest instance, the host side
of the call protocol, and the translation of traps into our errors.

An Execution is used once and thrown away, trapped or not: nothing of one
execution can reach the next. It holds no ambient authority: WASI gets no
arguments, environment, preopened directories or inherited stdio.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime import _bindings as ffi

from . import protocol, subtle
from .errors import (
    LIMIT_ERRORS,
    ExecutionFailure,
    GuestCrash,
    MemoryLimitExceeded,
    NeverSettled,
    ResultLimitExceeded,
    SandboxError,
    StackLimitExceeded,
    UserError,
)
from .limits import Limits, Meter
from .protocol import Capability, CapabilityError, Failure, Pending
from .rawcall import RawFunc, export
from .result import LogEntry, RunResult

if TYPE_CHECKING:
    from .artifact import Artifact
    from .engine import Engine

LOG_LEVELS = frozenset(("log", "info", "warn", "error", "debug"))
_OK_NULL = b"onull"

# wasmtime calls the deadline callback every epoch tick while the guest runs;
# returning an error traps the guest. wasmtime-py has no wrapper for it yet.
# The one callback lives on the Engine and routes to check_deadline.
_set_deadline_callback = ffi._wasmtime_store_epoch_deadline_callback
_NO_FINALIZER = _set_deadline_callback.argtypes[3]()


class Execution:
    """A fresh guest instance for one compile or one run."""

    def __init__(self, engine: Engine, limits: Limits,
                 capabilities: Mapping[str, Capability]) -> None:
        self.engine = engine
        self.limits = limits
        self.capabilities = capabilities
        self.meter = Meter(limits)
        self.logs: list[LogEntry] = []
        self.breach: str | None = None
        self.internal_error: str | None = None
        self._pending_reply = b""
        self._ops: dict[int, Pending] = {}
        self._next_op = 1
        self._started = 0.0
        self._cpu_started = 0.0
        self._deadline = 0.0

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> Execution:
        self._started = time.monotonic()
        self._cpu_started = time.thread_time()
        self._deadline = self._started + self.limits.timeout
        store = wasmtime.Store(self.engine.wasmtime)
        store.set_limits(memory_size=self.limits.store_memory_bytes(), instances=1)
        store.set_wasi(wasmtime.WasiConfig())
        store.set_epoch_deadline(1)
        _set_deadline_callback(store.ptr(), self.engine.deadline_callback, None, _NO_FINALIZER)
        self.store = store
        self._outer = self.engine.enter(self)
        try:
            instance = self.engine.instance_pre.instantiate(store)
            memory = export(store, instance, "memory")
            if not isinstance(memory, wasmtime.Memory):
                raise GuestCrash("the guest exports no memory")
            self.memory = memory
            self._alloc = RawFunc(store, _func(export(store, instance, "fb_alloc")), 1)
            self._compile = RawFunc(store, _func(export(store, instance, "fb_compile")), 3, 64)
            self._run = RawFunc(store, _func(export(store, instance, "fb_run")), 4, 64)
            self._modules = RawFunc(store, _func(export(store, instance, "fb_modules")), 2)
            self._compiled_modules = RawFunc(
                store, _func(export(store, instance, "fb_compiled_modules")), 0, 64)
            reset = RawFunc(store, _func(export(store, instance, "fb_reset")), 2)
            self._base = ctypes.addressof(memory.data_ptr(store).contents)
            if reset(self.limits.memory, self.limits.stack) != 0:
                raise GuestCrash("the guest failed to start")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.leave(self._outer)
        self.store.close()
        for op in self._ops.values():  # ended before its operations did
            if op.cancel is not None:
                op.cancel()
            op.future.cancel()
        self._ops.clear()

    # -- memory --------------------------------------------------------------

    def _write(self, data: bytes) -> int:
        """Copies bytes (plus a NUL, which QuickJS wants) into guest memory."""
        ptr = self._alloc(len(data) + 1)
        if not ptr:
            raise MemoryLimitExceeded(self.limits.memory, "input does not fit in memory")
        ctypes.memmove(self._base + ptr, data + b"\0", len(data) + 1)
        return ptr

    def _read(self, ptr: int, length: int) -> bytes:
        return ctypes.string_at(self._base + ptr, length)

    # -- compile and run -----------------------------------------------------

    def compile(self, source: bytes, filename: str,
                modules: Mapping[str, bytes] | None = None) -> Compiled | Failure:
        """Compiles a module in this instance, with the script's other
        modules (name -> source) that it may import; raises LimitExceeded
        or GuestCrash when the compiler itself was stopped."""
        if modules:
            self._hand_over([("s", name, src) for name, src in modules.items()])
        src = self._write(source)
        name = self._write(filename.encode())
        out = self._call(lambda: self._compile(src, len(source), name), limit_result=False)
        parsed = protocol.parse_compile_output(out)
        if isinstance(parsed, Failure):
            return parsed
        others: tuple[tuple[str, bytes], ...] = ()
        if modules:
            others = protocol.parse_compiled_modules(
                self._call(self._compiled_modules, limit_result=False))
        return Compiled(parsed[0], parsed[1], others)

    def _hand_over(self, modules: list[tuple[str, str, bytes]]) -> None:
        data = protocol.encode_modules(modules)
        if self._modules(self._write(data), len(data)) != 0:
            raise GuestCrash("the guest refused the script's modules")

    def run(self, artifact: Artifact, event: Any, data: dict[str, Any],
            entry: str | None = None, sent_events: list[Any] | None = None) -> RunResult:
        """Runs the artifact's entry point; never raises for user failures.
        `sent_events` ({type, payload, timestamp}) answer a workflow class's
        waits when it runs without a durable engine."""
        try:
            payload = json.dumps({
                "export": entry or artifact.export, "event": event, "data": data,
                "sentEvents": sent_events or [],
                "caps": {name: {"methods": list(cap.methods), "adapter": cap.adapter}
                         for name, cap in self.capabilities.items()
                         if not name.startswith(protocol.INTERNAL_PREFIX)},
            }, allow_nan=False).encode()
            if artifact.modules:
                self._hand_over([("b", name, code) for name, code in artifact.modules])
            bc = self._write(artifact.bytecode + b"\0" + payload)
            inp = bc + len(artifact.bytecode) + 1
            out = self._call(lambda: self._run(bc, len(artifact.bytecode), inp, len(payload)))
            parsed = protocol.parse_run_output(out)
            if isinstance(parsed, Failure):
                return self._result(error=failure_error(parsed, self.limits))
            value = json.loads(parsed) if parsed else None
            if parsed and b"\\u" in parsed:  # a lone surrogate would come as an escape
                value = protocol.well_formed(value)
            return self._result(value=value)
        except SandboxError as exc:
            return self._result(error=exc)

    def _result(self, value: Any = None, error: SandboxError | None = None) -> RunResult:
        return RunResult(value=value, error=error, logs=self.logs,
                         duration=time.monotonic() - self._started,
                         cpu=time.thread_time() - self._cpu_started,
                         host_calls=self.meter.host_calls)

    def _call(self, fn: Callable[[], int], limit_result: bool = True) -> bytes:
        """Calls into the guest and returns its output buffer; a trap becomes
        the error that explains it."""
        try:
            packed = fn()
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._explain_trap(exc) from None
        ptr, length = packed & 0xFFFFFFFF, packed >> 32
        if limit_result and length - 1 > self.limits.result_bytes:
            raise ResultLimitExceeded(self.limits.result_bytes,
                                      f"the result is {length - 1} bytes")
        return self._read(ptr, length)

    def _explain_trap(self, exc: Exception) -> SandboxError:
        if self.breach is not None:
            return LIMIT_ERRORS[self.breach](getattr(self.limits, self.breach))
        if self.internal_error is not None:
            return GuestCrash(self.internal_error)
        code = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
        text = str(exc)
        # With --stack-first an overflowing shadow stack runs below address
        # 0 and faults out of bounds; a deep native stack exhausts wasmtime's.
        if code in (wasmtime.TrapCode.STACK_OVERFLOW, wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS):
            return StackLimitExceeded(self.limits.stack, "call stack exhausted")
        if self.memory.data_len(self.store) + 2 * 65536 > self.limits.store_memory_bytes():
            return MemoryLimitExceeded(self.limits.memory)
        return GuestCrash(f"the engine trapped: {text.splitlines()[0] if text else code}")

    # -- host side of the protocol ---------------------------------------------

    def check_deadline(self, delta: Any, kind: Any) -> int:
        """Epoch tick: continue for one more tick, or trap on a breach."""
        try:
            if time.monotonic() >= self._deadline:
                self.breach = self.breach or "timeout"
            elif time.thread_time() - self._cpu_started >= self.limits.cpu:
                self.breach = self.breach or "cpu"
            if self.breach is None:
                delta[0] = 1
                kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
                return 0
        except BaseException:  # must not raise into wasmtime: it would trap anyway
            self.internal_error = "deadline check failed"
        err = ffi.wasmtime_error_new(b"flowbox: execution stopped")
        return ctypes.cast(err, ctypes.c_void_p).value or 0

    def host_call(self, req_ptr: int, req_len: int, reply_ptr: int, reply_cap: int) -> int:
        """Serves one host call; returns the reply length (see protocol.py).
        This is the hot path of every binding call: keep it flat."""
        if req_ptr == 0 and req_len == 0:
            reply, self._pending_reply = self._pending_reply, b""
        elif req_len > self.limits.host_call_bytes:
            reply = _too_big("request", req_len, self.limits.host_call_bytes)
        else:
            try:
                cap, method, args = protocol.decode_request(
                    ctypes.string_at(self._base + req_ptr, req_len))
            except protocol.ProtocolError as exc:
                reply = protocol.encode_error("TypeError", str(exc))
            else:
                if cap == "console":
                    reply = self._console(method, args)
                elif cap == "timer":
                    reply = self._sleep(args)
                elif cap == "loop":
                    reply = self._loop(method, args)
                elif breach := self.meter.charge_host_call():
                    self.breach = breach
                    reply = protocol.FATAL_REPLY
                else:
                    reply = self._dispatch(cap, method, args)
        n = len(reply)
        if n > self.limits.host_call_bytes + 1:
            reply = _too_big("reply", n - 1, self.limits.host_call_bytes)
            n = len(reply)
        if n <= reply_cap:
            ctypes.memmove(self._base + reply_ptr, reply, n)
        else:
            self._pending_reply = reply
        return n

    def _console(self, level: str, parts: list[Any]) -> bytes:
        message = protocol.well_formed(" ".join(str(p) for p in parts))
        if breach := self.meter.charge_log(len(message.encode()) + 1):
            self.breach = breach
            return protocol.FATAL_REPLY
        self.logs.append(LogEntry(level if level in LOG_LEVELS else "log", message, time.time()))
        return _OK_NULL

    def _sleep(self, args: list[Any]) -> bytes:
        delay = args[0] / 1000 if args and isinstance(args[0], (int, float)) else 0.0
        remaining = self._deadline - time.monotonic()
        if delay >= remaining:
            # The timer cannot fire before the deadline: fail now, and free
            # the worker, instead of waiting for the end.
            self.breach = "timeout"
            return protocol.FATAL_REPLY
        time.sleep(max(delay, 0))
        return _OK_NULL

    def _dispatch(self, cap: str, method: str, args: list[Any]) -> bytes:
        capability = self.capabilities.get(cap) if cap != protocol.SUBTLE else subtle.CAPABILITY
        if capability is None and cap == protocol.FETCH:
            return protocol.encode_error("TypeError", "fetch is not available: this execution "
                                                      "was given no network access")
        if capability is None or method not in capability.methods:
            return protocol.encode_error("TypeError", f"{cap}.{method} is not a function")
        return self._reply(f"{cap}.{method}", lambda: capability.call(method, args))

    def _reply(self, what: str, produce: Callable[[], Any]) -> bytes:
        """The reply for what `produce` returns or raises; a Pending result
        is registered as an operation that ends later."""
        try:
            value = produce()
            if isinstance(value, Pending):
                op_id, self._next_op = self._next_op, self._next_op + 1
                self._ops[op_id] = value
                return protocol.encode_pending(op_id)
            return protocol.encode_ok(value)
        except CapabilityError as exc:
            return protocol.encode_error(exc.name, exc.message)
        except Exception as exc:  # a binding's bug must not crash the host or leak details
            return protocol.encode_error("Error", f"{what} failed: internal error "
                                                  f"({type(exc).__name__})")

    def _loop(self, method: str, args: list[Any]) -> bytes:
        """The event loop's side of operations that end later (Pending)."""
        if method == "result":
            op = self._ops.pop(args[0], None) if args and isinstance(args[0], int) else None
            if op is None or not op.future.done():
                return protocol.encode_error("Error", "no such operation has ended")
            return self._reply("the operation", op.future.result)
        wanted = args[0] / 1000 if args and isinstance(args[0], int | float) and args[0] >= 0 \
            else None
        remaining = self._deadline - time.monotonic()
        patience = remaining if wanted is None else min(wanted, remaining)
        futures = [op.future for op in self._ops.values()]
        done, _ = concurrent.futures.wait(futures, timeout=max(patience, 0),
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        if not done and patience >= remaining:
            self.breach = "timeout"  # nothing can end before the deadline
            return protocol.FATAL_REPLY
        return protocol.encode_ok([i for i, op in self._ops.items() if op.future.done()])


@dataclass(frozen=True)
class Compiled:
    """What compiling a module gave: the entry metadata, its bytecode, and
    the bytecode of the script's other modules it imports."""

    meta: dict[str, Any]
    bytecode: bytes
    modules: tuple[tuple[str, bytes], ...] = ()


def _too_big(what: str, size: int, limit: int) -> bytes:
    return protocol.encode_error(
        "RangeError", f"host call {what} of {size} bytes is over the limit "
                      f"host_call_bytes ({limit} bytes)")


def _func(extern: object) -> wasmtime.Func:
    if not isinstance(extern, wasmtime.Func):
        raise GuestCrash("the guest is missing an export")
    return extern


def failure_error(failure: Failure, limits: Limits) -> ExecutionFailure:
    """The error for a failure the guest reported (it did not trap)."""
    if failure.reason == "memory":
        return MemoryLimitExceeded(limits.memory, failure.message)
    if failure.reason == "stack":
        return StackLimitExceeded(limits.stack, failure.message)
    if failure.reason == "never_settled":
        return NeverSettled(failure.message)
    if failure.reason == "not_serializable":
        return UserError("TypeError", f"the result is not JSON-serializable: {failure.message}")
    return UserError(failure.name, failure.message, failure.stack)
