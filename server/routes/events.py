"""`POST /v1/accounts/{accountId}/events`: a platform event. It updates
presence and users, then is stored with one queued run per matching
workflow and one queued instance per durable workflow it starts before the
202 answer. An Idempotency-Key makes a retry safe: the
repeat gets the first answer and starts nothing."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import bindings

from ..envelope import ok
from ..errors import InvalidRequest
from ..events import check_idempotency_key, fingerprint
from ..inputs import parse_json_object, read_body, require_json_type, unknown_fields
from ..service import Service
from . import call, service_of

EVENT_FIELDS = ("type", "data")


async def _raw(request: Request) -> bytes:
    require_json_type(request)
    return await read_body(request, service_of(request).config.max_body_bytes)


async def post(request: Request) -> Response:
    key = check_idempotency_key(request.headers.get("idempotency-key"))

    def work(service: Service, account: str, raw: bytes) -> Response:
        request_id = fingerprint(raw)
        if key is not None:
            previous = service.events.previous(account, key, request_id)
            if previous is not None:
                return ok("Event already accepted", previous.answer, 202,
                          headers={"Idempotent-Replayed": "true"})
        event = _event(account, parse_json_object(raw))
        room = event.get("roomId")
        workflows = service.workflows.matching(account, event["type"], room)
        durable = service.definitions.triggered_by(account, event["type"])
        service.dispatcher.admit(account, len(workflows) + len(durable))
        bindings.apply_event(service.directory, account, event)
        accepted = service.events.accept(account, event, workflows, key, request_id, durable)
        service.dispatcher.submit(accepted.queued)
        return ok("Event accepted", accepted.answer, 202)

    return await call(request, "write", work, rate="events", read=_raw)


def _event(account: str, body: dict[str, Any]) -> dict[str, Any]:
    unknown_fields(body, EVENT_FIELDS)
    if "type" not in body:
        raise InvalidRequest("type is required", "type")
    try:
        return bindings.make_event(account, body["type"], body.get("data"))
    except bindings.InvalidEvent as exc:
        raise InvalidRequest(str(exc), exc.field) from None


routes = [Route("/v1/accounts/{accountId}/events", post, methods=["POST"])]
