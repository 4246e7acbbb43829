"""Validation of the names and keys user code passes to bindings, and the
scope prefixes that keep tenants apart. Pure functions; tests call them
directly.

An object key is checked before a scope prefix is put in front of it, so
nothing a user passes can name a key outside its scope: no absolute
paths, no `.` or `..` segments, no empty segments, no NUL or control
characters, no backslashes, and no percent-encoded forms of those (a
backend or proxy that decodes them must not be able to turn them back into
an escape).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import quote

from .errors import InvalidArgument

MAX_OBJECT_KEY_BYTES = 1024
MAX_KV_KEY_BYTES = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENCODED_TRICK = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_STORE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _text(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string, got {_type_name(value)}")
    return str(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def object_key(value: Any, what: str = "key") -> str:
    """A user's object key, checked; raises InvalidArgument naming why."""
    key = _text(what, value)
    size = len(key.encode("utf-8", "surrogatepass"))
    if not key:
        raise InvalidArgument(f"{what} must not be empty")
    if size > MAX_OBJECT_KEY_BYTES:
        raise InvalidArgument(f"{what} is {size} bytes; at most {MAX_OBJECT_KEY_BYTES}")
    _check_chars(key, what)
    if key.startswith("/"):
        raise InvalidArgument(f"{what} must be relative (no leading '/'): {key!r}")
    for segment in key.split("/")[:-1] if key.endswith("/") else key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidArgument(f"{what} must not contain empty, '.' or '..' segments: {key!r}")
    return key


def object_prefix(value: Any, what: str = "prefix") -> str:
    """A listing prefix: empty, or a key prefix with the same rules."""
    prefix = _text(what, value)
    if not prefix:
        return ""
    _check_chars(prefix, what)
    if prefix.startswith("/") or any(s in (".", "..") for s in prefix.split("/")):
        raise InvalidArgument(f"{what} must not start with '/' or contain '.' or '..' "
                              f"segments: {prefix!r}")
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_OBJECT_KEY_BYTES:
        raise InvalidArgument(f"{what} is longer than {MAX_OBJECT_KEY_BYTES} bytes")
    return prefix


def _check_chars(key: str, what: str) -> None:
    if _CONTROL.search(key):
        raise InvalidArgument(f"{what} must not contain NUL or control characters")
    if "\\" in key:
        raise InvalidArgument(f"{what} must not contain backslashes: {key!r}")
    if _ENCODED_TRICK.search(key):
        raise InvalidArgument(f"{what} must not contain percent-encoded '.', '/', '\\' "
                              f"or NUL: {key!r}")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in key):
        raise InvalidArgument(f"{what} must be valid Unicode (a lone surrogate was found)")


def kv_key(value: Any) -> str:
    """A KV key: 1 to 512 bytes; Cloudflare also refuses '.' and '..'."""
    key = _text("key", value)
    size = len(key.encode("utf-8", "surrogatepass"))
    if not key or key in (".", ".."):
        raise InvalidArgument("key must not be empty, '.' or '..'")
    if size > MAX_KV_KEY_BYTES:
        raise InvalidArgument(f"key is {size} bytes; at most {MAX_KV_KEY_BYTES}")
    return key


def store_name(value: Any) -> str:
    """A KV store (namespace) name: letters, digits, '_', '-', '.'."""
    name = _text("store name", value)
    if not _STORE_NAME.match(name):
        raise InvalidArgument(f"store name {name!r} is not valid: use 1 to 64 letters, digits, "
                              "'_', '-' or '.', starting with a letter or digit")
    return name


def scope_prefix(account: str, room: str | None = None) -> str:
    """The object-key prefix of an account, or of one room in it. Ids are
    encoded so that any id is exactly one safe segment."""
    prefix = f"{_segment(account)}/"
    if room is not None:
        prefix += f"rooms/{_segment(room)}/"
    return prefix


def _segment(ident: str) -> str:
    if not ident:
        raise ValueError("an account or room id must not be empty")
    return quote(ident, safe="-_").replace(".", "%2E")


def encode_cursor(after: str) -> str:
    """An opaque listing cursor for a position (a key relative to the scope)."""
    return base64.urlsafe_b64encode(after.encode("utf-8", "surrogatepass")).decode()


def decode_cursor(cursor: Any, what: str) -> str:
    """The position inside a cursor from encode_cursor; InvalidArgument for
    anything else. The position is only ever used below the caller's scope
    prefix, so a forged cursor can skip keys but never reach others."""
    try:
        raw = base64.b64decode(str(cursor).encode(), altchars=b"-_", validate=True)
        after = raw.decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{what}: cursor is not one this binding returned") from None
    if "\x00" in after:
        raise InvalidArgument(f"{what}: cursor is not one this binding returned")
    return after
