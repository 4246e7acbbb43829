"""The host side of the guest's `fetch` (sandbox/guest/js/fetch.js): real
HTTP(S) requests under the operator's egress policy and per-execution
limits.

    start(request, body?) -> Pending: [{status, statusText, headers, url,
                             redirected}, body bytes]
    abort(id)             -> null; the request's connection is closed

Each request connects to the address the egress policy checked (no second
DNS lookup), each redirect hop is checked again, and requests run on a
shared thread pool so that those started together are in flight together
without holding the execution's thread. Every subrequest is recorded
(method, scheme, host, path without the query, status, duration, bytes)
for the execution's logs.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from sandbox import Binary, CapabilityError, LogEntry, Pending

from .egress import Egress, EgressRefused

MiB = 1024 * 1024
MAX_REDIRECTS = 20
_CHUNK = 64 * 1024
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "transfer-encoding", "upgrade",
                         "proxy-connection", "te", "trailer", "host", "content-length"))
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="flowbox-fetch")
        return _pool


@dataclass(frozen=True)
class FetchLimits:
    """Per-execution limits of `fetch`. A breach is a catchable error that
    names the limit. `response_bytes` must stay under the sandbox's
    host_call_bytes, which carries the body into the guest."""

    subrequests: int = 50  # as Workers' free plan
    response_bytes: int = 4 * MiB
    timeout: float = 30.0  # seconds per request, never past the execution's deadline


@dataclass(frozen=True)
class FetchPolicy:
    """What the operator decided about `fetch`: where it may go, how much."""

    egress: Egress
    limits: FetchLimits = FetchLimits()


@dataclass(frozen=True)
class Subrequest:
    """What the logs keep of one subrequest: no query, no headers, no body."""

    method: str
    url: str  # scheme://host[:port]/path
    status: int | None
    duration: float
    bytes: int
    error: str | None
    time: float

    def log_entry(self) -> LogEntry:
        outcome = str(self.status) if self.status is not None else f"failed: {self.error}"
        return LogEntry("info", f"fetch {self.method} {self.url} -> {outcome} "
                                f"({self.duration * 1000:.0f} ms, {self.bytes} bytes)", self.time)


class FetchBinding:
    """`fetch` for one execution."""

    methods = ("start", "abort")
    adapter = None

    def __init__(self, egress: Egress, *, limits: FetchLimits | None = None,
                 deadline: float | None = None,
                 pool: Callable[[], ThreadPoolExecutor] = _shared_pool) -> None:
        self.egress = egress
        self.limits = limits or FetchLimits()
        self.deadline = deadline
        self.records: list[Subrequest] = []
        self._pool = pool
        self._count = 0
        self._connections: dict[int, http.client.HTTPConnection] = {}
        self._aborted: set[int] = set()
        self._lock = threading.Lock()

    def call(self, method: str, args: list[Any]) -> Any:
        if method == "abort":
            self._abort(args[0] if args else None)
            return None
        request = args[0] if args else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            raise CapabilityError("fetch: malformed request", "TypeError")
        body = args[1] if len(args) > 1 and isinstance(args[1], bytes) else None
        self._count += 1
        if self._count > self.limits.subrequests:
            raise CapabilityError(
                f"Too many subrequests: this execution may make at most "
                f"{self.limits.subrequests} (limit subrequests)", "Error")
        request_id = request.get("id")
        future: Future[Any] = self._pool().submit(self._perform, request, body, request_id)
        return Pending(future, cancel=lambda: self._abort(request_id))

    # -- on a pool thread ---------------------------------------------------

    def _perform(self, request: dict[str, Any], body: bytes | None, request_id: Any) -> Binary:
        started, wall = time.monotonic(), time.time()
        method = str(request.get("method", "GET"))
        url = str(request["url"])
        status: int | None = None
        size = 0
        error: str | None = None
        try:
            meta, data = self._follow(request_id, method, url, _headers(request), body,
                                      str(request.get("redirect", "follow")))
            status, size = meta["status"], len(data)
            return Binary(meta, data)
        except CapabilityError as exc:
            error = exc.message
            raise
        finally:
            self.records.append(Subrequest(method, _loggable(url), status,
                                           time.monotonic() - started, size, error, wall))

    def _follow(self, request_id: Any, method: str, url: str, headers: list[tuple[str, str]],
                body: bytes | None, redirect: str) -> tuple[dict[str, Any], bytes]:
        for hop in range(MAX_REDIRECTS + 1):
            status, reason, got, data = self._one(request_id, method, url, headers, body)
            location = next((v for k, v in got if k == "location"), None)
            if status not in (301, 302, 303, 307, 308) or location is None or redirect == "manual":
                return {"status": status, "statusText": reason, "headers": got, "url": url,
                        "redirected": hop > 0}, data
            if redirect == "error":
                raise CapabilityError(f"fetch: {url} redirected (status {status}) and the "
                                      "request's redirect mode is 'error'", "TypeError")
            target = urljoin(url, location)
            if urlsplit(target).scheme not in ("http", "https"):
                raise CapabilityError(f"fetch: redirect to a non-HTTP URL {target!r}",
                                      "TypeError")
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = ("GET" if method != "HEAD" else "HEAD"), None
                headers = [(k, v) for k, v in headers if not k.startswith("content-")]
            if _origin(target) != _origin(url):
                headers = [(k, v) for k, v in headers if k != "authorization"]
            url = target
        raise CapabilityError(f"fetch: more than {MAX_REDIRECTS} redirects", "TypeError")

    def _one(self, request_id: Any, method: str, url: str, headers: list[tuple[str, str]],
             body: bytes | None) -> tuple[int, str, list[list[str]], bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CapabilityError(f"fetch: cannot fetch {url!r}", "TypeError")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = self.egress.address(parts.hostname, port)
        except EgressRefused as exc:
            raise CapabilityError(f"fetch to {parts.scheme}://{parts.netloc}/ refused: {exc}",
                                  "TypeError") from None
        timeout = self._timeout()
        conn = _connection(parts.scheme, parts.hostname, port, address, timeout)
        with self._lock:
            if request_id in self._aborted:
                raise CapabilityError("The operation was aborted", "AbortError")
            self._connections[request_id] = conn
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            if body is not None or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or None)
            response = conn.getresponse()
            data = self._read_body(response, url)
            got = [[k.lower(), v] for k, v in response.getheaders()]
            return response.status, response.reason, got, data
        except (OSError, http.client.HTTPException) as exc:
            if request_id in self._aborted:
                raise CapabilityError("The operation was aborted", "AbortError") from None
            if isinstance(exc, TimeoutError | socket.timeout):
                raise CapabilityError(f"fetch to {parts.scheme}://{parts.netloc}/ timed out "
                                      f"after {timeout:.1f} s (limit timeout)", "TypeError"
                                      ) from None
            raise CapabilityError(f"fetch to {parts.scheme}://{parts.netloc}/ failed: "
                                  f"{_describe(exc)}", "TypeError") from None
        finally:
            with self._lock:
                self._connections.pop(request_id, None)
            conn.close()

    def _read_body(self, response: http.client.HTTPResponse, url: str) -> bytes:
        limit = self.limits.response_bytes
        declared = response.getheader("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise CapabilityError(f"fetch: the response of {_loggable(url)} is {declared} bytes, "
                                  f"over the limit of {limit} bytes (limit response_bytes)",
                                  "RangeError")
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise CapabilityError(f"fetch: the response of {_loggable(url)} is over the "
                                      f"limit of {limit} bytes (limit response_bytes)",
                                      "RangeError")
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise CapabilityError("fetch: the execution's time ran out while reading the "
                                      "response (limit timeout)", "TypeError")
            chunks.append(chunk)
        return b"".join(chunks)

    def _timeout(self) -> float:
        timeout = self.limits.timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
        if timeout <= 0:
            raise CapabilityError("fetch: the execution has no time left (limit timeout)",
                                  "TypeError")
        return timeout

    def _abort(self, request_id: Any) -> None:
        with self._lock:
            self._aborted.add(request_id)
            conn = self._connections.get(request_id)
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked address, whatever `host` resolves to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _connection(scheme: str, host: str, port: int, address: str,
                timeout: float) -> http.client.HTTPConnection:
    cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    return cls(host, port, address, timeout)


def _headers(request: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for pair in request.get("headers") or []:
        if (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
                and pair[0].lower() not in _HOP_BY_HOP):
            out.append((pair[0].lower(), pair[1]))
    if not any(k == "user-agent" for k, _ in out):
        out.append(("user-agent", "Flowbox-Workers"))
    return out


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _loggable(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def _describe(exc: BaseException) -> str:
    # The OS error's name, never what the peer sent (no banner echo).
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return "TLS error"
    if isinstance(exc, http.client.HTTPException):
        return "the server's answer is not HTTP"
    return type(exc).__name__
