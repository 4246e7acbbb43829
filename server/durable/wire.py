"""Durable workflows and instances as Cloudflare's API answers them (the
shapes of the official SDK's `cloudflare.types.workflows` models). Secret
values of the script's env are masked in everything user code produced."""

from __future__ import annotations

import json
from typing import Any

from bindings import Env, iso_time
from bindings.journal import StepRecord

from . import cron
from .definitions import DurableWorkflow
from .instances import Instance


def _iso(t: float | None) -> str | None:
    return iso_time(t) if t is not None else None


def workflow(w: DurableWorkflow, counts: dict[str, int] | None = None) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": w.id, "name": w.name, "class_name": w.class_name, "script_name": w.script_name,
        "created_on": iso_time(w.created_at), "modified_on": iso_time(w.modified_at),
        "triggered_on": _iso(w.triggered_on), "version_id": w.version_id,
        "is_deleted": 0, "terminator_running": 0,
        "instances": dict(counts or {}),
        "schedules": [{"cron": e, "next_instance": iso_time(
            cron.next_after(cron.parse(e), w.triggered_on or w.modified_at))}
            for e in w.settings.schedules],
        "limits": {"steps": w.settings.max_steps},
        "concurrency": {"limit": w.settings.concurrency},
    }
    return wire


def created(i: Instance) -> dict[str, Any]:
    return {"id": i.name, "status": i.status, "version_id": i.version_id,
            "workflow_id": i.workflow_id, "trigger_source": i.trigger}


def summary(i: Instance) -> dict[str, Any]:
    return {**created(i), "created_on": iso_time(i.created_at),
            "modified_on": iso_time(i.modified_at), "started_on": _iso(i.started_at),
            "ended_on": _iso(i.ended_at)}


def detail(i: Instance, steps: list[StepRecord], env: Env, *, simple: bool = False,
           descending: bool = False) -> dict[str, Any]:
    error = i.error
    wire: dict[str, Any] = {
        "status": i.status, "params": i.params, "trigger": {"source": i.trigger},
        "versionId": i.version_id, "queued": iso_time(i.created_at),
        "start": _iso(i.started_at), "end": _iso(i.ended_at),
        "success": None if i.status not in ("complete", "errored") else i.status == "complete",
        "output": env.redact_value(i.output) if i.output is not None else None,
        "error": _error(error, env),
        "step_count": len(steps),
        "steps": [] if simple else [step(s, env) for s in
                                    (reversed(steps) if descending else steps)],
    }
    if i.status == "terminated":
        wire["steps"].append({"type": "termination", "trigger": {"source": "api"}})
    return wire


def step(s: StepRecord, env: Env) -> dict[str, Any]:
    error = _error(s.error, env) if s.status == "errored" else None
    output = env.redact_value(json.loads(s.output)) if s.output is not None else None
    if s.kind == "do":
        return {"type": "step", "name": s.name, "start": iso_time(s.start), "end": _iso(s.end),
                "success": None if s.status == "running" else s.status == "complete",
                "config": s.config, "output": output,
                "attempts": [{"start": iso_time(a.start), "end": _iso(a.end),
                              "success": a.error is None if a.end is not None else None,
                              "error": _error(a.error, env)} for a in s.attempts]}
    end = s.end if s.end is not None else s.wake_at
    if s.kind == "sleep":
        return {"type": "sleep", "name": s.name, "start": iso_time(s.start), "end": _iso(end),
                "finished": s.status == "complete", "error": None}
    return {"type": "waitForEvent", "name": s.name, "start": iso_time(s.start),
            "end": _iso(end), "finished": s.status != "running", "event_type": s.event_type,
            "output": output, "error": error}


def _error(error: dict[str, Any] | None, env: Env) -> dict[str, str] | None:
    if not error:
        return None
    return {"name": env.redact_text(str(error.get("name", "Error"))),
            "message": env.redact_text(str(error.get("message", "")))}
