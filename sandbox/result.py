"""What one execution produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import SandboxError


@dataclass(frozen=True)
class LogEntry:
    """One console call: level is log, info, warn, error or debug; time is
    seconds since the epoch."""

    level: str
    message: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "message": self.message, "time": self.time}


@dataclass
class RunResult:
    """The outcome of one execution: a value or an error, never both."""

    value: Any = None
    error: SandboxError | None = None
    logs: list[LogEntry] = field(default_factory=list)
    duration: float = 0.0  # wall-clock seconds
    cpu: float = 0.0  # CPU seconds of the executing thread
    host_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None
