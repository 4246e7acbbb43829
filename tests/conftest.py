"""Shared fixtures: one sandbox engine per test session (it is thread-safe
and every execution gets a fresh instance anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bindings
from sandbox import Artifact, Engine, RunResult


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine(adapters=bindings.ADAPTERS) as e:
        yield e


@pytest.fixture
def run(engine: Engine):  # type: ignore[no-untyped-def]
    """Compiles and runs a snippet: run(source, event=None, **run_kwargs)."""

    def _run(source: str, event: Any = None, filename: str = "workflow.js",
             **kwargs: Any) -> RunResult:
        artifact: Artifact = engine.compile(source, filename)
        return engine.run(artifact, event, **kwargs)

    return _run
