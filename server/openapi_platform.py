"""The platform API's part of the OpenAPI document (seed 003): every route
under /api and `POST /functions/{workflowId}`, written out by hand like
`server/openapi.py`, which merges these paths and schemas into its own.

Answers are the object itself, a list is `{data, nextCursor}` and an error
is `{"error": {"code", "message", "field"?}}` (see `server/envelope.py`)."""

from __future__ import annotations

from typing import Any

from bindings.env import MIN_SECRET_CHARS, NAME

from .accounts import SCOPES
from .durable.transitions import STATUSES
from .platform.connections import PROVIDERS
from .platform.deploy import STAGES
from .platform.versions import LANGUAGES
from .platform.workflows import KINDS

NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "string", "minLength": 1}
# What `text(..., empty=False)` accepts: something besides whitespace.
NON_EMPTY = {"type": "string", "pattern": r"\S"}
DEPLOYMENT_STATUSES = ("in_progress", "active", "superseded", "taken_down", "failed")
# One event of the deploy stream: `progress` with the stage and what it found,
# or `error` with the failing stage.
SSE_EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"enum": ["progress", "error"]},
    "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {
        "type": "object", "required": ["stage"], "properties": {
            "stage": {"enum": list(STAGES)}, "error": {"type": "string"},
            "deploymentId": NULLABLE_STRING}}}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _obj(properties: dict[str, Any], required: tuple[str, ...] | None = None,
         **more: Any) -> dict[str, Any]:
    """An object schema; every property is required unless `required` says."""
    return {"type": "object", "required": list(properties if required is None else required),
            "properties": properties, **more}


def _body(properties: dict[str, Any], required: tuple[str, ...] = (),
          **more: Any) -> dict[str, Any]:
    """A request body the route checks member by member (unknown ones refused)."""
    return _obj(properties, required, additionalProperties=False, **more)


def _param(name: str, where: str = "path", schema: dict[str, Any] | None = None,
           description: str = "") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema or ID,
            **({"description": description} if description else {})}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    """A page: `{data, nextCursor}`, nextCursor null on the last page."""
    return _json(_obj({"data": {"type": "array", "items": item},
                       "nextCursor": NULLABLE_STRING}))


PAGE = [_param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
               "items per page (default 50)"),
        _param("cursor", "query", {"type": "string"}, "nextCursor of the previous page")]
ERROR = {"description": "An error: `{error: {code, message, field?}}`",
         **_json(_ref("ApiError"))}


def _op(summary: str, ok: dict[str, Any], *, status: str = "200", scope: str = "read",
        params: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        body_required: bool = True) -> dict[str, Any]:
    """An /api operation, authenticated with a bearer API key or session."""
    needs = ("Needs the operator's session (`flowbox sessions create`); an API key is "
             "refused with 403." if scope == "session" else
             f"Needs an API key with the `{scope}` scope, or the operator's session.")
    op: dict[str, Any] = {
        "summary": summary, "description": needs, "parameters": params or [],
        "responses": {status: {"description": summary, **ok}, "default": ERROR},
        "security": [{"bearer": []}]}
    if body is not None:
        op["requestBody"] = {"required": body_required, **_json(body)}
    return op


def platform_schemas() -> dict[str, Any]:
    """The component schemas of the platform API, named `Platform…` and `ApiError`."""
    version = {"id": ID, "workflowId": ID, "number": {"type": "integer", "minimum": 1},
               "language": {"enum": list(LANGUAGES)}, "locked": {"type": "boolean"},
               "revertedFrom": NULLABLE_STRING, "active": {"type": "boolean"},
               "createdAt": TIME}
    run = {"id": ID, "instanceId": ID, "workflowId": ID, "versionId": ID,
           "status": {"enum": list(STATUSES)}, "trigger": {"type": "string"},
           "createdAt": TIME, "startedAt": NULLABLE_TIME, "endedAt": NULLABLE_TIME}
    env_name = {"type": "string", "pattern": NAME.pattern, "maxLength": 128}
    env_item = _body({"name": env_name, "value": {"type": "string", "maxLength": 5 * 1024},
                      "isSecret": {"type": "boolean"}}, ("name", "value"))
    credentials = {"type": "object", "description": "s3: bucket, accessKeyId, "
                   "secretAccessKey, endpoint?, region?; r2: accountId, bucket, accessKeyId, "
                   "secretAccessKey", "properties": {
                       "accountId": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]*$",
                                     "maxLength": 63},
                       "bucket": {"type": "string",
                                  "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"},
                       "accessKeyId": {**NON_EMPTY, "maxLength": 256},
                       "secretAccessKey": {**NON_EMPTY, "maxLength": 256},
                       "endpoint": {"type": "string", "format": "uri"},
                       "region": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,31}$"}},
                   "required": ["bucket", "accessKeyId", "secretAccessKey"],
                   "additionalProperties": False}
    name = {**NON_EMPTY, "maxLength": 200}
    description = {"type": "string", "maxLength": 2000}
    return {
        "ApiError": _obj({"error": _obj({"code": {"type": "string"},
                                         "message": {"type": "string"},
                                         "field": {"type": "string"}}, ("code", "message"))}),
        "PlatformDeleted": _obj({"id": ID, "deleted": {"const": True}}),
        "PlatformProject": _obj({"id": ID, "name": {"type": "string"},
                                 "slug": {"type": "string"},
                                 "description": {"type": "string"},
                                 "createdAt": TIME, "updatedAt": TIME}),
        "PlatformProjectCreate": _body({
            "name": name, "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
            "description": description}, ("name",)),
        "PlatformProjectUpdate": _body({"name": name, "description": description},
                                       minProperties=1),
        "PlatformWorkflow": _obj({
            "id": ID, "projectId": ID, "name": {"type": "string"},
            "description": {"type": "string"}, "kind": {"enum": list(KINDS)},
            "envVars": {"type": "array", "items": _obj({
                "name": {"type": "string"}, "value": {"type": "string"},
                "isSecret": {"type": "boolean"}})},
            "triggerCode": NULLABLE_STRING, "dependencies": {"type": "object"},
            "deployConfig": {"type": "object"}, "activeVersionId": NULLABLE_STRING,
            "createdAt": TIME, "updatedAt": TIME,
            "url": {"type": "string", "description": "a function's (kind script) URL"}},
            ("id", "projectId", "name", "description", "kind", "envVars", "triggerCode",
             "dependencies", "deployConfig", "activeVersionId", "createdAt", "updatedAt")),
        "PlatformWorkflowCreate": _body({"name": name, "description": description,
                                         "kind": {"enum": list(KINDS)}, "projectId": ID},
                                        ("name",)),
        "PlatformWorkflowUpdate": _body({
            "name": name, "description": description,
            "envVars": {"type": "array", "maxItems": 100, "items": env_item,
                        "description": f"a secret's value is at least {MIN_SECRET_CHARS} "
                                       "characters; the mask keeps the stored one"},
            "triggerCode": {"type": ["string", "null"], "maxLength": 100 * 1024},
            "dependencies": {"type": "object"}, "deployConfig": {"type": "object"}},
            minProperties=1),
        "PlatformWorkflowFull": _obj({
            "workflow": _ref("PlatformWorkflow"),
            "currentVersion": {"anyOf": [{"type": "null"}, _obj(
                {**version, "source": {"type": "string"}})]},
            "versions": {"type": "array", "items": _ref("PlatformVersion")},
            "activeDeployment": {"anyOf": [{"type": "null"}, _ref("PlatformDeployment")]}}),
        "PlatformVersion": _obj(version),
        "PlatformVersionDetail": _obj({**version, "source": {"type": "string"},
                                       "compiled": _obj({
                                           "kind": {"enum": ["function", "workflow"]},
                                           "export": {"type": "string"},
                                           "bytecodeBytes": {"type": "integer"},
                                           "sha256": {"type": "string"},
                                           "bytecode": {"type": "string",
                                                        "contentEncoding": "base64"}})}),
        "PlatformVersionCreate": _body({"code": {**NON_EMPTY, "description":
                                                 "JavaScript or TypeScript source"},
                                        "language": {"enum": list(LANGUAGES)}}, ("code",)),
        "PlatformVersionLock": _body({"locked": {"type": "boolean"}}, ("locked",)),
        "PlatformDeployment": _obj({
            "id": ID, "workflowId": ID, "versionId": ID, "connectionId": NULLABLE_STRING,
            "status": {"enum": list(DEPLOYMENT_STATUSES)}, "stage": {"enum": list(STAGES)},
            "error": NULLABLE_STRING, "createdAt": TIME, "finishedAt": NULLABLE_TIME}),
        "PlatformDeploy": _body({"connectionId": {"type": ["string", "null"], "minLength": 1},
                                 "versionId": {"type": ["string", "null"], "minLength": 1}}),
        "PlatformRun": _obj(run),
        "PlatformRunDetail": _obj({**run, "params": {}, "output": {},
                                   "error": {"anyOf": [{"type": "null"}, _obj({
                                       "name": {"type": "string"},
                                       "message": {"type": "string"}})]},
                                   "steps": {"type": "array", "items": {"type": "object"}}}),
        "PlatformRunAction": _obj({"id": ID, "instanceId": ID,
                                   "status": {"enum": list(STATUSES)}}),
        "PlatformEnvVar": _obj({"id": ID, "name": {"type": "string"},
                                "value": {"type": "string",
                                          "description": "`********` for a secret"},
                                "isSecret": {"type": "boolean"}, "createdAt": TIME,
                                "updatedAt": TIME}),
        "PlatformEnvVarCreate": _body({"name": env_name, "value": env_item["properties"]["value"],
                                       "isSecret": {"type": "boolean"}}, ("name", "value")),
        "PlatformEnvVarUpdate": _body({"name": env_name, "value": env_item["properties"]["value"],
                                       "isSecret": {"type": "boolean"}}, minProperties=1),
        "PlatformConnection": _obj({
            "id": ID, "name": {"type": "string"}, "provider": {"enum": sorted(PROVIDERS)},
            "credentials": _obj({"endpoint": NULLABLE_STRING, "region": {"type": "string"},
                                 "bucket": {"type": "string"},
                                 "accessKeyId": {"type": "string"},
                                 "secretAccessKey": {"const": "********"},
                                 "accountId": {"type": "string"}},
                                ("endpoint", "region", "bucket", "accessKeyId",
                                 "secretAccessKey")),
            "createdAt": TIME, "updatedAt": TIME}),
        "PlatformConnectionCreate": _body({"provider": {"enum": sorted(PROVIDERS)},
                                           "credentials": credentials, "name": name},
                                          ("provider", "credentials")),
        "PlatformConnectionUpdate": _body({"name": name, "credentials": credentials},
                                          minProperties=1),
        "PlatformVerifyToken": _body({"provider": {"enum": sorted(PROVIDERS)},
                                      "credentials": credentials},
                                     ("provider", "credentials")),
        "PlatformVerifyResult": {"oneOf": [
            _obj({"valid": {"const": True}, "buckets": {"type": "array", "items": _obj(
                {"name": {"type": "string"}})}}),
            _obj({"valid": {"const": False}, "error": {"type": "string"}})]},
        "PlatformApiKey": _obj({
            "id": ID, "name": NULLABLE_STRING, "projectId": NULLABLE_STRING,
            "scopes": {"type": "array", "items": {"enum": list(SCOPES)}},
            "createdAt": TIME, "expiresAt": NULLABLE_TIME, "revokedAt": NULLABLE_TIME,
            "status": {"enum": ["active", "revoked", "expired"]}}),
        "PlatformApiKeyCreate": _body({
            "name": name, "projectId": {"type": ["string", "null"], "minLength": 1},
            "scopes": {"type": "array", "minItems": 1, "items": {"enum": list(SCOPES)},
                       "contains": {"const": "read"}},
            "expiresAt": {"type": ["string", "null"], "format": "date-time",
                          "description": "in the future; null or absent: never"}},
            ("name", "scopes")),
    }


def _resource_paths() -> dict[str, Any]:
    namespace, connection = (_param("namespaceId"),
                             _param("connectionId", "query", ID, "a connection's bucket "
                                    "instead of the account's own files (`default`)"))
    prefix = _param("prefix", "query", {"type": "string"})
    base = "/api/resources"
    return {
        f"{base}/kv/namespaces": {"get": _op("List the account's KV stores", _list(_obj(
            {"id": ID, "title": {"type": "string"}})))},
        f"{base}/kv/namespaces/{{namespaceId}}/keys": {"get": _op(
            "List a KV store's keys, in key order", _list(_obj(
                {"name": {"type": "string"}, "expiration": {"type": "integer"},
                 "metadata": {}}, ("name",))), params=[namespace, prefix, *PAGE])},
        f"{base}/kv/namespaces/{{namespaceId}}/values/{{key}}": {"get": _op(
            "Read a KV value", {"content": {"application/octet-stream": {"schema": {
                "type": "string", "format": "binary"}}}},
            params=[namespace, _param("key")])},
        f"{base}/r2/buckets": {"get": _op("List buckets: `default` or the connection's", _list(
            _obj({"name": {"type": "string"}, "provider": {"type": "string"}})),
            params=[connection])},
        f"{base}/r2/buckets/{{bucketName}}/objects": {"get": _op(
            "List a bucket's objects", _list(_obj({
                "key": {"type": "string"}, "size": {"type": "integer"},
                "etag": {"type": "string"}, "uploaded": TIME})),
            params=[_param("bucketName"), prefix, *PAGE, connection])},
    }


def platform_paths() -> dict[str, Any]:
    """The paths of the platform API: /api/... and /functions/{workflowId}."""
    one_id, wf_id = _param("id"), _param("workflowId")
    version_id, run_id = _param("versionId"), _param("runId")
    deleted = _json(_ref("PlatformDeleted"))
    project, workflow = _json(_ref("PlatformProject")), _json(_ref("PlatformWorkflow"))
    version = _json(_ref("PlatformVersionDetail"))
    deployment, env_var = _json(_ref("PlatformDeployment")), _json(_ref("PlatformEnvVar"))
    connection, action = _json(_ref("PlatformConnection")), _json(_ref("PlatformRunAction"))
    runs_query = [_param("status", "query", {"enum": list(STATUSES)}), *PAGE]
    one_wf, one_version, one_run = ("/api/workflows/{workflowId}",
                                    "/api/workflows/{workflowId}/versions/{versionId}",
                                    "/api/workflows/{workflowId}/runs/{runId}")
    return {
        "/api/projects": {
            "get": _op("List projects, oldest first", _list(_ref("PlatformProject")),
                       params=PAGE),
            "post": _op("Create a project", project, status="201", scope="write",
                        body=_ref("PlatformProjectCreate"))},
        "/api/projects/{id}": {
            "get": _op("Get a project", project, params=[one_id]),
            "patch": _op("Rename or describe a project", project, scope="write",
                         params=[one_id], body=_ref("PlatformProjectUpdate")),
            "delete": _op("Delete an empty project (409 while it holds workflows)", deleted,
                          scope="write", params=[one_id])},
        "/api/workflows": {
            "get": _op("List workflows, oldest first", _list(_ref("PlatformWorkflow")),
                       params=[_param("projectId", "query", ID), *PAGE]),
            "post": _op("Create a workflow or function", workflow, status="201",
                        scope="write", body=_ref("PlatformWorkflowCreate"))},
        "/api/workflows/{id}": {
            "get": _op("Get a workflow", workflow, params=[one_id]),
            "patch": _op("Update a workflow", workflow, scope="write", params=[one_id],
                         body=_ref("PlatformWorkflowUpdate")),
            "delete": _op("Delete a workflow with its versions and deployments", deleted,
                          scope="write", params=[one_id])},
        "/api/workflows/{id}/full": {"get": _op(
            "A workflow with its current version, version summaries and active deployment",
            _json(_ref("PlatformWorkflowFull")),
            params=[one_id, _param("version", "query", ID, "the version to load")])},
        "/api/workflows/{id}/move": {"patch": _op(
            "Move a workflow to another project", workflow, scope="write", params=[one_id],
            body=_body({"targetProjectId": ID}, ("targetProjectId",)))},
        "/api/workflows/{id}/trigger": {"post": _op(
            "Start a run of a deployed workflow (400 for a function)", action,
            status="201", scope="deploy", params=[one_id], body_required=False,
            body=_body({"connectionId": {}, "params": {"description": "at most 100 KB"}}))},
        f"{one_wf}/versions": {
            "get": _op("List a workflow's versions, newest first",
                       _list(_ref("PlatformVersion")), params=[wf_id]),
            "post": _op("Create (compile) a version", version, status="201", scope="write",
                        params=[wf_id], body=_ref("PlatformVersionCreate"))},
        one_version: {
            "get": _op("Get a version with its source and compiled form", version,
                       params=[wf_id, version_id]),
            "patch": _op("Lock or unlock a version", _json(_ref("PlatformVersion")),
                         scope="write", params=[wf_id, version_id],
                         body=_ref("PlatformVersionLock")),
            "delete": _op("Delete a version (not the active or a locked one)", deleted,
                          scope="write", params=[wf_id, version_id])},
        f"{one_version}/revert": {"post": _op(
            "Create a new version with this version's source", version, status="201",
            scope="write", params=[wf_id, version_id], body={"type": "object"},
            body_required=False)},
        "/api/deployments": {"get": _op("List deployments, newest first",
                                        _list(_ref("PlatformDeployment")), params=PAGE)},
        f"{one_wf}/deployments": {"get": _op("List a workflow's deployments, newest first",
                                             _list(_ref("PlatformDeployment")),
                                             params=[wf_id, *PAGE])},
        f"{one_wf}/deploy": {"post": _op(
            "Deploy a version (the latest by default)", deployment, status="201",
            scope="deploy", params=[wf_id], body=_ref("PlatformDeploy"), body_required=False)},
        f"{one_wf}/deploy-stream": {"post": _op(
            "Deploy, answered as Server-Sent Events: `progress` per stage, or `error`",
            {"content": {"text/event-stream": {"schema": SSE_EVENT}}},
            scope="deploy", params=[wf_id], body=_ref("PlatformDeploy"), body_required=False)},
        f"{one_wf}/takedown": {"post": _op(
            "Take a deployed workflow down", _json(_obj({
                "workflowId": ID, "activeVersionId": {"type": "null"},
                "status": {"const": "taken_down"}})),
            scope="deploy", params=[wf_id], body=_body({"connectionId": {}}),
            body_required=False)},
        "/api/runs": {"get": _op("List runs, newest first", _list(_ref("PlatformRun")),
                                 params=runs_query)},
        f"{one_wf}/runs": {"get": _op("List a workflow's runs, newest first",
                                      _list(_ref("PlatformRun")), params=[wf_id, *runs_query])},
        one_run: {"get": _op("Get a run with its params, output, error and steps",
                             _json(_ref("PlatformRunDetail")), params=[wf_id, run_id])},
        **{f"{one_run}/{verb}": {"post": _op(f"{verb.capitalize()} a run", action,
                                             scope="deploy", params=[wf_id, run_id])}
           for verb in ("pause", "resume", "terminate")},
        "/api/env-vars": {
            "get": _op("List the account's env vars by name (secrets masked)",
                       _list(_ref("PlatformEnvVar")), params=PAGE),
            "post": _op("Create an env var", env_var, status="201", scope="write",
                        body=_ref("PlatformEnvVarCreate"))},
        "/api/env-vars/{id}": {
            "patch": _op("Update an env var", env_var, scope="write", params=[one_id],
                         body=_ref("PlatformEnvVarUpdate")),
            "delete": _op("Delete an env var", deleted, scope="write", params=[one_id])},
        "/api/connections": {
            "get": _op("List connections (credentials redacted)",
                       _list(_ref("PlatformConnection")), params=PAGE),
            "post": _op("Create a connection", connection, status="201", scope="write",
                        body=_ref("PlatformConnectionCreate"))},
        "/api/connections/verify-token": {"post": _op(
            "Check credentials against the bucket before saving them",
            _json(_ref("PlatformVerifyResult")), scope="write",
            body=_ref("PlatformVerifyToken"))},
        "/api/connections/{id}": {
            "patch": _op("Rename a connection or replace its credentials", connection,
                         scope="write", params=[one_id], body=_ref("PlatformConnectionUpdate")),
            "delete": _op("Delete a connection", deleted, scope="write", params=[one_id])},
        **_resource_paths(),
        "/api/api-keys": {
            "get": _op("List the account's API keys, newest first",
                       _list(_ref("PlatformApiKey")), scope="session"),
            "post": _op("Create an API key; its secret (`key`) is answered only now",
                        _json({"allOf": [_ref("PlatformApiKey"), _obj(
                            {"key": {"type": "string"}})]}),
                        status="201", scope="session", body=_ref("PlatformApiKeyCreate"))},
        "/api/api-keys/{id}": {"delete": _op(
            "Revoke an API key", _json(_obj({"id": ID, "revoked": {"const": True}})),
            scope="session", params=[one_id])},
        "/functions/{workflowId}": {"post": {
            "summary": "Invoke a deployed function (kind script)",
            "description": "Public, like a Worker's URL: no credential. The JSON body (or "
                           "none) is `event.payload`; the function's answer is the response.",
            "parameters": [wf_id], "security": [],
            "requestBody": {"required": False, **_json({})},
            "responses": {
                "200": {"description": "The function's answer", **_json({})},
                "500": {"description": "The function failed: its error's code, name and "
                                       "message", **_json(_ref("ApiError"))},
                "default": ERROR}}},
    }
