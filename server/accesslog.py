"""The access log: one line per HTTP request, after its answer, on the
`flowbox.access` logger (INFO):

    GET /v1/accounts/{accountId}/runs/{runId} 200 3.1ms account=acme

The route's template, never the path as sent (ids stay out), never a
query, a header, a key or a body. `account` is the path's account, or the
one the credential belongs to on /api; `-` when there is none."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("flowbox.access")
ACCOUNT_KEY = "flowbox.account"  # where /api's authorization leaves the caller's account


def access_line(method: str, template: str, status: int, seconds: float,
                account: str | None) -> str:
    """One line of the access log."""
    return f"{method} {template} {status} {seconds * 1000:.1f}ms account={account or '-'}"


class AccessLog:
    """ASGI middleware writing the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(no route)"
            account = scope.get(ACCOUNT_KEY) or scope.get("path_params", {}).get("accountId")
            log.info(access_line(scope["method"], template, status,
                                 time.perf_counter() - started, account))
