"""Limits and the pure accounting behind them."""

from __future__ import annotations

import pytest

from sandbox import Limits
from sandbox.errors import LIMIT_ERRORS, HostCallLimitExceeded
from sandbox.limits import Meter


def test_defaults_are_valid_and_builders_return_copies() -> None:
    base = Limits()
    tight = base.with_timeout(1).with_cpu(0.5).with_memory(8 << 20).with_host_calls(3)
    assert (tight.timeout, tight.cpu, tight.memory, tight.host_calls) == (1, 0.5, 8 << 20, 3)
    assert base.timeout == Limits.timeout


@pytest.mark.parametrize("field, value", [
    ("timeout", 0), ("cpu", -1), ("memory", 0), ("host_calls", True), ("log_bytes", "10"),
    ("stack", 64 << 20), ("memory", 4 << 30),
])
def test_bad_limits_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_meter_counts_host_calls_up_to_the_limit() -> None:
    meter = Meter(Limits(host_calls=2))
    assert meter.charge_host_call() is None
    assert meter.charge_host_call() is None
    assert meter.charge_host_call() == "host_calls"
    assert meter.breached == "host_calls"


def test_meter_counts_log_bytes() -> None:
    meter = Meter(Limits(log_bytes=10))
    assert meter.charge_log(6) is None
    assert meter.charge_log(5) == "log_bytes"


def test_every_limit_has_an_error_that_names_it() -> None:
    # host_call_bytes refuses one call with a catchable RangeError instead
    # (tests/test_run.py); the execution goes on.
    fields = {f for f in Limits.__dataclass_fields__} - {"host_call_bytes"}
    assert set(LIMIT_ERRORS) == fields
    err = HostCallLimitExceeded(1000)
    assert "host_calls" in str(err) and err.to_dict()["limit"] == "host_calls"
