"""Errors of the sandbox. One tree; the server maps it to HTTP in one place.

    SandboxError
    ├── CompileError            the source does not compile (message, line, column)
    ├── ArtifactError           bytecode that Flowbox did not produce, or for another engine build
    ├── GuestCrash              the engine itself failed (a bug, never the user's fault)
    └── ExecutionFailure        an execution ended without a value
        ├── UserError           user code threw or rejected (name, message, stack)
        ├── NeverSettled        the entry's promise can never settle
        └── LimitExceeded       a hard limit was breached; `limit` names it
            ├── TimeLimitExceeded       "timeout"
            ├── CpuLimitExceeded        "cpu"
            ├── MemoryLimitExceeded     "memory"
            ├── StackLimitExceeded      "stack"
            ├── HostCallLimitExceeded   "host_calls"
            ├── LogLimitExceeded        "log_bytes"
            └── ResultLimitExceeded     "result_bytes"
"""

from __future__ import annotations

from typing import Any, ClassVar


class SandboxError(Exception):
    """Root of every error the sandbox reports."""

    code: ClassVar[str] = "sandbox_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, safe to store in a run record."""
        return {"code": self.code, "name": type(self).__name__, "message": self.message}


class CompileError(SandboxError):
    """The user's source does not compile; line and column are 1-based."""

    code = "compile_error"

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 filename: str | None = None) -> None:
        where = f" ({filename or 'source'}:{line}:{column})" if line is not None else ""
        super().__init__(message + where)
        self.reason = message
        self.line = line
        self.column = column
        self.filename = filename

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "line": self.line, "column": self.column}


class ArtifactError(SandboxError):
    """Refused to load an artifact: not signed by this installation, or built
    for another engine version (recompile from source)."""

    code = "artifact_error"


class GuestCrash(SandboxError):
    """The engine failed in a way user code cannot cause on purpose."""

    code = "guest_crash"


class ExecutionFailure(SandboxError):
    """An execution ended without a value."""

    code = "execution_failed"


class UserError(ExecutionFailure):
    """User code threw, or its promise rejected."""

    code = "user_error"

    def __init__(self, name: str, message: str, stack: str | None = None) -> None:
        super().__init__(f"{name}: {message}" if name else message)
        self.name = name
        self.reason = message
        self.stack = stack

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "message": self.reason, "stack": self.stack}


class NeverSettled(ExecutionFailure):
    """The entry returned a promise that nothing left could ever settle."""

    code = "never_settled"


class LimitExceeded(ExecutionFailure):
    """A hard limit was breached. `limit` is the name of the Limits field."""

    code = "limit_exceeded"
    limit: ClassVar[str] = ""

    def __init__(self, value: float | int, detail: str = "") -> None:
        self.value = value
        text = f"{self.limit} limit exceeded ({_describe(self.limit, value)})"
        super().__init__(f"{text}: {detail}" if detail else text)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "limit": self.limit, "value": self.value}


def _describe(limit: str, value: float | int) -> str:
    if limit in ("timeout", "cpu"):
        return f"{value:g} s"
    if limit in ("memory", "stack", "log_bytes", "result_bytes"):
        return f"{int(value)} bytes"
    return f"{value}"


class TimeLimitExceeded(LimitExceeded):
    limit = "timeout"


class CpuLimitExceeded(LimitExceeded):
    limit = "cpu"


class MemoryLimitExceeded(LimitExceeded):
    limit = "memory"


class StackLimitExceeded(LimitExceeded):
    limit = "stack"


class HostCallLimitExceeded(LimitExceeded):
    limit = "host_calls"


class LogLimitExceeded(LimitExceeded):
    limit = "log_bytes"


class ResultLimitExceeded(LimitExceeded):
    limit = "result_bytes"


LIMIT_ERRORS: dict[str, type[LimitExceeded]] = {
    cls.limit: cls
    for cls in (TimeLimitExceeded, CpuLimitExceeded, MemoryLimitExceeded, StackLimitExceeded,
                HostCallLimitExceeded, LogLimitExceeded, ResultLimitExceeded)
}
