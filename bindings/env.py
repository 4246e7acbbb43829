"""`env`: a workflow's variables and secrets, and the redaction that keeps
secret values inside the sandbox.

Secrets reach user code like any variable. Whatever user code does with
them (log them, throw them, return them), their values are masked in
everything that leaves an execution: logs, error message and stack, result.
Only literal occurrences can be found; a secret that user code transforms
(reverses, encodes) before printing cannot be recognised.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from sandbox import RunResult, UserError

NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
MASK = "[redacted]"
# Shorter values would mask innocent text everywhere; refused at creation.
MIN_SECRET_CHARS = 4


class InvalidEnv(ValueError):
    """A variable or secret that cannot be handed to a workflow."""


@dataclasses.dataclass(frozen=True)
class Env:
    """Variables and secrets by name (`^[A-Z][A-Z0-9_]*$`). A secret
    shadows a variable of the same name."""

    vars: Mapping[str, str] = dataclasses.field(default_factory=dict)
    secrets: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for kind, table in (("variable", self.vars), ("secret", self.secrets)):
            for name, value in table.items():
                if not NAME.match(name):
                    raise InvalidEnv(f"{kind} name {name!r} must match ^[A-Z][A-Z0-9_]*$")
                if not isinstance(value, str):
                    raise InvalidEnv(f"{kind} {name} must be a string")
        for name, value in self.secrets.items():
            if len(value) < MIN_SECRET_CHARS:
                raise InvalidEnv(f"secret {name} must be at least {MIN_SECRET_CHARS} "
                                 "characters long")

    def values(self) -> dict[str, str]:
        """What user code sees."""
        return {**self.vars, **self.secrets}

    def redact_text(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for value in sorted(self.secrets.values(), key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def redact(self, result: RunResult) -> RunResult:
        """The result with every secret value masked."""
        if not self.secrets:
            return result
        logs = [dataclasses.replace(e, message=self.redact_text(e.message)) for e in result.logs]
        error = result.error
        if isinstance(error, UserError):
            error = UserError(self.redact_text(error.name), self.redact_text(error.reason),
                              self.redact_text(error.stack) if error.stack else None)
        return dataclasses.replace(result, value=self.redact_value(result.value), error=error,
                                   logs=logs)

    def redact_value(self, value: Any) -> Any:
        """A JSON value with every secret value masked in its strings."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        if isinstance(value, dict):
            return {self.redact_text(k): self.redact_value(v) for k, v in value.items()}
        return value
