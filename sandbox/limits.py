"""Execution limits as immutable data, and the pure accounting behind the
limits that the host enforces call by call (host calls, log volume).

Time and CPU are enforced by wasmtime epoch interruption: a ticker thread
advances the engine's epoch every `TICK_SECONDS`; each tick a running store
checks its wall-clock deadline and its thread's CPU time. We chose epochs
over fuel because fuel metering slows QuickJS by about half and epoch checks
by about a quarter (bench/sandbox.py measures the CPU-bound loop), and
thread CPU time measures what an operator pays for: guest and host work.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .build import STACK_SIZE

MiB = 1024 * 1024
# The guest's shadow stack; the JS stack limit must leave room below it for
# the C frames that run after QuickJS's check.
SHADOW_STACK_BYTES = STACK_SIZE
STACK_HEADROOM_BYTES = 512 * 1024


@dataclass(frozen=True)
class Limits:
    """Hard limits for one execution. Each breach is a LimitExceeded whose
    `limit` is the field name."""

    timeout: float = 30.0  # wall-clock seconds, including host calls and timers
    cpu: float = 10.0  # CPU seconds of the executing thread
    memory: int = 64 * MiB  # bytes the JS heap may use
    stack: int = 1 * MiB  # bytes of JS stack (deep recursion)
    host_calls: int = 1000  # binding calls per execution
    host_call_bytes: int = 8 * MiB  # bytes of one host call's request or reply
    log_bytes: int = 64 * 1024  # bytes of console output per execution
    result_bytes: int = 1 * MiB  # bytes of the JSON result

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"limit {f.name} must be a positive number, got {value!r}")
        if self.stack > SHADOW_STACK_BYTES - STACK_HEADROOM_BYTES:
            raise ValueError(f"limit stack must be at most "
                             f"{SHADOW_STACK_BYTES - STACK_HEADROOM_BYTES} bytes")
        if self.memory > 3 * 1024 * MiB:
            raise ValueError("limit memory must be at most 3 GiB (wasm32 address space)")

    def with_timeout(self, seconds: float) -> Limits:
        return dataclasses.replace(self, timeout=seconds)

    def with_cpu(self, seconds: float) -> Limits:
        return dataclasses.replace(self, cpu=seconds)

    def with_memory(self, nbytes: int) -> Limits:
        return dataclasses.replace(self, memory=nbytes)

    def with_stack(self, nbytes: int) -> Limits:
        return dataclasses.replace(self, stack=nbytes)

    def with_host_calls(self, count: int) -> Limits:
        return dataclasses.replace(self, host_calls=count)

    def with_log_bytes(self, nbytes: int) -> Limits:
        return dataclasses.replace(self, log_bytes=nbytes)

    def with_result_bytes(self, nbytes: int) -> Limits:
        return dataclasses.replace(self, result_bytes=nbytes)

    def store_memory_bytes(self) -> int:
        """Linear-memory cap for wasmtime: the JS heap plus the shadow stack,
        static data and allocator slack."""
        return self.memory + SHADOW_STACK_BYTES + 16 * MiB


@dataclass
class Meter:
    """Counts what one execution used of the per-call limits. Each `charge_*`
    returns the name of the breached limit, or None."""

    limits: Limits
    host_calls: int = 0
    log_bytes: int = 0
    breached: str | None = field(default=None)

    def charge_host_call(self) -> str | None:
        self.host_calls += 1
        if self.host_calls > self.limits.host_calls:
            return self._breach("host_calls")
        return None

    def charge_log(self, nbytes: int) -> str | None:
        self.log_bytes += nbytes
        if self.log_bytes > self.limits.log_bytes:
            return self._breach("log_bytes")
        return None

    def _breach(self, limit: str) -> str:
        if self.breached is None:
            self.breached = limit
        return limit
