"""The rules of durable steps that need no storage (seed 002, Cloudflare
Workflows semantics): durations, step configuration with its defaults,
retry delays, and step identity. Plain functions; the step binding and the
durable engine both use them, and tests call them directly.

Durations are milliseconds, or strings like "10 seconds" or "1 hour"
(units: millisecond, second, minute, hour, day, week, month = 30 days,
year = 365 days; singular or plural; any other unit counts as
milliseconds, as in Cloudflare's engine).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgument

SECOND = 1000.0
DAY = 86_400 * SECOND
UNITS = {"millisecond": 1.0, "second": SECOND, "minute": 60 * SECOND, "hour": 3600 * SECOND,
         "day": DAY, "week": 7 * DAY, "month": 30 * DAY, "year": 365 * DAY}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$")

MAX_STEP_NAME_CHARS = 256
MAX_SLEEP_MS = 365 * DAY
DEFAULT_EVENT_TIMEOUT_MS = DAY
MIN_EVENT_TIMEOUT_MS, MAX_EVENT_TIMEOUT_MS = SECOND, 365 * DAY
BACKOFFS = ("constant", "linear", "exponential")


def parse_duration(value: Any, what: str) -> float:
    """A duration in milliseconds; InvalidArgument naming `what` otherwise."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be milliseconds or a string like '10 seconds'")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{what} must be a finite, non-negative number of "
                                  f"milliseconds; got {value}")
        return float(value)
    if isinstance(value, str):
        if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
            return float(value)
        match = _DURATION.match(value.lower())
        if match:
            # A unit Cloudflare's engine does not know ("200 millis", "ms")
            # counts as milliseconds there; so it does here.
            return float(match.group(1)) * UNITS.get(match.group(2), 1.0)
        raise InvalidArgument(f"{what}: {value!r} is not a duration; use milliseconds or "
                              f"'<number> <unit>' with a unit of {', '.join(UNITS)}")
    raise InvalidArgument(f"{what} must be milliseconds or a string like '10 seconds'")


@dataclass(frozen=True)
class RetryPolicy:
    limit: int = 5
    delay_ms: float = 10 * SECOND
    backoff: str = "exponential"


@dataclass(frozen=True)
class StepConfig:
    """A `step.do` configuration with Cloudflare's defaults filled in."""

    retries: RetryPolicy = RetryPolicy()
    timeout_ms: float = 10 * 60 * SECOND

    def to_wire(self) -> dict[str, Any]:
        """As Cloudflare reports a step's config."""
        return {"retries": {"limit": self.retries.limit, "delay": self.retries.delay_ms,
                            "backoff": self.retries.backoff},
                "timeout": self.timeout_ms}


def step_config(raw: Any) -> StepConfig:
    """Checks the `config` argument of `step.do` (absent: the defaults)."""
    if raw is None:
        return StepConfig()
    if not isinstance(raw, dict):
        raise InvalidArgument("step.do: config must be an object")
    unknown = set(raw) - {"retries", "timeout"}
    if unknown:
        raise InvalidArgument(f"step.do: unknown config field {sorted(unknown)[0]!r}; "
                              "allowed: retries, timeout")
    timeout = (parse_duration(raw["timeout"], "step.do: config.timeout")
               if raw.get("timeout") is not None else StepConfig.timeout_ms)
    if timeout <= 0:
        raise InvalidArgument("step.do: config.timeout must be more than 0")
    return StepConfig(retries=_retries(raw.get("retries")), timeout_ms=timeout)


def _retries(raw: Any) -> RetryPolicy:
    if raw is None:
        return RetryPolicy()
    if not isinstance(raw, dict):
        raise InvalidArgument("step.do: config.retries must be an object")
    unknown = set(raw) - {"limit", "delay", "backoff"}
    if unknown:
        raise InvalidArgument(f"step.do: unknown retries field {sorted(unknown)[0]!r}; "
                              "allowed: limit, delay, backoff")
    limit = raw.get("limit", RetryPolicy.limit)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0 or (
            limit != int(limit)):
        raise InvalidArgument("step.do: config.retries.limit must be a whole number, 0 or more")
    delay = (parse_duration(raw["delay"], "step.do: config.retries.delay")
             if raw.get("delay") is not None else RetryPolicy.delay_ms)
    backoff = raw.get("backoff") or RetryPolicy.backoff
    if backoff not in BACKOFFS:
        raise InvalidArgument(f"step.do: config.retries.backoff must be one of "
                              f"{', '.join(BACKOFFS)}")
    return RetryPolicy(limit=int(limit), delay_ms=delay, backoff=backoff)


def retry_delay(policy: RetryPolicy, failures: int) -> float:
    """Milliseconds to wait after the `failures`-th failed attempt (1-based)
    before the next one: constant `delay`, linear `delay * failures`, or
    exponential `delay * 2^(failures-1)`."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    if policy.backoff == "constant":
        return policy.delay_ms
    if policy.backoff == "linear":
        return policy.delay_ms * failures
    return policy.delay_ms * 2.0 ** min(failures - 1, 64)


def may_retry(policy: RetryPolicy, failures: int) -> bool:
    """Whether another attempt follows the `failures`-th failure: the
    limit counts retries, so there are at most limit + 1 attempts."""
    return failures <= policy.limit


def sleep_duration(value: Any, what: str = "step.sleep: duration") -> float:
    ms = parse_duration(value, what)
    if ms > MAX_SLEEP_MS:
        raise InvalidArgument(f"{what} is more than 365 days")
    return ms


def event_timeout(value: Any) -> float:
    """`waitForEvent`'s timeout: default 24 hours, 1 second to 365 days."""
    if value is None:
        return DEFAULT_EVENT_TIMEOUT_MS
    ms = parse_duration(value, "step.waitForEvent: timeout")
    if not MIN_EVENT_TIMEOUT_MS <= ms <= MAX_EVENT_TIMEOUT_MS:
        raise InvalidArgument("step.waitForEvent: timeout must be from 1 second to 365 days")
    return ms


def step_name(value: Any, method: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{method}: name must be a non-empty string")
    if len(value) > MAX_STEP_NAME_CHARS:
        raise InvalidArgument(f"{method}: name is longer than {MAX_STEP_NAME_CHARS} characters")
    return value


class StepCounter:
    """Step identity: a name plus how many steps of that name came before
    in this activation, so loops and `Promise.all` of same-named steps get
    the same keys on every replay."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def key(self, name: str) -> str:
        count = self._seen.get(name, 0) + 1
        self._seen[name] = count
        return f"{name}#{count}"
