"""`step`: durable steps with Cloudflare Workflows semantics (seed 002),
by replay. js/step.js shapes these raw host methods into the step API:

  do(name, config)         -> {run: attempt, key} | {value} | {suspend} | {sleep: ms, key};
                              throws a failed step
  done(key, outcome)       -> the same, after an attempt ended with
                              outcome {value: JSON text | null} or {error: {name, message,
                              nonRetryable}}; {value} only once the result is durable
  sleep(name, duration)    -> {value: null} | {suspend}
  sleepUntil(name, millis) -> {value: null} | {suspend}
  wait(name, type, timeout)-> {value: JSON text of {payload, timestamp, type}} | {suspend};
                              throws once timed out
  again(key)               -> the answer for a step once its {sleep} is over

`{sleep: ms, key}` is a short sleep or retry delay (within `keepalive`)
that the activation waits out itself, as Cloudflare's engine does, instead
of suspending; so state outside the steps survives it.

A step the activation cannot finish now answers `suspend`: its promise
stays pending, the activation ends when nothing else can progress, and the
engine wakes the instance at `wake_at`. The records of the journal are
loaded before the activation and every change is saved through `Journal`
before the code can observe it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sandbox import LimitExceeded, NeverSettled, RunResult
from sandbox.protocol import well_formed

from . import stepconfig
from .errors import BindingError, BindingLimitExceeded, InvalidArgument
from .journal import (
    Journal,
    Replay,
    RunAttempt,
    StepRecord,
    Suspend,
    Throw,
    after_attempt,
    decide_do,
    decide_sleep,
    decide_wait,
    timed_out,
)

MAX_RESULT_BYTES = 1024 * 1024
DEFAULT_MAX_STEPS = 10_000
# Numbers below this are seconds since the epoch (seed 002), above it
# milliseconds (what Date.getTime gives): 1e11 s is the year 5138, 1e11 ms 1973.
_SECONDS_BELOW = 1e11


NON_RETRYABLE = "NonRetryableError"
# What Cloudflare's engine reports when a NonRetryableError reached the top.
FATAL_ERROR = {"name": "WorkflowFatalError",
               "message": "The execution of the Workflow instance was terminated, as a step "
                          "threw an NonRetryableError and it was not handled"}


class StepFailed(BindingError):
    """A step that failed for good, thrown into the code under its own name;
    a NonRetryableError arrives as Cloudflare's engine throws it, an Error
    whose message starts with "NonRetryableError: "."""

    def __init__(self, error: Mapping[str, str]) -> None:
        name, message = str(error.get("name", "Error")), str(error.get("message", ""))
        if name == NON_RETRYABLE:
            name, message = "Error", f"{NON_RETRYABLE}: {message}"
        super().__init__(message)
        self.name = name


class StepBinding:
    """The `step` capability of one activation of one instance."""

    methods = ("do", "done", "sleep", "sleepUntil", "wait", "again")
    adapter = "step"

    def __init__(self, journal: Journal, records: Mapping[str, StepRecord], *,
                 max_steps: int = DEFAULT_MAX_STEPS,
                 clock: Callable[[], float] = time.time,
                 keepalive: float = 0.0, deadline: float | None = None) -> None:
        """`keepalive` seconds: a sleep or retry delay that ends within them
        (and before `deadline`, by `clock`) is waited out in this activation,
        as Cloudflare's engine does, instead of suspending it."""
        self.journal = journal
        self.records = dict(records)
        self.max_steps = max_steps
        self.clock = clock
        self.keepalive = keepalive
        self.deadline = deadline
        self.wakes: list[float] = []  # when each suspended step can next progress
        # key -> the running attempt's start, by the clock and by monotonic time
        self.in_flight: dict[str, tuple[float, float]] = {}
        self._counters = {kind: stepconfig.StepCounter() for kind in ("do", "sleep", "wait")}
        self._policies: dict[str, stepconfig.StepConfig] = {}
        self._next_seq = max((r.seq for r in self.records.values()), default=0) + 1
        # Messages of NonRetryableErrors thrown into the code: one that ends
        # the run unhandled fails the instance with FATAL_ERROR.
        self.fatal_messages: set[str] = set()

    @property
    def wake_at(self) -> float | None:
        """The earliest time a suspended step can progress, if any suspended."""
        return min(self.wakes, default=None)

    def call(self, method: str, args: list[Any]) -> Any:
        args = [*args, None, None, None][:3]
        if method == "do":
            return self.do(args[0], args[1])
        if method == "done":
            return self.done(args[0], args[1])
        if method == "sleep":
            return self.sleep(args[0], args[1])
        if method == "sleepUntil":
            return self.sleep_until(args[0], args[1])
        if method == "again":
            return self.again(args[0])
        return self.wait(args[0], args[1], args[2])

    # -- step.do ---------------------------------------------------------------

    def do(self, name: Any, config: Any) -> dict[str, Any]:
        name = stepconfig.step_name(name, "step.do")
        parsed = stepconfig.step_config(config)
        key = "do:" + self._counters["do"].key(name)
        self._policies[key] = parsed
        record = self.records.get(key)
        if record is None:
            record = self._new(key, "do", name, config=parsed.to_wire())
        return self._answer(key, decide_do(record, self.clock()))

    def done(self, key: Any, outcome: Any) -> dict[str, Any]:
        if not isinstance(key, str) or key not in self.in_flight or not isinstance(outcome, dict):
            raise InvalidArgument("step.done: no such attempt in flight")
        start, started = self.in_flight.pop(key)
        record, policy = self.records[key], self._policies[key]
        now = self.clock()
        output, error, retryable = _outcome(record, outcome, policy,
                                            time.monotonic() - started)
        record = after_attempt(record, policy.retries, start, now, output=output,
                               error=error, retryable=retryable)
        self._save(record)
        return self._answer(key, decide_do(record, now))

    def fail_in_flight(self, error: dict[str, str]) -> None:
        """Ends every attempt still running as failed with `error` (the
        activation was stopped by a limit), retrying as its policy allows."""
        now = self.clock()
        for key, (start, _) in list(self.in_flight.items()):
            del self.in_flight[key]
            record = after_attempt(self.records[key], self._policies[key].retries, start, now,
                                   error=error)
            self._save(record)
            if record.wake_at is not None:
                self.wakes.append(record.wake_at)
            elif record.status == "errored":
                self.wakes.append(now)  # replay at once: the code sees the failure

    # -- sleep, sleepUntil ---------------------------------------------------------

    def sleep(self, name: Any, duration: Any) -> dict[str, Any]:
        name = stepconfig.step_name(name, "step.sleep")
        ms = stepconfig.sleep_duration(duration)
        return self._sleep(name, lambda now: now + ms / 1000)

    def sleep_until(self, name: Any, timestamp: Any) -> dict[str, Any]:
        name = stepconfig.step_name(name, "step.sleepUntil")
        if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
            raise InvalidArgument("step.sleepUntil: timestamp must be a Date or a number")
        until = timestamp if timestamp < _SECONDS_BELOW else timestamp / 1000
        if until - self.clock() > stepconfig.MAX_SLEEP_MS / 1000:
            raise InvalidArgument("step.sleepUntil: timestamp is more than 365 days away")
        return self._sleep(name, lambda now: until)

    def _sleep(self, name: str, until: Callable[[float], float]) -> dict[str, Any]:
        key = "sleep:" + self._counters["sleep"].key(name)
        now = self.clock()
        record = self.records.get(key)
        if record is None:
            record = self._new(key, "sleep", name, wake_at=until(now))
            self._save(record)
        decision = decide_sleep(record, now)
        if isinstance(decision, Replay) and record.status != "complete":
            self._save(replace(record, status="complete", end=record.wake_at))
        return self._answer(key, decision)

    # -- waitForEvent ---------------------------------------------------------------

    def wait(self, name: Any, event_type: Any, timeout: Any) -> dict[str, Any]:
        name = stepconfig.step_name(name, "step.waitForEvent")
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
            raise InvalidArgument("step.waitForEvent: type must be a string of 1 to 100 "
                                  "characters")
        ms = stepconfig.event_timeout(timeout)
        key = "wait:" + self._counters["wait"].key(name)
        now = self.clock()
        record = self.records.get(key)
        if record is None:
            record = self._new(key, "wait", name, wake_at=now + ms / 1000,
                               event_type=event_type)
            self._save(record)
        if record.status == "running":
            taken = self.journal.take_event(record, event_type)
            if taken is not None:
                record = self.records[key] = taken
            elif record.wake_at is not None and record.wake_at <= now:
                record = timed_out(record, now)
                self._save(record)
        return self._answer(key, decide_wait(record, now))

    def again(self, key: Any) -> dict[str, Any]:
        """Decides once more for a step this activation waited on (a
        `{"sleep": ms, "key"}` answer), now that the wait is over."""
        record = self.records.get(key) if isinstance(key, str) else None
        if record is None or record.kind == "wait":
            raise InvalidArgument("step: no such step is waiting")
        now = self.clock()
        if record.kind == "do":
            return self._answer(key, decide_do(record, now))
        decision = decide_sleep(record, now)
        if isinstance(decision, Replay) and record.status != "complete":
            self._save(replace(record, status="complete", end=record.wake_at))
        return self._answer(key, decision)

    # -- shared ------------------------------------------------------------------

    def _waits_here(self, key: str, wake_at: float) -> bool:
        return _waits_here_rule(self.records[key].kind, wake_at, self.clock(), self.keepalive,
                                self.deadline)

    def _new(self, key: str, kind: str, name: str, **fields: Any) -> StepRecord:
        if len(self.records) >= self.max_steps:
            raise BindingLimitExceeded(f"this instance has reached its step limit "
                                       f"(limits.steps = {self.max_steps})")
        record = StepRecord(key=key, kind=kind, name=name, seq=self._next_seq,
                            start=self.clock(), **fields)
        self._next_seq += 1
        self.records[key] = record
        return record

    def _save(self, record: StepRecord) -> None:
        self.journal.save(record)
        self.records[record.key] = record

    def _answer(self, key: str, decision: Any) -> dict[str, Any]:
        if isinstance(decision, Replay):
            return {"value": decision.output}
        if isinstance(decision, Throw):
            failed = StepFailed(decision.error)
            if decision.error.get("name") == NON_RETRYABLE:
                self.fatal_messages.add(failed.message)
            raise failed
        if isinstance(decision, Suspend):
            if self._waits_here(key, decision.wake_at):
                return {"sleep": max(0, round((decision.wake_at - self.clock()) * 1000)),
                        "key": key}
            self.wakes.append(decision.wake_at)
            return {"suspend": True}
        assert isinstance(decision, RunAttempt)
        self.in_flight[key] = (self.clock(), time.monotonic())
        return {"run": decision.number, "key": key}


def _waits_here_rule(kind: str, wake_at: float, now: float, keepalive: float,
                     deadline: float | None) -> bool:
    """Whether a wait until `wake_at` is short enough to keep the activation
    alive: sleeps and retry delays only, within `keepalive` seconds and a
    second before the activation's deadline."""
    if kind == "wait" or wake_at - now > keepalive:
        return False
    return deadline is None or wake_at < deadline - 1.0


def _well_formed_json(text: str) -> str:
    """The step's JSON text with lone surrogates (escaped in it) replaced by
    U+FFFD, so that what is stored can always be answered as UTF-8."""
    try:
        return json.dumps(well_formed(json.loads(text)), ensure_ascii=False,
                          separators=(",", ":"))
    except ValueError:
        return text


def _outcome(record: StepRecord, outcome: dict[str, Any], config: stepconfig.StepConfig,
             elapsed: float) -> tuple[str | None, dict[str, str] | None, bool]:
    """(output, error, retryable) of one finished attempt."""
    error = outcome.get("error")
    if isinstance(error, dict):
        return None, {"name": str(error.get("name", "Error"))[:200],
                      "message": str(error.get("message", ""))[:4096]}, not error.get(
                          "nonRetryable")
    output = outcome.get("value")
    if output is not None and not isinstance(output, str):
        return None, {"name": "TypeError", "message": "step result was not encoded"}, False
    if elapsed > config.timeout_ms / 1000:
        return None, {"name": "WorkflowTimeoutError",
                      "message": f'step.do("{record.name}") attempt took '
                                 f"{elapsed:.3f} s, more than its timeout of "
                                 f"{config.timeout_ms / 1000:g} s"}, True
    if output is not None and "\\u" in output:
        output = _well_formed_json(output)
    size = len(output.encode()) if output is not None else 0
    if size > MAX_RESULT_BYTES:
        return None, {"name": "RangeError",
                      "message": f'step.do("{record.name}"): the result is {size} bytes, '
                                 f"over the limit of {MAX_RESULT_BYTES} bytes (1 MiB)"}, False
    return output, None, True


@dataclass(frozen=True)
class Activation:
    """How one activation of an instance ended: `complete` with `output`,
    `errored` with `error`, or `waiting` until `wake_at`."""

    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    wake_at: float | None = None


def activation_outcome(result: RunResult, step: StepBinding) -> Activation:
    """Classifies a finished activation. A promise left pending by suspended
    steps means waiting; a limit that stopped running attempts fails those
    attempts (they retry by their policies) and the instance waits; any
    other error fails the instance."""
    if result.error is None:
        return Activation("complete", output=result.value)
    if isinstance(result.error, NeverSettled) and step.wake_at is not None:
        return Activation("waiting", wake_at=step.wake_at)
    if isinstance(result.error, LimitExceeded) and step.in_flight:
        step.fail_in_flight({"name": type(result.error).__name__,
                             "message": str(result.error)})
        return Activation("waiting", wake_at=step.wake_at)
    error = result.error.to_dict()
    if error.get("message") in step.fatal_messages:
        return Activation("errored", error=dict(FATAL_ERROR))
    return Activation("errored", error=error)
