"""One activation of a durable instance: claim it, load its journal, run
the workflow class from the top in a fresh sandbox with the `step`
binding, and record how it ended (complete, errored, or waiting with its
wake-up time). Runs on a dispatcher worker thread; never raises for
anything user code does."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import bindings
from bindings.step import Activation, StepBinding, activation_outcome
from sandbox import Artifact, ArtifactError, Engine, Limits

from ..lru import LRUCache
from .definitions import Definitions, DurableWorkflow, Script, Version
from .instances import Claim, InstanceStore
from .journal import SqlJournal

log = logging.getLogger("flowbox.durable")
CACHED = 256


@dataclass(frozen=True)
class Ended:
    """What an activation left: the claim and its outcome (None when the
    instance was not ready), and whether the outcome was recorded."""

    claim: Claim | None
    outcome: Activation | None = None
    recorded: bool = False
    wake_at: float | None = None  # when the recorded outcome wakes the instance


class Activator:
    """Runs activations of instances."""

    def __init__(self, engine: Engine, definitions: Definitions, instances: InstanceStore,
                 sources: bindings.Sources, limits: Limits, *, lease: float,
                 files_limits: bindings.FilesLimits | None = None,
                 objects_for: Callable[[Script], bindings.ObjectStore] | None = None,
                 fetch: bindings.FetchPolicy | None = None, keepalive: float = 0.0) -> None:
        self.engine = engine
        self.definitions = definitions
        self.instances = instances
        self.sources = sources
        self.limits = limits
        self.lease = lease
        self.files_limits = files_limits
        self.objects_for = objects_for
        self.fetch = fetch
        self.keepalive = keepalive
        self._artifacts: LRUCache[tuple[str, str, float], Artifact] = LRUCache(CACHED)
        # Claims this node holds now (instance id -> owner token), whose
        # leases the dispatcher renews while the activations run.
        self.held: dict[str, str] = {}

    def activate(self, instance_id: str, workflow: DurableWorkflow | None, node: str) -> Ended:
        """One activation of `instance_id` (of `workflow`, whose concurrency
        limit applies) by worker `node`, if the instance is ready."""
        concurrency = workflow.settings.concurrency if workflow else None
        claim = self.instances.claim(instance_id, node, self.lease, concurrency)
        if claim is None:
            return Ended(None)
        self.held[instance_id] = claim.owner
        try:
            return self._activate(claim, workflow)
        finally:
            self.held.pop(instance_id, None)

    def _activate(self, claim: Claim, workflow: DurableWorkflow | None) -> Ended:
        version = self.definitions.version(claim.instance.version_id) if workflow else None
        if version is None and workflow is not None:
            # Instances created before versions were kept run the current script.
            script = self.definitions.script(claim.instance.account, workflow.script_name)
            if script is not None:
                version = Version(claim.instance.version_id, workflow.id, workflow.class_name,
                                  script)
        if workflow is None or version is None:
            outcome = Activation("errored", error={
                "name": "Error", "message": "the workflow or its script was deleted"})
        else:
            outcome = self._run(claim, workflow, version)
        finished = self.instances.finish(claim, outcome)
        return Ended(claim, outcome, finished is not None,
                     finished.wake_at if finished is not None else None)

    def _run(self, claim: Claim, workflow: DurableWorkflow, version: Version) -> Activation:
        instance = claim.instance
        journal = SqlJournal(self.instances.db, instance.id, claim.owner)
        step = StepBinding(journal, journal.load(), max_steps=workflow.settings.max_steps,
                           keepalive=self.keepalive, deadline=time.time() + self.limits.timeout)
        script = version.script
        artifact = self.artifact(script)
        if artifact.kind == "function":
            # Seed 000's style, `(event, bindings)` with `step` among the
            # bindings: the params are the event (an event-started instance's
            # are the platform event itself).
            event = instance.params if isinstance(instance.params, dict) else {
                "payload": instance.params}
            entry = None
        else:
            event = {"payload": instance.params, "timestamp": instance.created_at * 1000,
                     "instanceId": instance.name, "workflowName": workflow.name}
            entry = version.class_name
        sources = self.sources_for(script)
        bundle = bindings.build(sources, account=instance.account, event=event,
                                env=script.env.env(), files_limits=self.files_limits,
                                timeout=self.limits.timeout, fetch=self.fetch)
        capabilities = dict(bundle.capabilities)
        capabilities["step"] = step
        for binding, namespace in script.env.stores.items():
            capabilities[binding] = bindings.StoreBinding(sources.kv, instance.account,
                                                          namespace)
        for binding in script.env.buckets:
            capabilities[binding] = bindings.FilesBinding(
                sources.objects, instance.account, limits=self.files_limits)
        # Replaying a step costs a host call and running one two: the step
        # limit bounds those, so they come on top of the usual allowance.
        limits = dataclasses.replace(self.limits, host_calls=self.limits.host_calls
                                     + 2 * workflow.settings.max_steps)
        result = bundle.finish(self.engine.run(
            artifact, bundle.event, capabilities=capabilities,
            data=bundle.data, limits=limits, entry=entry))
        return activation_outcome(result, step)

    def sources_for(self, script: Script) -> bindings.Sources:
        """The storage a script's bindings use: its `files` may live in the
        bucket of the connection it was deployed to."""
        if self.objects_for is None or script.env.connection is None:
            return self.sources
        return dataclasses.replace(self.sources, objects=self.objects_for(script))

    def artifact(self, script: Script) -> Artifact:
        """The script's artifact, cached; compiled again after an engine
        upgrade."""
        key = (script.account, script.name, script.updated_at)
        cached = self._artifacts.get(key)
        if cached is not None:
            return cached
        try:
            artifact = Artifact.from_bytes(script.artifact)
            artifact.verify(self.engine)
        except ArtifactError as exc:
            log.info("recompiling script %s/%s: %s", script.account, script.name, exc)
            artifact = self.engine.compile(script.code, script.main_module, script.modules)
        self._artifacts.put(key, artifact)
        return artifact
