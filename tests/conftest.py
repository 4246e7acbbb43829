"""Shared fixtures: one sandbox engine per test session (it is thread-safe
and every execution gets a fresh instance anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Artifact, Engine, Limits, RunResult


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine() as e:
        yield e


@pytest.fixture
def run(engine: Engine):  # type: ignore[no-untyped-def]
    """Compiles and runs a snippet: run(source, event=None, **run_kwargs)."""

    def _run(source: str, event: Any = None, filename: str = "workflow.js",
             **kwargs: Any) -> RunResult:
        artifact: Artifact = engine.compile(source, filename)
        return engine.run(artifact, event, **kwargs)

    return _run


SMALL = Limits(timeout=3.0, cpu=1.0, memory=32 * 1024 * 1024, host_calls=50,
               log_bytes=4096, result_bytes=64 * 1024)


class Recorder:
    """A capability that records its calls and answers from a table."""

    def __init__(self, methods: dict[str, Any]) -> None:
        self.methods = list(methods)
        self._answers = methods
        self.calls: list[tuple[str, list[Any]]] = []

    def call(self, method: str, args: list[Any]) -> Any:
        self.calls.append((method, args))
        answer = self._answers[method]
        return answer(*args) if callable(answer) else answer
