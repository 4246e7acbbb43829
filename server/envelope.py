"""The collab-kit response envelope, and the one place where errors become
responses:

    {"type": "response", "success": bool, "description": str,
     "data": {...} | null, "error": {"code", "message", "field"?} | null}
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import ApiError, InvalidRequest, MethodNotAllowed, NotFound

log = logging.getLogger("flowbox.server")


def ok(description: str, data: dict[str, Any] | None, status: int = 200,
       headers: dict[str, str] | None = None) -> JSONResponse:
    """A successful answer."""
    return JSONResponse({"type": "response", "success": True, "description": description,
                         "data": data, "error": None}, status_code=status, headers=headers)


def failure(error: ApiError) -> JSONResponse:
    """The answer for an ApiError."""
    return JSONResponse({"type": "response", "success": False, "description": error.title,
                         "data": None, "error": error.to_dict()},
                        status_code=error.status, headers=error.headers())


async def on_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return failure(exc)


async def on_http_exception(_request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (unknown path or method), in the envelope."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return failure(MethodNotAllowed("method not allowed on this path"))
    if exc.status_code == 404:
        return failure(NotFound("no such route"))
    return failure(InvalidRequest(str(exc.detail)))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback, answered without internals."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return failure(ApiError("internal error; the server log has the details"))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: on_api_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
