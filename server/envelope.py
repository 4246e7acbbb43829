"""The response envelopes, and the one place where errors become
responses. collab-kit's, for /v1:

    {"type": "response", "success": bool, "description": str,
     "data": {...} | null, "error": {"code", "message", "field"?} | null}

Cloudflare's, for everything under /client/v4:

    {"success": bool, "errors": [{"code": int, "message": str}], "messages": [],
     "result": ... | null, "result_info"?: {...}}

The platform API's (seed 003), under /api and /functions: the object itself, a list as
`{"data": [...], "nextCursor": str | null}`, and an error as

    {"error": {"code": str, "message": str, "field"?: str}}
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .db import unavailable_errors
from .errors import ApiError, DatabaseUnavailable, InvalidRequest, MethodNotAllowed, NotFound

log = logging.getLogger("flowbox.server")
RETRY_DATABASE = 5  # seconds a client is asked to wait while the database is out of reach


def ok(description: str, data: dict[str, Any] | None, status: int = 200,
       headers: dict[str, str] | None = None) -> JSONResponse:
    """A successful answer."""
    return JSONResponse({"type": "response", "success": True, "description": description,
                         "data": data, "error": None}, status_code=status, headers=headers)


CLOUDFLARE_PREFIX = "/client/v4/"
PLATFORM_PREFIXES = ("/api/", "/functions/")


def cf_ok(result: Any, status: int = 200,
          result_info: dict[str, Any] | None = None) -> JSONResponse:
    """A successful answer in Cloudflare's envelope."""
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return JSONResponse(body, status_code=status)


def failure(error: ApiError, request: Request | None = None) -> JSONResponse:
    """The answer for an ApiError, in the envelope of the request's API."""
    if request is not None and request.url.path.startswith(CLOUDFLARE_PREFIX):
        message = error.message if error.field is None else f"{error.message} ({error.field})"
        return JSONResponse({"success": False, "errors": [{"code": error.cf_code,
                                                            "message": message}],
                             "messages": [], "result": None},
                            status_code=error.status, headers=error.headers())
    if request is not None and request.url.path.startswith(PLATFORM_PREFIXES):
        return JSONResponse({"error": error.to_dict()}, status_code=error.status,
                            headers=error.headers())
    return JSONResponse({"type": "response", "success": False, "description": error.title,
                         "data": None, "error": error.to_dict()},
                        status_code=error.status, headers=error.headers())


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return failure(exc, request)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (unknown path or method), in the envelope."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return failure(MethodNotAllowed("method not allowed on this path"), request)
    if exc.status_code == 404:
        return failure(NotFound("no such route"), request)
    return failure(InvalidRequest(str(exc.detail)), request)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback, answered without internals; or the
    database out of reach, answered 503 (try again) without its message."""
    if isinstance(exc, unavailable_errors()):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    type(exc).__name__)
        return failure(DatabaseUnavailable("the database is unavailable; try again shortly",
                                           RETRY_DATABASE), request)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return failure(ApiError("internal error; the server log has the details"), request)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: on_api_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
