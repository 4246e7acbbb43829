"""The service's pure logic, called directly: the fair queue, the rate
limiter, input parsing and configuration."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from server.config import ConfigError, from_env
from server.dispatcher import DispatchConfig, Dispatcher, FairQueue
from server.errors import InvalidRequest
from server.inputs import decode_cursor, encode_cursor, page_limit, parse_json_object, parse_time
from server.ratelimit import Limiter


def test_fair_queue_takes_accounts_in_turn() -> None:
    q = FairQueue()
    for n in range(4):
        q.push("loud", f"l{n}")
    q.push("quiet", "q0")
    q.push("other", "o0")
    q.push("quiet", "q1")
    order = []
    while (item := q.pop()) is not None:
        order.append(item[1])
    assert order == ["l0", "q0", "o0", "l1", "q1", "l2", "l3"]
    assert len(q) == 0 and q.pending("loud") == 0


def test_fair_queue_counts_per_account() -> None:
    q = FairQueue()
    q.push("a", "1")
    q.push("a", "2")
    q.push("b", "3")
    assert (len(q), q.pending("a"), q.pending("b"), q.pending("c")) == (3, 2, 1, 0)


def test_limiter_allows_a_burst_then_refills_evenly() -> None:
    now = [0.0]
    limiter = Limiter(60, clock=lambda: now[0])  # one per second
    assert [limiter.take("ip") for _ in range(60)] == [0.0] * 60
    wait = limiter.take("ip")
    assert wait == pytest.approx(1.0)
    assert limiter.take("other") == 0.0  # identities are separate
    now[0] = 0.5
    assert limiter.take("ip") == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.take("ip") == 0.0
    assert Limiter(0).take("x") == 0.0  # 0 turns the limit off


def test_inputs() -> None:
    assert parse_json_object(b'{"a": 1}') == {"a": 1}
    with pytest.raises(InvalidRequest, match="line 1 column 2"):
        parse_json_object(b"{,}")
    assert page_limit(None) == 50 and page_limit("100") == 100
    for bad in ("0", "101", "-1", "ten", "1.5", "\u00b2", "\u0663"):
        with pytest.raises(InvalidRequest) as info:
            page_limit(bad)
        assert info.value.field == "limit"
    assert decode_cursor(encode_cursor((12.5, "wf_1"))) == (12.5, "wf_1")
    assert decode_cursor(None) is None and decode_cursor("") is None
    for forged in ("!!", "bm90IGpzb24", encode_cursor((1.0, "x"))[:-3]):
        with pytest.raises(InvalidRequest):
            decode_cursor(forged)
    assert parse_time("1970-01-01T00:01:00Z", "since") == 60.0
    assert parse_time("1970-01-01T00:01:00", "since") == 60.0
    assert parse_time("1970-01-01T01:01:00+01:00", "since") == 60.0
    with pytest.raises(InvalidRequest) as info:
        parse_time("noon", "until")
    assert info.value.field == "until"


def test_config_from_env_and_flags() -> None:
    config = from_env({"FLOWBOX_PORT": "9000", "FLOWBOX_DATA_DIR": "/srv/fb",
                       "FLOWBOX_RUN_TIMEOUT": "2.5"}, workers=8, port=None)
    assert (config.port, config.data_dir, config.run_timeout, config.workers) == (
        9000, Path("/srv/fb"), 2.5, 8)
    assert from_env({}, port=1234).port == 1234
    with pytest.raises(ConfigError, match="FLOWBOX_WORKERS"):
        from_env({"FLOWBOX_WORKERS": "many"})
    with pytest.raises(ConfigError, match="workers"):
        from_env({}, workers=0)
    with pytest.raises(ConfigError, match="rate_write"):
        from_env({}, rate_write=-1)
    assert from_env({"FLOWBOX_S3_BUCKET": "b"}).s3() is not None
    assert from_env({}).s3() is None


class SlowJobs:
    """One item that runs 0.6 s, as a job source; it counts renewals."""

    prefix = "slow"

    def __init__(self) -> None:
        self.renewed: list[tuple[str, float]] = []
        self.done = threading.Event()
        self.runs = 0
        self.dispatcher: Dispatcher | None = None

    def recover(self, *, only_lapsed: bool) -> int:
        return 0

    def pending(self, limit: int) -> list[tuple[str, str]]:
        return []

    def renew(self, owner: str) -> None:
        self.renewed.append((owner, time.monotonic()))

    def execute(self, item: str, owner: str) -> None:
        self.runs += 1
        if self.runs == 1 and self.dispatcher is not None:
            self.dispatcher.submit([(item, "a")])  # a wake-up its own run set
        time.sleep(0.6)
        if self.runs == 2:
            self.done.set()


def test_the_dispatcher_renews_leases_while_work_runs_and_keeps_resubmissions() -> None:
    jobs = SlowJobs()
    dispatcher = Dispatcher([jobs], DispatchConfig(workers=1, renew_interval=0.1,
                                                   sweep_interval=60))
    jobs.dispatcher = dispatcher
    dispatcher.start()
    try:
        started = time.monotonic()
        dispatcher.submit([("slow_1", "a")])
        assert jobs.done.wait(5), "the item submitted during its own run never ran again"
        took = time.monotonic() - started
    finally:
        dispatcher.stop()
    beats = [t for owner, t in jobs.renewed if owner == dispatcher.owner]
    assert len(beats) >= 8 and took >= 1.2  # renewed all through two 0.6 s runs
    idle = len(jobs.renewed)
    time.sleep(0.3)
    assert len(jobs.renewed) == idle  # stopped: no more beats
