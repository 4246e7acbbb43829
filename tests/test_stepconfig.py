"""The storage-free rules of durable steps: durations, step config and its
defaults, retry delays, limits and step identity."""

from __future__ import annotations

from typing import Any

import pytest

from bindings.errors import InvalidArgument
from bindings.stepconfig import (
    DAY,
    SECOND,
    RetryPolicy,
    StepConfig,
    StepCounter,
    event_timeout,
    may_retry,
    parse_duration,
    retry_delay,
    sleep_duration,
    step_config,
    step_name,
)


@pytest.mark.parametrize(("value", "ms"), [
    (0, 0.0), (1500, 1500.0), (2.5, 2.5), ("10 seconds", 10_000.0), ("1 second", 1000.0),
    ("1 hour", 3_600_000.0), ("26 hours", 26 * 3_600_000.0), ("2 days", 2 * DAY),
    ("1 week", 7 * DAY), ("1 month", 30 * DAY), ("1 year", 365 * DAY),
    ("250 milliseconds", 250.0), ("1.5 minutes", 90_000.0), ("  3 Minutes ", 180_000.0),
    # As Cloudflare's engine (itty-time) reads them: a bare number or an
    # unknown unit is milliseconds.
    ("10", 10.0), ("200 millis", 200.0), ("5 ms", 5.0), ("5 fortnights", 5.0),
])
def test_durations(value: Any, ms: float) -> None:
    assert parse_duration(value, "d") == ms


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), True, None, [], "soon",
                                   "ten seconds", "-3 seconds", ""])
def test_bad_durations_name_the_field(value: Any) -> None:
    with pytest.raises(InvalidArgument, match=r"step\.sleep: duration"):
        parse_duration(value, "step.sleep: duration")


def test_step_config_defaults_are_cloudflares() -> None:
    assert step_config(None) == StepConfig(RetryPolicy(5, 10_000.0, "exponential"), 600_000.0)
    assert step_config({}) == step_config(None)
    assert step_config({"retries": {"limit": 0}}).retries == RetryPolicy(0, 10_000.0,
                                                                          "exponential")
    config = step_config({"retries": {"limit": 3, "delay": "1 second", "backoff": "linear"},
                          "timeout": "30 seconds"})
    assert config == StepConfig(RetryPolicy(3, 1000.0, "linear"), 30_000.0)
    assert config.to_wire() == {"retries": {"limit": 3, "delay": 1000.0, "backoff": "linear"},
                                "timeout": 30_000.0}


@pytest.mark.parametrize(("raw", "message"), [
    ("fast", "config must be an object"),
    ({"retry": {}}, "unknown config field 'retry'"),
    ({"retries": 3}, "retries must be an object"),
    ({"retries": {"limit": -1}}, "limit must be a whole number"),
    ({"retries": {"limit": 1.5}}, "limit must be a whole number"),
    ({"retries": {"limit": True}}, "limit must be a whole number"),
    ({"retries": {"backoff": "fibonacci"}}, "backoff must be one of"),
    ({"retries": {"delay": "whenever"}}, "config.retries.delay"),
    ({"retries": {"jitter": True}}, "unknown retries field 'jitter'"),
    ({"timeout": 0}, "timeout must be more than 0"),
    ({"timeout": "forever"}, "config.timeout"),
])
def test_bad_step_configs(raw: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        step_config(raw)


def test_retry_delays_and_limits() -> None:
    constant = RetryPolicy(3, 1000.0, "constant")
    linear = RetryPolicy(3, 1000.0, "linear")
    exponential = RetryPolicy(3, 1000.0, "exponential")
    assert [retry_delay(constant, n) for n in (1, 2, 3)] == [1000.0] * 3
    assert [retry_delay(linear, n) for n in (1, 2, 3)] == [1000.0, 2000.0, 3000.0]
    assert [retry_delay(exponential, n) for n in (1, 2, 3)] == [1000.0, 2000.0, 4000.0]
    assert retry_delay(exponential, 10_000) > 0  # huge counts do not overflow
    assert [may_retry(constant, n) for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert not may_retry(RetryPolicy(0), 1)
    with pytest.raises(ValueError):
        retry_delay(constant, 0)


def test_sleep_and_event_timeout_limits() -> None:
    assert sleep_duration("365 days") == 365 * DAY
    with pytest.raises(InvalidArgument, match="more than 365 days"):
        sleep_duration("366 days")
    assert event_timeout(None) == DAY
    assert event_timeout("1 second") == SECOND
    for bad in ("999 milliseconds", "366 days", 0):
        with pytest.raises(InvalidArgument, match="from 1 second to 365 days"):
            event_timeout(bad)


def test_step_names_and_identity() -> None:
    assert step_name("fetch", "step.do") == "fetch"
    for bad in ("", None, 3, "x" * 257):
        with pytest.raises(InvalidArgument, match=r"step\.do: name"):
            step_name(bad, "step.do")
    counter = StepCounter()
    assert [counter.key(n) for n in ("a", "b", "a", "a")] == ["a#1", "b#1", "a#2", "a#3"]
    again = StepCounter()  # a replay assigns the same keys in the same order
    assert [again.key(n) for n in ("a", "b", "a", "a")] == ["a#1", "b#1", "a#2", "a#3"]
