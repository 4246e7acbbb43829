"""Checks of what Cloudflare's workflow API takes, as plain functions: each
returns the parsed value or raises InvalidRequest naming the field."""

from __future__ import annotations

import json
import re
from typing import Any

from bindings import Env, InvalidEnv
from bindings.errors import BindingError
from bindings.stepconfig import parse_duration

from ..errors import InvalidRequest, PayloadTooLarge
from ..workflows import check_event_types
from . import cron
from .definitions import DEFAULT_MAX_STEPS, MAX_WORKFLOW_NAME, ScriptEnv, Settings
from .instances import NewInstance, new_instance_name

# Instance ids and workflow names alike (Cloudflare's pattern).
NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9\-_]*$")
RESERVED_ID = re.compile(r"^cf_[0-9a-f]{64}$")
MAX_INSTANCE_ID = 100
MAX_PARAMS_BYTES = 100 * 1024
MAX_EVENT_BYTES = 1024 * 1024
MAX_EVENT_TYPE = 100
MAX_BATCH = 100
MAX_STEPS_LIMIT = 25_000
RESERVED_BINDINGS = ("store", "room", "files", "step", "env", "event")


def workflow_name(value: str) -> str:
    if not 0 < len(value) <= MAX_WORKFLOW_NAME or not NAME.match(value):
        raise InvalidRequest(f"workflow name must be 1 to {MAX_WORKFLOW_NAME} letters, digits, "
                             "- or _ (not starting with -)", "workflow_name")
    return value


def script_name(value: str) -> str:
    """A Worker script's name: the same rule as a workflow's (no path
    segments, no control or direction characters, at most 64)."""
    if not 0 < len(value) <= MAX_WORKFLOW_NAME or not NAME.match(value):
        raise InvalidRequest(f"script name must be 1 to {MAX_WORKFLOW_NAME} letters, digits, "
                             "- or _ (not starting with -)", "script_name")
    return value


def instance_id(value: Any, field: str = "instance_id") -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_INSTANCE_ID:
        raise InvalidRequest(f"{field} must be a string of 1 to {MAX_INSTANCE_ID} characters",
                             field)
    if not NAME.match(value):
        raise InvalidRequest(f"{field} must match ^[a-zA-Z0-9_][a-zA-Z0-9-_]*$", field)
    if RESERVED_ID.match(value):
        raise InvalidRequest(f"{field}: ids of cf_ and 64 hex digits are reserved", field)
    return value


def duration_seconds(value: Any, field: str) -> float:
    try:
        ms = parse_duration(value, field)
    except BindingError as exc:
        raise InvalidRequest(exc.message, field) from None
    if ms <= 0:
        raise InvalidRequest(f"{field} must be more than 0", field)
    return ms / 1000


def retention(value: Any, field: str) -> tuple[float | None, float | None]:
    """(success, error) retention in seconds from {success_retention, error_retention}."""
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) - {"success_retention", "error_retention"}:
        raise InvalidRequest(f"{field} must be an object with success_retention and/or "
                             "error_retention", field)
    success, error = (value.get(k) for k in ("success_retention", "error_retention"))
    return (duration_seconds(success, f"{field}.success_retention") if success is not None
            else None,
            duration_seconds(error, f"{field}.error_retention") if error is not None else None)


def new_instance(body: Any, field: str = "body") -> NewInstance:
    """One instance to create: {instance_id?, params?, instance_retention?}."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"{field} must be a JSON object", field)
    allowed = ("instance_id", "params", "instance_retention", "location_hint")
    for name in body:
        if name not in allowed:
            raise InvalidRequest(f"unknown field {name!r}; allowed: {', '.join(allowed)}", name)
    name = (instance_id(body["instance_id"]) if body.get("instance_id") is not None
            else new_instance_name())
    # Cloudflare's engine hands code `event.payload = {}` when no params came.
    params = body.get("params", {})
    size = len(json.dumps(params).encode())
    if size > MAX_PARAMS_BYTES:
        raise InvalidRequest(f"params are {size} bytes; the limit is {MAX_PARAMS_BYTES} bytes "
                             "(100 KB)", "params")
    success, error = retention(body.get("instance_retention"), "instance_retention")
    return NewInstance(name, params, success, error)


def batch(body: Any) -> list[NewInstance]:
    if not isinstance(body, list) or not 0 < len(body) <= MAX_BATCH:
        raise InvalidRequest(f"the body must be an array of 1 to {MAX_BATCH} instances", "body")
    items = [new_instance(item, f"body[{i}]") for i, item in enumerate(body)]
    names = [i.name for i in items]
    if len(set(names)) != len(names):
        raise InvalidRequest("the batch names the same instance_id twice", "instance_id")
    return items


def workflow_settings(body: dict[str, Any]) -> tuple[str, str, Settings]:
    """(script_name, class_name, settings) of `PUT …/workflows/{name}`."""
    allowed = ("class_name", "script_name", "concurrency", "limits", "schedules",
               "default_retention", "events")
    for name in body:
        if name not in allowed:
            raise InvalidRequest(f"unknown field {name!r}; allowed: {', '.join(allowed)}", name)
    for key in ("script_name", "class_name"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise InvalidRequest(f"{key} is required (a non-empty string)", key)
    success, error = retention(body.get("default_retention"), "default_retention")
    return body["script_name"], body["class_name"], Settings(
        concurrency=_whole(body.get("concurrency"), "concurrency", "limit", 1, 10_000),
        max_steps=_whole(body.get("limits"), "limits", "steps", 1, MAX_STEPS_LIMIT)
        or DEFAULT_MAX_STEPS,
        success_retention=success, error_retention=error,
        schedules=_schedules(body.get("schedules")), events=_events(body.get("events")))


def _events(value: Any) -> tuple[str, ...]:
    """Flowbox's extension: the platform event types (seed 000) that start
    an instance, whose params are then the event."""
    return () if value is None or value == [] else check_event_types(value)


def _whole(value: Any, field: str, member: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {member}:
        raise InvalidRequest(f"{field} must be an object {{{member}}}", field)
    n = value.get(member)
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not low <= n <= high:
        raise InvalidRequest(f"{field}.{member} must be a whole number from {low} to {high}",
                             f"{field}.{member}")
    return n


def _schedules(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 10:
        raise InvalidRequest("schedules must be an array of at most 10 {cron}", "schedules")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"cron"}:
            raise InvalidRequest("each schedule must be an object {cron}", f"schedules[{i}]")
        try:
            cron.parse(item["cron"])
        except cron.InvalidCron as exc:
            raise InvalidRequest(str(exc), f"schedules[{i}].cron") from None
        out.append(item["cron"])
    return tuple(out)


def status_action(body: dict[str, Any]) -> tuple[str, str | None]:
    """(action, step key to restart from) of `PATCH …/status`."""
    for name in body:
        if name not in ("status", "from", "rollback"):
            raise InvalidRequest(f"unknown field {name!r}; allowed: status, from", name)
    action = body.get("status")
    if action not in ("pause", "resume", "terminate", "restart"):
        raise InvalidRequest("status must be one of pause, resume, terminate, restart", "status")
    start = body.get("from")
    if start is None:
        return action, None
    if action != "restart":
        raise InvalidRequest("from is only for restart", "from")
    if not isinstance(start, dict) or not isinstance(start.get("name"), str):
        raise InvalidRequest("from must be {name, count?, type?}", "from")
    count = start.get("count", 1)
    step_type = start.get("type", "do")
    kind = {"do": "do", "sleep": "sleep", "waitForEvent": "wait"}.get(
        step_type if isinstance(step_type, str) else "")
    if kind is None or isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidRequest("from.type must be do, sleep or waitForEvent and from.count a "
                             "whole number from 1", "from")
    return action, f"{kind}:{start['name']}#{count}"


def event_type(value: str) -> str:
    if not 0 < len(value) <= MAX_EVENT_TYPE:
        raise InvalidRequest(f"event_type must be 1 to {MAX_EVENT_TYPE} characters",
                             "event_type")
    return value


def event_payload(body: bytes) -> Any:
    if len(body) > MAX_EVENT_BYTES:
        raise PayloadTooLarge(f"the event payload is {len(body)} bytes; the limit is "
                              f"{MAX_EVENT_BYTES} bytes (1 MiB)", "body")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest("the event payload must be JSON", "body") from None


def script_env(bindings: Any) -> ScriptEnv:
    """A script's metadata bindings as Flowbox env, secrets, stores, buckets."""
    if bindings is None:
        return ScriptEnv()
    if not isinstance(bindings, list):
        raise InvalidRequest("metadata.bindings must be an array", "metadata.bindings")
    env = ScriptEnv()
    for i, b in enumerate(bindings):
        field = f"metadata.bindings[{i}]"
        if not isinstance(b, dict) or not isinstance(b.get("name"), str):
            raise InvalidRequest("a binding must be an object with a name", field)
        kind, name = b.get("type"), b["name"]
        if name in RESERVED_BINDINGS:
            raise InvalidRequest(f"binding name {name!r} is taken by a Flowbox binding "
                                 f"({', '.join(RESERVED_BINDINGS)})", field)
        if kind in ("plain_text", "secret_text"):
            if not isinstance(b.get("text"), str):
                raise InvalidRequest(f"a {kind} binding needs text", field)
            (env.vars if kind == "plain_text" else env.secrets)[name] = b["text"]
        elif kind == "kv_namespace" and isinstance(b.get("namespace_id"), str):
            env.stores[name] = b["namespace_id"]
        elif kind == "r2_bucket" and isinstance(b.get("bucket_name"), str):
            env.buckets[name] = b["bucket_name"]
        elif kind == "workflow":
            continue  # the workflow itself; PUT …/workflows/{name} defines it
        else:
            raise InvalidRequest(f"binding type {kind!r} is not supported here; supported: "
                                 "plain_text, secret_text, kv_namespace, r2_bucket, workflow",
                                 field)
    try:
        Env(vars=env.vars, secrets=env.secrets)
    except InvalidEnv as exc:
        raise InvalidRequest(str(exc), "metadata.bindings") from None
    return env
