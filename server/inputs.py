"""Reading request input: bodies with a size cap, JSON objects, and the
query parameters every list route shares. Parsing is in plain functions
that tests call directly; each failure names the field."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from .errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

DEFAULT_PAGE, MAX_PAGE = 50, 100


def is_number(text: str) -> bool:
    """Only ASCII digits (str.isdigit also accepts '²' and other scripts)."""
    return text.isascii() and text.isdigit()


def refuse_declared_size(request: Request, limit: int) -> None:
    """413 at once when the Content-Length header already says too much."""
    declared = request.headers.get("content-length")
    if declared is not None and is_number(declared) and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes
    (a lying or missing Content-Length does not get around it)."""
    refuse_declared_size(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, limit: int, *, max_files: int,
                    max_fields: int) -> FormData:
    """A multipart form, its bytes counted as they arrive like any body's
    (a chunked upload, which declares no length, stops at the limit with
    413); then parsed from what was read."""
    body = await read_body(request, limit)
    request._body = body  # Starlette parses the form from the body it has already read
    try:
        return await request.form(max_files=max_files, max_fields=max_fields,
                                  max_part_size=limit)
    except Exception as exc:  # python-multipart's errors carry no common base
        raise InvalidRequest(f"malformed multipart body: {exc}") from None


def require_json_type(request: Request) -> None:
    """A JSON body must say so: `Content-Type: application/json` (or a
    `+json` type). A browser sends a cross-site form or `text/plain` POST
    without asking first; it cannot send JSON that way, so this also stops
    cross-site requests riding on a session cookie."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaType(f"send the body as JSON with Content-Type: application/json"
                                   f" (got {kind or 'none'})", "Content-Type")


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object."""
    require_json_type(request)
    return parse_json_object(await read_body(request, limit))


def parse_json_object(body: bytes) -> dict[str, Any]:
    doc = parse_json(body, "a JSON object")
    if not isinstance(doc, dict):
        raise InvalidRequest(f"request body must be a JSON object, not {_kind(doc)}",
                             code="invalid_json")
    return doc


def parse_json(body: bytes, expected: str = "JSON") -> Any:
    """Any JSON document; an empty, non-UTF-8 or malformed body is a 400."""
    if not body.strip():
        raise InvalidRequest(f"request body is empty; expected {expected}", code="invalid_json")
    try:
        doc = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidRequest("request body is not UTF-8", code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                             code="invalid_json") from None
    except RecursionError:
        raise InvalidRequest("JSON nested too deeply", code="invalid_json") from None
    # What JSON allows but nothing downstream can store or send back: NaN and
    # Infinity, and lone surrogates (\ud800). Refused before anything is
    # written; encoding the document again finds both at C speed.
    try:
        json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError as exc:
        what = ("NaN and Infinity are not JSON numbers" if "Out of range float" in str(exc)
                else "a string holds a lone surrogate (\\ud800-\\udfff), not text")
        raise InvalidRequest(f"request body cannot be stored: {what}",
                             code="invalid_json") from None
    except RecursionError:
        raise InvalidRequest("JSON nested too deeply", code="invalid_json") from None
    return doc


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def unknown_fields(body: dict[str, Any], allowed: tuple[str, ...], within: str = "") -> None:
    """Refuses members the route does not know (a typo must not pass
    silently); `within` prefixes the field's name ("entries[3].")."""
    for name in body:
        if name not in allowed:
            raise InvalidRequest(f"unknown field {within + name!r}; allowed: "
                                 f"{', '.join(allowed)}", within + name)


def page_limit(value: str | None) -> int:
    """The `limit` query parameter: 1 to 100, default 50."""
    if value is None:
        return DEFAULT_PAGE
    if not is_number(value) or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_PAGE}", "limit")
    return int(value)


def encode_cursor(position: tuple[float, str]) -> str:
    """An opaque cursor for a (time, id) position in a list."""
    raw = json.dumps([position[0], position[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str | None) -> tuple[float, str] | None:
    if value is None or value == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at, ident = json.loads(raw)
        if isinstance(at, int | float) and isinstance(ident, str):
            return float(at), ident
    except (binascii.Error, ValueError, TypeError):
        pass
    raise InvalidRequest("cursor is not one this server issued", "cursor")


def parse_time(value: str | None, field: str) -> float | None:
    """An ISO 8601 time (with zone, or UTC when none) as epoch seconds."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{field} must be an ISO 8601 time, like 2026-05-29T10:00:00Z",
                             field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
