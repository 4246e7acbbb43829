"""The journal of a durable workflow instance: one record per step, and
the replay rules that decide, from a step's record and the clock, what a
step call does in this activation. Plain data and plain functions; the step
binding (step.py) applies them, the durable engine stores the records.

A step is `do` (a callback with retries), `sleep` (sleep and sleepUntil)
or `wait` (waitForEvent). Its key is the kind, the name and the occurrence
count of that name (StepCounter), so the same code reaches the same keys on
every replay. Times are seconds since the epoch; durations in configs are
milliseconds, as in Cloudflare's API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .stepconfig import RetryPolicy, may_retry, retry_delay

KINDS = ("do", "sleep", "wait")


@dataclass(frozen=True)
class Attempt:
    start: float
    end: float | None = None
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "error": self.error}


@dataclass(frozen=True)
class StepRecord:
    """What the journal holds for one step.

    status: `running` (a `do` between attempts, or a sleep or wait not yet
    over), `complete`, or `errored` (a `do` out of attempts, or a wait that
    timed out). `wake_at` is when a running step can next progress: the
    next attempt, the sleep's end, the wait's timeout."""

    key: str
    kind: str
    name: str
    seq: int
    status: str = "running"
    start: float = 0.0
    end: float | None = None
    wake_at: float | None = None
    attempts: tuple[Attempt, ...] = ()
    config: dict[str, Any] | None = None
    output: str | None = None  # JSON text, as the code's adapter encoded it
    error: dict[str, str] | None = None
    event_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "name": self.name, "seq": self.seq,
                "status": self.status, "start": self.start, "end": self.end,
                "wake_at": self.wake_at, "attempts": [a.to_dict() for a in self.attempts],
                "config": self.config, "output": self.output, "error": self.error,
                "event_type": self.event_type}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepRecord:
        return cls(key=d["key"], kind=d["kind"], name=d["name"], seq=d["seq"],
                   status=d["status"], start=d["start"], end=d.get("end"),
                   wake_at=d.get("wake_at"),
                   attempts=tuple(Attempt(a["start"], a.get("end"), a.get("error"))
                                  for a in d.get("attempts", ())),
                   config=d.get("config"), output=d.get("output"), error=d.get("error"),
                   event_type=d.get("event_type"))


class Journal(Protocol):
    """Where an activation's step records go. Each method is durable when it
    returns (the code may see its effect next); each raises when this
    activation may no longer write (its lease was lost)."""

    def save(self, record: StepRecord) -> None:
        """Stores (inserts or replaces) one step record."""
        ...

    def take_event(self, record: StepRecord, event_type: str) -> StepRecord | None:
        """Atomically consumes the oldest buffered event of `event_type` and
        stores `record` completed with it (`received`); returns the stored
        record, or None when no such event is buffered."""
        ...


# -- replay rules ---------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """The step is over: return `output` (JSON text, None for undefined)."""

    output: str | None


@dataclass(frozen=True)
class Throw:
    """The step is over and failed: throw this error."""

    error: dict[str, str]


@dataclass(frozen=True)
class RunAttempt:
    """Run the callback now, as attempt `number` (from 1)."""

    number: int


@dataclass(frozen=True)
class Suspend:
    """Nothing to do before `wake_at`: the step's promise stays pending."""

    wake_at: float


Decision = Replay | Throw | RunAttempt | Suspend


def decide_do(record: StepRecord | None, now: float) -> Decision:
    """What a `step.do` call does, given its record."""
    if record is None:
        return RunAttempt(1)
    if record.status == "complete":
        return Replay(record.output)
    if record.status == "errored":
        return Throw(record.error or {"name": "Error", "message": "the step failed"})
    if record.wake_at is not None and record.wake_at > now:
        return Suspend(record.wake_at)
    return RunAttempt(len(record.attempts) + 1)


def after_attempt(record: StepRecord, policy: RetryPolicy, start: float, now: float, *,
                  output: str | None = None, error: dict[str, str] | None = None,
                  retryable: bool = True) -> StepRecord:
    """The record after one attempt that started at `start` ended at `now`
    with `output` (success) or `error`. A failure schedules the next attempt
    (retry delay by the policy) or, out of attempts or not retryable, fails
    the step for good."""
    attempts = (*record.attempts, Attempt(start, now, error))
    if error is None:
        return replace(record, status="complete", end=now, wake_at=None, attempts=attempts,
                       output=output, error=None)
    failures = sum(1 for a in attempts if a.error is not None)
    if retryable and may_retry(policy, failures):
        return replace(record, attempts=attempts, error=error,
                       wake_at=now + retry_delay(policy, failures) / 1000)
    return replace(record, status="errored", end=now, wake_at=None, attempts=attempts,
                   error=error)


def decide_sleep(record: StepRecord, now: float) -> Decision:
    """A sleep is over once its end time has passed."""
    assert record.wake_at is not None
    if record.wake_at <= now:
        return Replay(None)
    return Suspend(record.wake_at)


def decide_wait(record: StepRecord, now: float) -> Decision:
    """A wait returns its event, throws once it timed out, or waits on."""
    if record.status == "complete":
        return Replay(record.output)
    if record.status == "errored":
        return Throw(record.error or {"name": "Error", "message": "waitForEvent timed out"})
    assert record.wake_at is not None
    return Suspend(record.wake_at)


def received(record: StepRecord, event: dict[str, Any], now: float) -> StepRecord:
    """A wait completed by `event` ({type, payload, timestamp}): the code
    sees `{payload, timestamp, type}` (timestamp a Date, in milliseconds)."""
    output = json.dumps({"payload": event.get("payload"), "type": event["type"],
                         "timestamp": event["timestamp"] * 1000}, separators=(",", ":"))
    return replace(record, status="complete", end=now, wake_at=None, output=output)


def timed_out(record: StepRecord, now: float) -> StepRecord:
    """A wait whose timeout passed with no event: errored for good, so that a
    later event is never consumed by it."""
    seconds = round((record.wake_at or now) - record.start, 3)
    return replace(record, status="errored", end=now, wake_at=None, error={
        "name": "WorkflowTimeoutError",
        "message": f'step.waitForEvent("{record.name}") timed out after {seconds:g} s '
                   f'waiting for an event of type "{record.event_type}"'})


@dataclass
class MemoryJournal:
    """A journal in memory, for tests and for running a workflow class
    without a durable engine."""

    records: dict[str, StepRecord] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def save(self, record: StepRecord) -> None:
        self.records[record.key] = record

    def take_event(self, record: StepRecord, event_type: str) -> StepRecord | None:
        for i, event in enumerate(self.events):
            if event["type"] == event_type:
                del self.events[i]
                taken = received(record, event, event["timestamp"])
                self.save(taken)
                return taken
        return None
