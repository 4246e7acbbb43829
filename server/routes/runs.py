"""`/v1/accounts/{accountId}/runs`: what each event started, newest first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..envelope import ok
from ..errors import InvalidRequest, NotFound
from ..inputs import decode_cursor, encode_cursor, page_limit, parse_time
from ..runs import STATUSES, RunFilter
from ..service import Service
from . import call

BASE = "/v1/accounts/{accountId}/runs"


def run_filter(params: dict[str, str]) -> RunFilter:
    """The list filters: workflow_id, status, since and until (ISO 8601)."""
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", "status")
    return RunFilter(workflow_id=params.get("workflow_id"), status=status,
                     since=parse_time(params.get("since"), "since"),
                     until=parse_time(params.get("until"), "until"))


async def list_all(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        params = dict(request.query_params)
        where = run_filter(params)
        limit = page_limit(params.get("limit"))
        items, more = service.runs.page(account, where, decode_cursor(params.get("cursor")),
                                        limit)
        cursor = encode_cursor((items[-1].created_at, items[-1].id)) if more else None
        return ok("Runs", {"runs": [r.to_wire() for r in items], "next_cursor": cursor})

    return await call(request, "read", work)


async def get(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        run_id = request.path_params["runId"]
        run = service.runs.get(account, run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r} in this account", "runId")
        return ok("Run", {"run": run.to_wire(with_logs=True)})

    return await call(request, "read", work)


routes = [Route(BASE, list_all, methods=["GET"]), Route(BASE + "/{runId}", get, methods=["GET"])]
