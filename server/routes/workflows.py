"""Seed 000: `/v1/accounts/{accountId}/workflows` — register, list, get,
update and delete workflows. Code is compiled before anything is stored.

A registration or an update is JSON, or a form whose `code` is a file
(`curl -F name=welcome -F events=participant.joined -F code=@welcome.ts`),
so that code needs no escaping by hand."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import bindings

from ..envelope import ok
from ..errors import InvalidRequest, NotFound
from ..events import fingerprint
from ..inputs import (
    decode_cursor,
    encode_cursor,
    page_limit,
    read_form,
    unknown_fields,
)
from ..service import Service
from ..workflows import Workflow, check_fields, compile_code
from . import call, json_body, optional_json_body, service_of

FORM = "multipart/form-data"


async def workflow_body(request: Request) -> dict[str, Any]:
    """The registration fields, from JSON or from a form: `code` a file
    part (or text), `events` repeated or comma-separated, `enabled` true or
    false; unknown fields are refused as in JSON."""
    if not request.headers.get("content-type", "").startswith(FORM):
        return await json_body(request)
    form = await read_form(request, service_of(request).config.max_body_bytes,
                           max_files=1, max_fields=32)
    body: dict[str, Any] = {}
    try:
        for name, value in form.multi_items():
            text = ((await value.read()).decode("utf-8") if isinstance(value, UploadFile)
                    else value)
            if name == "events":
                body.setdefault("events", []).extend(
                    t.strip() for t in text.split(",") if t.strip())
            elif name == "enabled":
                if text not in ("true", "false"):
                    raise InvalidRequest("enabled must be true or false", "enabled")
                body["enabled"] = text == "true"
            else:
                body[name] = text
    except UnicodeDecodeError:
        raise InvalidRequest("code must be UTF-8 text", "code") from None
    finally:
        await form.close()
    return body

BASE = "/v1/accounts/{accountId}/workflows"


def _missing(workflow_id: str) -> NotFound:
    return NotFound(f"no workflow {workflow_id!r} in this account", "workflowId")


def _existing(service: Service, account: str, workflow_id: str) -> Workflow:
    workflow = service.workflows.get(account, workflow_id)
    if workflow is None:
        raise _missing(workflow_id)
    return workflow


async def create(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        fields = check_fields(body, creating=True)
        artifact = compile_code(service.engine, fields["code"])
        workflow = service.workflows.create(account, fields, artifact)
        return ok("Workflow created", {"workflow": workflow.to_wire()}, 201)

    return await call(request, "write", work, rate="write", read=workflow_body)


async def list_all(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        limit = page_limit(request.query_params.get("limit"))
        after = decode_cursor(request.query_params.get("cursor"))
        items, more = service.workflows.page(account, after, limit)
        cursor = encode_cursor((items[-1].created_at, items[-1].id)) if more else None
        return ok("Workflows", {"workflows": [w.to_wire() for w in items],
                                "next_cursor": cursor})

    return await call(request, "read", work)


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow = _existing(service, account, request.path_params["workflowId"])
        return ok("Workflow", {"workflow": workflow.to_wire()})

    return await call(request, "read", work)


async def update(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        workflow_id = request.path_params["workflowId"]
        current = _existing(service, account, workflow_id)
        fields = check_fields(body, creating=False)
        artifact = compile_code(service.engine, fields["code"]) if "code" in fields else None
        workflow = service.workflows.update(current, fields, artifact)
        if workflow is None:  # deleted meanwhile
            raise _missing(workflow_id)
        return ok("Workflow updated", {"workflow": workflow.to_wire()})

    return await call(request, "write", work, rate="write", read=workflow_body)


async def test(request: Request) -> Response:
    """A test event for this workflow only: it runs the workflow (enabled or
    not) and nothing else; presence and users are left as they are."""
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        workflow = _existing(service, account, request.path_params["workflowId"])
        unknown_fields(body, ("type", "data"))
        try:
            event = bindings.make_event(account, body.get("type", workflow.events[0]),
                                        body.get("data"))
        except bindings.InvalidEvent as exc:
            raise InvalidRequest(str(exc), exc.field) from None
        service.dispatcher.admit(account, 1)
        accepted = service.events.accept(account, event, [workflow], None,
                                          fingerprint(json.dumps(body).encode()))
        service.dispatcher.submit(accepted.queued)
        return ok("Test event accepted", accepted.answer, 202)

    return await call(request, "write", work, rate="events", read=optional_json_body)


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow_id = request.path_params["workflowId"]
        workflow = _existing(service, account, workflow_id)
        if not service.workflows.delete(account, workflow_id):  # deleted meanwhile
            raise _missing(workflow_id)
        return ok("Workflow deleted", {"workflow": workflow.to_wire()})

    return await call(request, "write", work, rate="write")


routes = [
    Route(BASE, create, methods=["POST"]),
    Route(BASE, list_all, methods=["GET"]),
    Route(BASE + "/{workflowId}", get, methods=["GET"]),
    Route(BASE + "/{workflowId}", update, methods=["PATCH"]),
    Route(BASE + "/{workflowId}", delete, methods=["DELETE"]),
    Route(BASE + "/{workflowId}/test", test, methods=["POST"]),
]
