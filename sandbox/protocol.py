"""The wire format between host and guest, as pure functions.

A host call from the guest is the UTF-8 JSON text ``[capability, method,
args]``. The reply is one status byte and JSON: ``o`` + value, ``e`` +
``{"name", "message"}`` (user code sees a rejected promise), or ``f`` (a
limit was breached: the guest traps at once so nothing can catch it).

Bytes travel raw. A Uint8Array argument is sent after the JSON as NUL, the
u32 (little-endian) index of its argument, then the bytes; the capability
receives `bytes` in that slot. A capability that returns `Binary(value,
data)` sends ``o`` + JSON(value) + NUL + data, and user code's promise
resolves to ``[value, ArrayBuffer]``. JSON text never contains a NUL.

A capability that returns `Pending(future)` answers ``p`` + JSON(id): the
guest's promise stays pending while the future runs, so that operations
started together (fetches) are in flight together. The guest's event loop
asks ``["loop", "wait", [ms]]`` for the ids that ended (waiting at most ms,
or until one ends when ms is -1) and ``["loop", "result", [id]]`` for each
one's reply.

fb_compile and fb_run answer with ``o`` + payload or ``e`` + ``{"reason",
"error"}``; see sandbox/guest/shim.c.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

# Capabilities whose names start so are for the built-in JavaScript (fetch,
# crypto.subtle) and never appear among the bindings user code gets.
INTERNAL_PREFIX = "flowbox:"
FETCH = INTERNAL_PREFIX + "fetch"  # the capability behind the guest's fetch()
SUBTLE = INTERNAL_PREFIX + "subtle"  # crypto.subtle, served by every execution (subtle.py)
OK = ord("o")
ERROR = ord("e")
FATAL_REPLY = b"f"


class CapabilityError(Exception):
    """Raised by a capability for a failure that user code should see as a
    JavaScript error with this name and message."""

    def __init__(self, message: str, name: str = "Error") -> None:
        super().__init__(message)
        self.name = name
        self.message = message


class Capability(Protocol):
    """A host object handed to user code: its methods become async JS
    functions on the binding of the same name, passed through the engine's
    adapter of that name when `adapter` is set."""

    @property
    def methods(self) -> Sequence[str]:
        """The method names user code may call."""
        ...

    @property
    def adapter(self) -> str | None:
        """The engine adapter that shapes these methods, or None."""
        ...

    def call(self, method: str, args: list[Any]) -> Any:
        """Runs one method; returns a JSON-serializable value or raises
        CapabilityError."""
        ...


class ProtocolError(ValueError):
    """A message that does not follow the protocol."""


_decode = json.JSONDecoder().decode


@dataclass(frozen=True)
class Pending:
    """A capability's result that ends later: the future's result (a value
    or Binary) or its CapabilityError becomes the reply. `cancel` is called
    when the execution ends before the future does."""

    future: Future[Any]
    cancel: Callable[[], None] | None = None


@dataclass(frozen=True)
class Binary:
    """A capability's result that carries bytes beside its JSON value."""

    value: Any
    data: bytes


def decode_request(data: bytes) -> tuple[str, str, list[Any]]:
    """Parses ``[capability, method, args]`` and its attachment, if any."""
    cut = data.find(b"\0")
    text = data if cut < 0 else data[:cut]
    try:
        msg = _decode(text.decode())
    except ValueError as exc:
        raise ProtocolError(f"host call is not JSON: {exc}") from None
    if b"\\u" in text:  # a lone surrogate would come as an escape
        msg = well_formed(msg)
    if (not isinstance(msg, list) or len(msg) != 3 or not isinstance(msg[0], str)
            or not isinstance(msg[1], str) or not isinstance(msg[2], list)):
        raise ProtocolError("host call must be [capability, method, args]")
    if cut >= 0:
        if len(data) < cut + 5:
            raise ProtocolError("host call attachment is truncated")
        (index,) = struct.unpack_from("<I", data, cut + 1)
        if index >= len(msg[2]):
            raise ProtocolError("host call attachment names no argument")
        msg[2][index] = data[cut + 5:]
    return msg[0], msg[1], msg[2]


# Built once: json.dumps with non-default options builds an encoder per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def encode_ok(value: Any) -> bytes:
    if isinstance(value, Binary):
        return b"o" + _encode(value.value).encode() + b"\0" + value.data
    return b"o" + _encode(value).encode()


def encode_pending(op_id: int) -> bytes:
    return b"p" + str(op_id).encode()


def encode_error(name: str, message: str) -> bytes:
    return b"e" + json.dumps({"name": name, "message": message}, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Failure:
    """What the guest said about an execution or compilation that failed."""

    # syntax | module | threw | never_settled | memory | stack | not_serializable | input
    reason: str
    name: str
    message: str
    stack: str | None


def _failure(payload: bytes) -> Failure:
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), dict):
        return Failure("threw", "Error", "the guest sent a malformed failure report", None)
    err = well_formed(doc["error"])
    stack = err.get("stack")
    return Failure(reason=str(doc.get("reason", "threw")), name=str(err.get("name", "Error")),
                   message=str(err.get("message", "")),
                   stack=stack if isinstance(stack, str) else None)


def parse_compile_output(buf: bytes) -> tuple[dict[str, Any], bytes] | Failure:
    """``o`` + u32 metadata length + metadata JSON + bytecode, or a Failure."""
    if not buf or buf[0] != OK:
        return _failure(buf[1:])
    (meta_len,) = struct.unpack_from("<I", buf, 1)
    meta = json.loads(buf[5:5 + meta_len])
    return meta, bytes(buf[5 + meta_len:])


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(value: Any) -> Any:
    """`value` with every lone surrogate (which JavaScript strings may hold
    and UTF-8 cannot) replaced by U+FFFD, as a UTF-8 decoder would."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [well_formed(v) for v in value]
    if isinstance(value, dict):
        return {well_formed(k): well_formed(v) for k, v in value.items()}
    return value


def encode_modules(modules: Sequence[tuple[str, str, bytes]]) -> bytes:
    """The script's other modules for fb_modules: (kind, name, data) with
    kind ``s`` (source) or ``b`` (bytecode); each name and data NUL-ended."""
    out = bytearray()
    for kind, name, data in modules:
        raw = name.encode()
        out += kind.encode() + struct.pack("<I", len(raw)) + raw + b"\0"
        out += struct.pack("<I", len(data)) + data + b"\0"
    return bytes(out)


def parse_compiled_modules(buf: bytes) -> tuple[tuple[str, bytes], ...]:
    """fb_compiled_modules' answer: ``o`` + (u32 length, name, u32 length,
    bytecode) per module compiled from source."""
    if not buf or buf[0] != OK:
        raise ProtocolError("fb_compiled_modules did not answer ok")
    out, at = [], 1
    while at < len(buf):
        (n,) = struct.unpack_from("<I", buf, at)
        name = buf[at + 4:at + 4 + n].decode()
        at += 4 + n
        (m,) = struct.unpack_from("<I", buf, at)
        out.append((name, bytes(buf[at + 4:at + 4 + m])))
        at += 4 + m
    return tuple(out)


def parse_run_output(buf: bytes) -> bytes | Failure:
    """The result's JSON text (empty for undefined), or a Failure."""
    if not buf or buf[0] != OK:
        return _failure(buf[1:])
    return bytes(buf[1:])
