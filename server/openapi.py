"""The OpenAPI 3.1 document served at /openapi.json. It is written out by
hand, route by route; tests check that it names exactly the app's routes
and run schemathesis against a live server with it."""

from __future__ import annotations

from typing import Any

from bindings import EVENT_TYPES

from .openapi_cf import cf_paths, service_paths
from .openapi_platform import platform_paths, platform_schemas
from .runs import STATUSES

ACCOUNT = "/v1/accounts/{accountId}"
NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    """The success envelope around `data` properties."""
    return {"type": "object", "required": ["type", "success", "description", "data", "error"],
            "properties": {
                "type": {"const": "response"}, "success": {"const": True},
                "description": {"type": "string"},
                "data": {"type": "object", "required": list(data), "properties": data},
                "error": {"type": "null"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _with_form(schema: dict[str, Any]) -> dict[str, Any]:
    """JSON, or the same fields as a form: code a file, events repeated or
    comma-separated, enabled true or false."""
    form = {"type": "object", "properties": {
        "name": {"type": "string"}, "code": {"type": "string", "format": "binary"},
        "events": {"type": "string"}, "roomId": {"type": "string"},
        "enabled": {"enum": ["true", "false"]}}}
    return {"content": {"application/json": {"schema": schema},
                        "multipart/form-data": {"schema": form}}}


def _param(name: str, where: str = "path", schema: dict[str, Any] | None = None,
           description: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path",
            "schema": schema or {"type": "string", "minLength": 1},
            **({"description": description} if description else {})}


PAGE = [_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
               "items per page (default 50)"),
        _param("cursor", "query", {"type": "string"}, "next_cursor of the previous page")]


def _op(summary: str, ok: dict[str, Any], *, status: str | tuple[str, ...] = "200",
        params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        scope: str = "read") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "description": f"Needs an API key with the `{scope}` scope.",
        "parameters": [_param("accountId"), *(params or [])],
        "responses": {**{code: {"description": summary, **ok}
                         for code in ((status,) if isinstance(status, str) else status)},
                      "default": {"description": "An error, in the envelope",
                                  **_json(_ref("ErrorEnvelope"))}},
        "security": [{"bearer": []}]}
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    return op


def _ok(data: dict[str, Any]) -> dict[str, Any]:
    return _json(_envelope(data))


BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string",
                                                                "format": "binary"}}}}


def _schemas() -> dict[str, Any]:
    workflow_fields = {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "code": {"type": "string", "minLength": 1, "description": "JavaScript or TypeScript"},
        "events": {"type": "array", "minItems": 1, "items": _ref("EventType")},
        "roomId": {"type": ["string", "null"], "minLength": 1, "maxLength": 256}}
    return {
        "EventType": {"enum": list(EVENT_TYPES)},
        "ErrorEnvelope": {
            "type": "object", "required": ["type", "success", "description", "data", "error"],
            "properties": {
                "type": {"const": "response"}, "success": {"const": False},
                "description": {"type": "string"}, "data": {"type": "null"},
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "field": {"type": "string"}}}}},
        "Workflow": {
            "type": "object",
            "required": ["id", "organization_id", "name", "code", "events", "room_id",
                         "enabled", "created_at", "updated_at"],
            "properties": {"id": {"type": "string", "pattern": "^wf_"},
                           "organization_id": {"type": "string"}, "name": {"type": "string"},
                           "code": {"type": "string"},
                           "events": {"type": "array", "items": _ref("EventType")},
                           "room_id": NULLABLE_STRING, "enabled": {"type": "boolean"},
                           "created_at": TIME, "updated_at": TIME}},
        "WorkflowCreate": {"type": "object", "additionalProperties": False,
                           "required": ["name", "code", "events"],
                           "properties": workflow_fields},
        "WorkflowUpdate": {"type": "object", "additionalProperties": False, "minProperties": 1,
                           "properties": {**workflow_fields, "enabled": {"type": "boolean"}}},
        "EventIn": {"type": "object", "additionalProperties": False, "required": ["type"],
                    "properties": {"type": _ref("EventType"), "data": {
                        "type": "object", "properties": {
                            "roomId": {"type": "string", "minLength": 1},
                            "userId": {"type": "string", "minLength": 1}}}}},
        "Event": {"type": "object", "required": ["id", "type", "timestamp", "accountId", "data"],
                  "properties": {"id": {"type": "string"}, "type": _ref("EventType"),
                                 "timestamp": TIME, "accountId": {"type": "string"},
                                 "roomId": {"type": "string"}, "data": {"type": "object"}}},
        "Run": {
            "type": "object",
            "required": ["id", "organization_id", "workflow_id", "event_id", "status",
                         "attempts", "created_at", "started_at", "finished_at", "duration_ms",
                         "output", "error"],
            "properties": {
                "id": {"type": "string"}, "organization_id": {"type": "string"},
                "workflow_id": {"type": "string"}, "event_id": {"type": "string"},
                "status": {"enum": list(STATUSES)}, "attempts": {"type": "integer"},
                "created_at": TIME, "started_at": {"type": ["string", "null"]},
                "finished_at": {"type": ["string", "null"]},
                "duration_ms": {"type": ["number", "null"]}, "output": {},
                "error": {"type": ["object", "null"]},
                "logs": {"type": "array", "items": {
                    "type": "object", "required": ["level", "message", "time"],
                    "properties": {"level": {"type": "string"}, "message": {"type": "string"},
                                   "time": TIME}}}}},
        "RoomIn": {"type": "object", "additionalProperties": False, "properties": {
            "name": NULLABLE_STRING, "metadata": {"type": "object"}}},
        "UserIn": {"type": "object", "additionalProperties": False, "properties": {
            "name": NULLABLE_STRING, "email": NULLABLE_STRING, "metadata": {"type": "object"}}},
        "Room": {"type": "object", "required": ["id", "name", "metadata", "participants"],
                 "properties": {"id": {"type": "string"}, "name": NULLABLE_STRING,
                                "metadata": {"type": "object"},
                                "participants": {"type": "array", "items": {
                                    "type": "object", "required": ["userId", "joinedAt"]}}}},
        "RoomListed": {"type": "object", "required": ["id", "name", "metadata"],
                       "properties": {"id": {"type": "string"}, "name": NULLABLE_STRING,
                                      "metadata": {"type": "object"}}},
        "User": {"type": "object", "required": ["id", "name", "email", "metadata"],
                 "properties": {"id": {"type": "string"}, "name": NULLABLE_STRING,
                                "email": NULLABLE_STRING, "metadata": {"type": "object"}}},
        "File": {"type": "object", "required": ["key", "size", "etag", "uploaded"],
                 "properties": {"key": {"type": "string"}, "size": {"type": "integer"},
                                "etag": {"type": "string"}, "uploaded": TIME,
                                "httpMetadata": {"type": "object"},
                                "customMetadata": {"type": "object"}}},
    }


def _paths() -> dict[str, Any]:
    wf, run, room, user = (_param("workflowId"), _param("runId"), _param("roomId"),
                           _param("userId"))
    store = _param("store", schema={"type": "string",
                                    "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"})
    key = _param("key")
    room_query = _param("roomId", "query", {"type": "string", "minLength": 1},
                        "address the files of this room")
    cursor = {"type": ["string", "null"]}
    one_wf = _ok({"workflow": _ref("Workflow")})
    accepted = _ok({
        "event": _ref("Event"),
        "runs": {"type": "array", "items": {"type": "object", "required": [
            "id", "workflow_id", "status"]}}})
    return {
        f"{ACCOUNT}/workflows": {
            "post": _op("Register a workflow (JSON, or a form whose code is a file)", one_wf,
                        status="201", scope="write", body=_with_form(_ref("WorkflowCreate"))),
            "get": _op("List workflows", _ok({"workflows": {"type": "array",
                                                            "items": _ref("Workflow")},
                                              "next_cursor": cursor}), params=PAGE)},
        f"{ACCOUNT}/workflows/{{workflowId}}": {
            "get": _op("Get a workflow", one_wf, params=[wf]),
            "patch": _op("Update a workflow (JSON, or a form)", one_wf, params=[wf],
                         scope="write", body=_with_form(_ref("WorkflowUpdate"))),
            "delete": _op("Delete a workflow", one_wf, params=[wf], scope="write")},
        f"{ACCOUNT}/workflows/{{workflowId}}/test": {
            "post": _op("Send a test event to this workflow only (enabled or not; presence "
                        "and users unchanged)", accepted, status="202", params=[wf],
                        scope="write", body=_json({
                            "type": "object", "additionalProperties": False, "properties": {
                                "type": {"enum": list(EVENT_TYPES)}, "data": {}}}))},
        f"{ACCOUNT}/events": {
            "post": _op("Send a platform event", accepted, status="202", scope="write",
                params=[_param("Idempotency-Key", "header",
                               {"type": "string", "minLength": 1, "maxLength": 255})],
                body=_json(_ref("EventIn")))},
        f"{ACCOUNT}/runs": {
            "get": _op("List runs, newest first", _ok({
                "runs": {"type": "array", "items": _ref("Run")}, "next_cursor": cursor}),
                params=[*PAGE, _param("workflow_id", "query"),
                        _param("status", "query", {"enum": list(STATUSES)}),
                        _param("since", "query", {"type": "string", "format": "date-time"}),
                        _param("until", "query", {"type": "string", "format": "date-time"})])},
        f"{ACCOUNT}/runs/{{runId}}": {
            "get": _op("Get a run with its logs", _ok({"run": _ref("Run")}), params=[run]),
            "delete": _op("Delete a run that has ended (409 otherwise)",
                          _ok({"run": {"type": "object"}}), params=[run], scope="write")},
        f"{ACCOUNT}/runs/{{runId}}/retry": {
            "post": _op("Queue an errored run again (409 otherwise)", _ok({"run": _ref("Run")}),
                        params=[run], scope="write")},
        f"{ACCOUNT}/runs/{{runId}}/cancel": {
            "post": _op("Cancel a queued run (409 otherwise)", _ok({"run": _ref("Run")}),
                        params=[run], scope="write")},
        f"{ACCOUNT}/rooms": {
            "get": _op("List rooms by id", _ok({
                "rooms": {"type": "array", "items": _ref("RoomListed")},
                "next_cursor": cursor}), params=PAGE)},
        f"{ACCOUNT}/users": {
            "get": _op("List users by id", _ok({
                "users": {"type": "array", "items": _ref("User")},
                "next_cursor": cursor}), params=PAGE)},
        f"{ACCOUNT}/stores": {
            "get": _op("The names of the account's KV stores",
                       _ok({"stores": {"type": "array", "items": {"type": "string"}}}))},
        f"{ACCOUNT}/rooms/{{roomId}}": {
            "put": _op("Create (201) or replace a room", _ok({"room": _ref("Room")}),
                       status=("200", "201"), params=[room],
                       scope="write", body=_json(_ref("RoomIn"))),
            "get": _op("Get a room and who is present", _ok({"room": _ref("Room")}),
                       params=[room]),
            "delete": _op("Delete a room", _ok({"room": {"type": "object"}}), params=[room],
                          scope="write")},
        f"{ACCOUNT}/users/{{userId}}": {
            "put": _op("Create (201) or replace a user", _ok({"user": _ref("User")}),
                       status=("200", "201"), params=[user],
                       scope="write", body=_json(_ref("UserIn"))),
            "get": _op("Get a user", _ok({"user": _ref("User")}), params=[user]),
            "delete": _op("Delete a user", _ok({"user": {"type": "object"}}), params=[user],
                          scope="write")},
        f"{ACCOUNT}/stores/{{store}}/keys": {
            "put": _op("Write many keys at once (one transaction, one write for the rate "
                       "limit; at most 10,000 entries within the JSON body limit)",
                       _ok({"written": {"type": "integer"}}), params=[store], scope="write",
                       body=_json({"type": "array", "minItems": 1, "items": {
                           "type": "object", "required": ["key", "value"],
                           "additionalProperties": False, "properties": {
                               "key": {"type": "string"}, "value": {"type": "string"},
                               "base64": {"type": "boolean"}, "metadata": {},
                               "expiration": {"type": "integer"}}}})),
            "get": _op("List a KV store's keys", _ok({
                "keys": {"type": "array", "items": {"type": "object", "required": ["name"]}},
                "next_cursor": cursor}),
                params=[store, *PAGE, _param("prefix", "query", {"type": "string"})])},
        f"{ACCOUNT}/stores/{{store}}/keys/{{key}}": {
            "put": _op("Write a KV value (the body, as is)", _ok({"key": {"type": "object"}}),
                       params=[store, key, _param("metadata", "query"),
                               _param("expiration", "query", {"type": "integer"})],
                       scope="write", body=BINARY),
            "get": _op("Read a KV value", BINARY, params=[store, key]),
            "delete": _op("Delete a KV key", _ok({"key": {"type": "object"}}),
                          params=[store, key], scope="write")},
        f"{ACCOUNT}/files": {
            "get": _op("List files", _ok({"files": {"type": "array", "items": _ref("File")},
                                          "next_cursor": cursor}),
                       params=[*PAGE, _param("prefix", "query", {"type": "string"}),
                               room_query])},
        f"{ACCOUNT}/files/{{key}}": {
            "put": _op("Write a file (the body, as is)", _ok({"file": _ref("File")}),
                       params=[key, room_query], scope="write", body=BINARY),
            "get": _op("Read a file", BINARY, params=[key, room_query]),
            "delete": _op("Delete a file", _ok({"file": {"type": "object"}}),
                          params=[key, room_query], scope="write")},
    }


def document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Flowbox", "version": "0.1.0",
                 "description": "Workflows triggered by platform events (collab-kit's API, "
                                "under /v1), Cloudflare's Workers and Workflows API (under "
                                "/client/v4) and the platform API (under /api)."},
        "paths": {**_paths(), **cf_paths(), **platform_paths(), **service_paths()},
        "components": {"schemas": {**_schemas(), **platform_schemas()},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
