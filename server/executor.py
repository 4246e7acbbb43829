"""Executing one claimed run: the workflow's artifact, the bindings of its
account, the sandbox, and the outcome as it is recorded. Runs on a worker
thread; never raises for anything user code does."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import bindings
from sandbox import Artifact, ArtifactError, Engine, Limits

from .lru import LRUCache
from .runs import Claim, RunStore
from .workflows import WorkflowStore, compile_code

log = logging.getLogger("flowbox.executor")
CACHED_ARTIFACTS = 512


@dataclass(frozen=True)
class Outcome:
    status: str  # complete or errored
    output: Any
    error: dict[str, Any] | None
    logs: list[dict[str, Any]]


@dataclass(frozen=True)
class _Loaded:
    version: float
    artifact: Artifact
    room_id: str | None


class Executor:
    """Runs claims in the sandbox with the account's bindings."""

    def __init__(self, engine: Engine, workflows: WorkflowStore, sources: bindings.Sources,
                 limits: Limits, files_limits: bindings.FilesLimits | None = None,
                 fetch: bindings.FetchPolicy | None = None) -> None:
        self.engine = engine
        self.workflows = workflows
        self.sources = sources
        self.limits = limits
        self.files_limits = files_limits
        self.fetch = fetch
        self._cache: LRUCache[str, _Loaded] = LRUCache(CACHED_ARTIFACTS)

    def execute(self, claim: Claim) -> Outcome:
        loaded = self._load(claim.workflow_id, claim.workflow_version)
        if loaded is None:
            return Outcome("errored", None, {"code": "workflow_deleted", "name": "Error",
                                             "message": "the workflow was deleted before "
                                                        "this run started"}, [])
        bundle = bindings.build(self.sources, account=claim.account, event=claim.event,
                                room_scope=loaded.room_id, files_limits=self.files_limits,
                                timeout=self.limits.timeout, fetch=self.fetch)
        result = bundle.finish(self.engine.run(
            loaded.artifact, bundle.event, capabilities=bundle.capabilities, data=bundle.data,
            limits=self.limits))
        logs = [entry.to_dict() for entry in result.logs]
        if result.error is not None:
            return Outcome("errored", None, result.error.to_dict(), logs)
        return Outcome("complete", result.value, None, logs)

    def _load(self, workflow_id: str, version: float | None) -> _Loaded | None:
        if version is None:
            return None
        cached = self._cache.get(workflow_id)
        if cached is not None and cached.version == version:
            return cached
        found = self.workflows.runnable(workflow_id)
        if found is None:
            return None
        workflow, stored = found
        try:
            artifact = Artifact.from_bytes(stored)
            artifact.verify(self.engine)
        except ArtifactError as exc:
            # Compiled by another engine build (an upgrade): compile again.
            log.info("recompiling workflow %s: %s", workflow_id, exc)
            artifact = compile_code(self.engine, workflow.code)
            self.workflows.replace_artifact(workflow_id, workflow.updated_at, artifact)
        loaded = _Loaded(workflow.updated_at, artifact, workflow.room_id)
        self._cache.put(workflow_id, loaded)
        return loaded


class RunJobs:
    """Runs of event-triggered workflows, as the dispatcher's job source."""

    prefix = "run"

    def __init__(self, runs: RunStore, executor: Executor, lease: float) -> None:
        self.runs = runs
        self.executor = executor
        self.lease = lease

    def recover(self, *, only_lapsed: bool) -> int:
        return self.runs.requeue(only_lapsed=only_lapsed)

    def renew(self, owner: str) -> None:
        self.runs.renew(owner, self.lease)

    def pending(self, limit: int) -> list[tuple[str, str]]:
        return self.runs.queued(limit)

    def execute(self, item: str, owner: str) -> None:
        claim = self.runs.claim(item, owner, self.lease)
        if claim is None:
            return
        outcome = self.executor.execute(claim)
        if not self.runs.finish(item, owner, outcome.status, outcome.output, outcome.error,
                                outcome.logs):
            log.warning("run %s finished after its lease was lost; its outcome is dropped",
                        item)
