"""Invoking a function (a platform workflow of kind "script"): an HTTP POST
to its URL runs the deployed version once, in a fresh sandbox, with the
JSON body as `event.payload` and the answer as the response body. No
instance, no journal and no `step`: a function has no durable runtime."""

from __future__ import annotations

import time
from typing import Any

import bindings
from sandbox import Engine, Limits, RunResult

from ..durable.activator import Activator
from ..durable.definitions import Script


def http_event(payload: Any, workflow_id: str) -> dict[str, Any]:
    """What the function sees as its event."""
    return {"type": "http", "payload": payload, "timestamp": time.time() * 1000,
            "workflowId": workflow_id}


def invoke(engine: Engine, activator: Activator, script: Script, payload: Any, limits: Limits,
           files_limits: bindings.FilesLimits | None = None) -> RunResult:
    """Runs the function once, with the storage the activator gives its
    script; secrets are masked in what comes back."""
    event = http_event(payload, script.name)
    bundle = bindings.build(activator.sources_for(script), account=script.account, event=event,
                            env=script.env.env(), files_limits=files_limits,
                            timeout=limits.timeout, fetch=activator.fetch)
    return bundle.finish(engine.run(activator.artifact(script), bundle.event,
                                    capabilities=bundle.capabilities, data=bundle.data,
                                    limits=limits))
