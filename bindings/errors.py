"""Errors a binding raises. Each one reaches user code as a JavaScript
exception it can catch, with the name and message given here; nothing of
the host (paths, endpoints, credentials, tracebacks) goes into a message."""

from __future__ import annotations

from sandbox import CapabilityError


class BindingError(CapabilityError):
    """A binding call failed; `name` is the JavaScript error name."""

    js_name = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message, self.js_name)


class InvalidArgument(BindingError):
    """User code passed something the binding does not accept."""

    js_name = "TypeError"


class InvalidValue(BindingError):
    """Stored data that cannot be read the way user code asked."""

    js_name = "SyntaxError"


class BindingLimitExceeded(BindingError):
    """A per-object or per-execution limit of a binding."""

    js_name = "RangeError"


class BackendUnavailable(BindingError):
    """The storage behind a binding failed or did not answer in time."""

    js_name = "Error"


class StorageError(Exception):
    """Raised by a storage backend when the storage itself failed (network,
    disk, timeout); bindings report it as BackendUnavailable."""


class KeyRejected(ValueError):
    """Raised by a storage backend for a key it cannot store."""


class ObjectTooLarge(Exception):
    """Raised by ObjectStore.get, before reading the body, for an object
    over the caller's `max_bytes`."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the object is {size} bytes")
        self.size = size
