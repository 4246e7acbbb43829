"""The Flowbox sandbox: user JavaScript/TypeScript compiled to QuickJS-NG
bytecode and run in a fresh wasmtime instance under hard limits.

    with Engine() as engine:
        artifact = engine.compile(source, "workflow.ts")
        result = engine.run(artifact, event, capabilities={...}, limits=Limits())

Knows nothing of HTTP, tenants, storage or workflows; bindings reach user
code only as the `capabilities` a caller hands to `run`.
"""

from .artifact import Artifact
from .engine import Engine
from .errors import (
    ArtifactError,
    CompileError,
    CpuLimitExceeded,
    ExecutionFailure,
    GuestCrash,
    HostCallLimitExceeded,
    LimitExceeded,
    LogLimitExceeded,
    MemoryLimitExceeded,
    NeverSettled,
    ResultLimitExceeded,
    SandboxError,
    StackLimitExceeded,
    TimeLimitExceeded,
    UserError,
)
from .limits import Limits
from .protocol import Binary, Capability, CapabilityError, Pending
from .result import LogEntry, RunResult

__all__ = [
    "Artifact", "ArtifactError", "Binary", "Capability", "CapabilityError", "CompileError",
    "CpuLimitExceeded", "Engine", "ExecutionFailure", "GuestCrash", "HostCallLimitExceeded",
    "LimitExceeded", "Limits", "LogEntry", "LogLimitExceeded", "MemoryLimitExceeded",
    "NeverSettled", "Pending", "ResultLimitExceeded", "RunResult", "SandboxError",
    "StackLimitExceeded", "TimeLimitExceeded", "UserError",
]
