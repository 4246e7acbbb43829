"""`/v1/accounts/{accountId}/runs`: what each event started, newest first;
and control over one run: retry an errored one, cancel a queued one,
delete one that has ended (server/runs.py has the state machine)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..envelope import ok
from ..errors import InvalidRequest, InvalidTransition, NotFound
from ..inputs import decode_cursor, encode_cursor, page_limit, parse_time
from ..runs import STATUSES, Run, RunFilter
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
        run = _existing(service, account, request.path_params["runId"])
        return ok("Run", {"run": run.to_wire(with_logs=True)})

    return await call(request, "read", work)


def _existing(service: Service, account: str, run_id: str) -> Run:
    run = service.runs.get(account, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} in this account", "runId")
    return run


async def retry(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        run = _existing(service, account, request.path_params["runId"])
        service.dispatcher.admit(account, 1)
        if not service.runs.retry(account, run.id):
            raise InvalidTransition(f"the run is {_now(service, account, run)}: only an "
                                    "errored run can be retried", "runId")
        service.dispatcher.submit([(run.id, account)])
        return ok("Run queued again", {"run": _existing(service, account, run.id).to_wire()})

    return await call(request, "write", work, rate="write")


async def cancel(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        run = _existing(service, account, request.path_params["runId"])
        if not service.runs.cancel(account, run.id):
            raise InvalidTransition(f"the run is {_now(service, account, run)}: only a queued "
                                    "run can be cancelled", "runId")
        return ok("Run cancelled", {"run": _existing(service, account, run.id).to_wire()})

    return await call(request, "write", work, rate="write")


async def delete(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        run = _existing(service, account, request.path_params["runId"])
        if not service.runs.delete(account, run.id):
            raise InvalidTransition(f"the run is {_now(service, account, run)}: cancel it or "
                                    "let it end before deleting it", "runId")
        return ok("Run deleted", {"run": {"id": run.id}})

    return await call(request, "write", work, rate="write")


def _now(service: Service, account: str, run: Run) -> str:
    current = service.runs.get(account, run.id)
    return current.status if current is not None else "deleted"


routes = [Route(BASE, list_all, methods=["GET"]), Route(BASE + "/{runId}", get, methods=["GET"]),
          Route(BASE + "/{runId}", delete, methods=["DELETE"]),
          Route(BASE + "/{runId}/retry", retry, methods=["POST"]),
          Route(BASE + "/{runId}/cancel", cancel, methods=["POST"])]
