"""The /client/v4 part of the OpenAPI document: Cloudflare's Workers script
and Workflows routes as Flowbox serves them, in Cloudflare's envelope
(`{success, errors, messages, result}`). The shapes of `result` are
Cloudflare's; docs/runtime.md and README say what Flowbox adds."""

from __future__ import annotations

from typing import Any

CF = "/client/v4/accounts/{accountId}"
WORKFLOW = CF + "/workflows/{workflowName}"
INSTANCES = WORKFLOW + "/instances"
INSTANCE = INSTANCES + "/{instanceId}"
STATUSES = ["queued", "running", "paused", "errored", "terminated", "complete", "waiting",
            "waitingForPause", "unknown"]


def _param(name: str, where: str = "path", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path",
            "schema": schema or {"type": "string", "minLength": 1}}


def _envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {
        "type": "object", "required": ["success", "errors", "messages", "result"],
        "properties": {"success": {"const": True}, "errors": {"type": "array"},
                       "messages": {"type": "array"}, "result": result,
                       "result_info": {"type": "object"}}}}}}


ERROR = {"description": "An error: success false, errors [{code, message}]",
         "content": {"application/json": {"schema": {
             "type": "object", "required": ["success", "errors"],
             "properties": {"success": {"const": False}, "errors": {"type": "array", "items": {
                 "type": "object", "required": ["code", "message"]}}}}}}}
OBJECT = {"type": "object"}
LIST = {"type": "array", "items": OBJECT}


def _op(summary: str, result: dict[str, Any], scope: str, params: list[str] | None = None,
        query: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "description": f"Needs an API key with the `{scope}` scope.",
        "parameters": [_param(p) for p in ["accountId", *(params or [])]] + (query or []),
        "responses": {status: {"description": summary, **_envelope(result)}, "default": ERROR},
        "security": [{"bearer": []}]}
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    return op


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


UPLOAD = {"multipart/form-data": {"schema": {
    "type": "object", "required": ["metadata"],
    "properties": {"metadata": {"type": "string", "description":
                                "JSON: main_module (a part's name) and bindings"}},
    "additionalProperties": {"type": "string", "format": "binary",
                             "description": "a module; its content type says its kind"}}}}
CREATE = {"type": "object", "properties": {
    "instance_id": {"type": "string"}, "params": {},
    "instance_retention": OBJECT}}
PAGE = [_param("page", "query", {"type": "integer", "minimum": 1}),
        _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 100})]


def cf_paths() -> dict[str, Any]:
    """The /client/v4 operations."""
    script = CF + "/workers/scripts/{scriptName}"
    return {
        script: {
            "put": _op("Upload a Worker script (its modules)", OBJECT, "write", ["scriptName"],
                       body=UPLOAD),
            "get": _op("Get a script", OBJECT, "read", ["scriptName"]),
            "delete": _op("Delete a script", OBJECT, "write", ["scriptName"])},
        CF + "/workflows": {
            "get": _op("List workflows", LIST, "read",
                       query=[*PAGE, _param("search", "query", {"type": "string"})])},
        WORKFLOW: {
            "put": _op("Create or update a workflow (script, class, settings)", OBJECT, "write",
                       ["workflowName"], body=_json({
                           "type": "object", "required": ["class_name", "script_name"],
                           "properties": {"class_name": {"type": "string"},
                                          "script_name": {"type": "string"}}})),
            "get": _op("Get a workflow with its instance counts", OBJECT, "read",
                       ["workflowName"]),
            "delete": _op("Delete a workflow and its instances", OBJECT, "write",
                          ["workflowName"])},
        INSTANCES: {
            "post": _op("Create an instance", OBJECT, "write", ["workflowName"],
                        body=_json(CREATE), status="201"),
            "get": _op("List instances", LIST, "read", ["workflowName"], query=[
                *PAGE, _param("status", "query", {"enum": STATUSES}),
                _param("cursor", "query", {"type": "string"})])},
        INSTANCES + "/batch": {
            "post": _op("Create up to 100 instances", LIST, "write", ["workflowName"],
                        body=_json({"type": "array", "items": CREATE}), status="201")},
        INSTANCES + "/batch/delete": {
            "post": _op("Delete up to 100 instances", OBJECT, "write", ["workflowName"],
                        body=_json({"type": "object", "properties": {
                            "instance_ids": {"type": "array", "items": {"type": "string"}}}}))},
        INSTANCE: {
            "get": _op("Get an instance: status, params, output, error, steps", OBJECT, "read",
                       ["workflowName", "instanceId"], query=[
                           _param("order", "query", {"enum": ["asc", "desc"]}),
                           _param("simple", "query", {"enum": ["true", "false"]})]),
            "delete": _op("Delete an instance", OBJECT, "write",
                          ["workflowName", "instanceId"])},
        INSTANCE + "/status": {
            "patch": _op("Pause, resume, terminate or restart an instance", OBJECT, "write",
                         ["workflowName", "instanceId"], body=_json({
                             "type": "object", "required": ["status"], "properties": {
                                 "status": {"enum": ["pause", "resume", "terminate",
                                                     "restart"]},
                                 "from": OBJECT}}))},
        INSTANCE + "/events/{eventType}": {
            "post": _op("Send an event to an instance's waitForEvent", OBJECT, "write",
                        ["workflowName", "instanceId", "eventType"], body=_json({}))},
    }


def service_paths() -> dict[str, Any]:
    """/health and this document itself: no key needed."""
    return {
        "/health": {"get": {
            "summary": "Whether this node can serve: 200, or 503 while its database is "
                       "out of reach. Never rate limited.",
            "responses": {
                "200": {"description": "serving", **_json_content({
                    "type": "object", "required": ["status", "database", "backlog"],
                    "properties": {"status": {"const": "ok"}, "database": {"const": "ok"},
                                   "backlog": {"type": "integer", "minimum": 0}}})},
                "503": {"description": "the database cannot be reached", **_json_content({
                    "type": "object", "required": ["status"],
                    "properties": {"status": {"const": "unavailable"}}})}}}},
        "/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  **_json_content({"type": "object"})}}}},
    }


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": _json(schema)}
