"""`event`: the platform event that triggered a run, in the shape user code
sees: {id, type, timestamp, accountId, roomId?, data}."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = (
    "participant.joined", "participant.left", "session.started", "session.closed",
    "user.created", "user.updated", "user.deleted",
)


class InvalidEvent(ValueError):
    """An event that does not have the shape of a platform event; `field`
    names the offending member."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def iso_time(t: float) -> str:
    """Seconds since the epoch as ISO 8601 with milliseconds, in UTC."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def make_event(account: str, kind: Any, data: Any, *, event_id: str | None = None,
               at: float | None = None) -> dict[str, Any]:
    """Checks a platform event and returns it as user code sees it; the
    extra `time` member (seconds) is for the host and is removed by
    `for_sandbox`. Raises InvalidEvent naming the field."""
    if kind not in EVENT_TYPES:
        raise InvalidEvent(f"type must be one of {', '.join(EVENT_TYPES)}; got {kind!r}", "type")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise InvalidEvent("data must be an object", "data")
    for name in ("roomId", "userId"):
        if name in data and not (isinstance(data[name], str) and data[name]):
            raise InvalidEvent(f"data.{name} must be a non-empty string", f"data.{name}")
    at = time.time() if at is None else at
    event: dict[str, Any] = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": kind,
                             "timestamp": iso_time(at), "accountId": account, "data": data,
                             "time": at}
    if "roomId" in data:
        event["roomId"] = data["roomId"]
    return event


def for_sandbox(event: dict[str, Any]) -> dict[str, Any]:
    """The event without host-only members."""
    return {k: v for k, v in event.items() if k != "time"}
