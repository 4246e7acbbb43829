"""Cloudflare's workflow API: `PUT/GET/DELETE /client/v4/accounts/
{account_id}/workflows/{workflow_name}` and the list."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..durable import requests, wire
from ..durable.definitions import DurableWorkflow
from ..envelope import cf_ok
from ..errors import InvalidRequest, NotFound
from ..inputs import is_number
from ..service import Service
from . import call, json_body

BASE = "/client/v4/accounts/{accountId}/workflows"
MAX_PER_PAGE = 100


def existing(service: Service, account: str, name: str) -> DurableWorkflow:
    """The account's workflow by name, or 404 (also for another account's)."""
    workflow = service.definitions.workflow(account, name)
    if workflow is None:
        raise NotFound(f"no workflow {name!r} in this account", "workflow_name")
    return workflow


def paging(params: Any, default: int = 50) -> tuple[int, int]:
    """(page, per_page) from the query: page from 1, per_page 1 to 100."""
    values = []
    for name, fallback, high in (("page", 1, 1_000_000), ("per_page", default, MAX_PER_PAGE)):
        text = params.get(name)
        if text is None:
            values.append(fallback)
            continue
        if not is_number(text) or not 1 <= int(text) <= high:
            raise InvalidRequest(f"{name} must be a whole number from 1 to {high}", name)
        values.append(int(text))
    return values[0], values[1]


async def put(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        name = requests.workflow_name(request.path_params["workflowName"])
        script_name, class_name, settings = requests.workflow_settings(body)
        if service.definitions.script(account, script_name) is None:
            raise NotFound(f"no script {script_name!r} in this account: upload it first "
                           "(PUT …/workers/scripts/{script_name})", "script_name")
        workflow = service.definitions.put_workflow(account, name, script_name, class_name,
                                                    settings)
        return cf_ok(wire.workflow(workflow))

    return await call(request, "write", work, rate="write", read=json_body)


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        return cf_ok(wire.workflow(workflow, service.instances.count_by_status(workflow.id)))

    return await call(request, "read", work)


async def list_all(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        page, per_page = paging(request.query_params)
        items, total = service.definitions.workflows(
            account, request.query_params.get("search"), (page - 1) * per_page, per_page)
        return cf_ok([wire.workflow(w, service.instances.count_by_status(w.id)) for w in items],
                     result_info={"page": page, "per_page": per_page, "count": len(items),
                                  "total_count": total})

    return await call(request, "read", work)


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        workflow = existing(service, account, request.path_params["workflowName"])
        service.definitions.delete_workflow(account, workflow.name)
        service.instances.delete_workflow(workflow.id)
        return cf_ok({"status": "ok", "success": True})

    return await call(request, "write", work, rate="write")


routes = [Route(BASE, list_all, methods=["GET"]),
          Route(BASE + "/{workflowName}", put, methods=["PUT"]),
          Route(BASE + "/{workflowName}", get, methods=["GET"]),
          Route(BASE + "/{workflowName}", delete, methods=["DELETE"])]
