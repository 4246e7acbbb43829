"""Cloudflare's instance API under `/client/v4/accounts/{account_id}/
workflows/{workflow_name}/instances`: create (seed 004), batch, list, get
with steps, `PATCH …/status`, events (seed 001), delete and batch delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bindings import Env, iso_time

from ..durable import requests, wire
from ..durable.definitions import DurableWorkflow
from ..durable.instances import Instance, NewInstance
from ..durable.transitions import STATUSES
from ..envelope import cf_ok
from ..errors import InvalidRequest, NotFound
from ..inputs import (
    decode_cursor,
    encode_cursor,
    parse_json,
    parse_time,
    read_body,
    require_json_type,
)
from ..service import Service
from . import call, json_body, optional_json_body, service_of
from .cf_workflows import existing, paging

BASE = "/client/v4/accounts/{accountId}/workflows/{workflowName}/instances"
ONE = BASE + "/{instanceId}"


def _instance(service: Service, workflow: DurableWorkflow, name: str) -> Instance:
    instance = service.instances.get(workflow.id, name)
    if instance is None:
        raise NotFound(f"no instance {name!r} of workflow {workflow.name!r}", "instance_id")
    return instance


def _start(service: Service, account: str, request: Request, new: list[NewInstance], *,
           batch: bool) -> list[Instance]:
    workflow = existing(service, account, request.path_params["workflowName"])
    service.dispatcher.admit(account, len(new))
    retained = [NewInstance(n.name, n.params,
                            n.success_retention or workflow.settings.success_retention,
                            n.error_retention or workflow.settings.error_retention) for n in new]
    created = service.instances.create(account, workflow.id, workflow.version_id, retained,
                                       "api", skip_existing=batch)
    service.dispatcher.submit([(i.id, account) for i in created])
    return created


async def create(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        [instance] = _start(service, account, request, [requests.new_instance(body)],
                            batch=False)
        return cf_ok(wire.created(instance), 201)

    return await call(request, "write", work, rate="events", read=optional_json_body)


async def _any_json(request: Request) -> Any:
    require_json_type(request)
    return parse_json(await read_body(request, service_of(request).config.max_body_bytes))


async def create_batch(request: Request) -> Response:
    def work(service: Service, account: str, body: Any) -> Response:
        created = _start(service, account, request, requests.batch(body), batch=True)
        return cf_ok([wire.created(i) for i in created], 201)

    return await call(request, "write", work, rate="events", read=_any_json)


async def list_all(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        params = request.query_params
        status = params.get("status")
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", "status")
        direction = params.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise InvalidRequest("direction must be asc or desc", "direction")
        page, per_page = paging(params)
        cursor = decode_cursor(params.get("cursor"))
        items, more = service.instances.page(
            workflow.id, status=status, since=parse_time(params.get("date_start"), "date_start"),
            until=parse_time(params.get("date_end"), "date_end"), after=cursor,
            ascending=direction == "asc", offset=0 if cursor else (page - 1) * per_page,
            limit=per_page)
        info: dict[str, Any] = {"page": page, "per_page": per_page, "count": len(items)}
        if more:
            info["cursor"] = encode_cursor((items[-1].created_at, items[-1].id))
        return cf_ok([wire.summary(i) for i in items], result_info=info)

    return await call(request, "read", work)


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        instance = _instance(service, workflow, request.path_params["instanceId"])
        script = service.definitions.script(account, workflow.script_name)
        env = script.env.env() if script is not None else Env()
        order = request.query_params.get("order", "asc")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be asc or desc", "order")
        return cf_ok(wire.detail(instance, service.instances.steps(instance.id), env,
                                 simple=request.query_params.get("simple") == "true",
                                 descending=order == "desc"))

    return await call(request, "read", work)


async def change_status(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        instance = _instance(service, workflow, request.path_params["instanceId"])
        action, from_step = requests.status_action(body)
        status = service.instances.act(instance, action, from_step)
        if status == "queued":
            service.dispatcher.submit([(instance.id, account)])
        changed = service.instances.get(workflow.id, instance.name)
        return cf_ok({"status": status,
                      "timestamp": iso_time(changed.modified_at if changed else 0.0)})

    return await call(request, "write", work, rate="write", read=json_body)


async def send_event(request: Request) -> Response:
    def work(service: Service, account: str, body: bytes) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        instance = _instance(service, workflow, request.path_params["instanceId"])
        event_type = requests.event_type(request.path_params["eventType"])
        when = service.instances.send_event(instance, event_type, requests.event_payload(body))
        service.durable.wake(instance.id, account, when)
        return cf_ok({"instanceId": instance.name, "timestamp": iso_time(when)})

    async def read(request: Request) -> bytes:
        return await read_body(request, requests.MAX_EVENT_BYTES + 1)

    return await call(request, "write", work, rate="events", read=read)


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        instance = _instance(service, workflow, request.path_params["instanceId"])
        service.instances.delete([instance.id])
        return cf_ok({"id": instance.name})

    return await call(request, "write", work, rate="write")


async def delete_batch(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        names = body.get("instance_ids")
        if not isinstance(names, list) or not 0 < len(names) <= requests.MAX_BATCH:
            raise InvalidRequest(f"instance_ids must be an array of 1 to {requests.MAX_BATCH} "
                                 "ids", "instance_ids")
        found = [service.instances.get(workflow.id, requests.instance_id(n, "instance_ids"))
                 for n in names]
        service.instances.delete([i.id for i in found if i is not None])
        return cf_ok({"deleted": [i.name for i in found if i is not None]})

    return await call(request, "write", work, rate="write", read=json_body)


routes = [Route(BASE, create, methods=["POST"]), Route(BASE, list_all, methods=["GET"]),
          Route(BASE + "/batch", create_batch, methods=["POST"]),
          Route(BASE + "/batch/delete", delete_batch, methods=["POST"]),
          Route(ONE, get, methods=["GET"]), Route(ONE, delete, methods=["DELETE"]),
          Route(ONE + "/status", change_status, methods=["PATCH"]),
          Route(ONE + "/events/{eventType}", send_event, methods=["POST"])]
