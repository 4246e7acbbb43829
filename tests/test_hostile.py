"""Hostile code: each attack ends in its typed error within its limit, and
the next execution in the same process is unaffected."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import SMALL, Recorder

from sandbox import (
    CpuLimitExceeded,
    Engine,
    HostCallLimitExceeded,
    LimitExceeded,
    Limits,
    LogLimitExceeded,
    MemoryLimitExceeded,
    NeverSettled,
    ResultLimitExceeded,
    StackLimitExceeded,
    TimeLimitExceeded,
    UserError,
)

HEALTHY = "export default async function (e) { return { ok: e.n * 2 } }"

ATTACKS: dict[str, tuple[str, type[Exception] | tuple[type[Exception], ...]]] = {
    "infinite loop": ("for (;;) {}", CpuLimitExceeded),
    "memory bomb": ("const a = []; for (;;) a.push(new Array(100000).fill(1));",
                    MemoryLimitExceeded),
    "deep recursion": ("const f = (n) => f(n + 1) + 1; return f(0);", StackLimitExceeded),
    "100 MB string": ("const s = 'x'.repeat(100 * 1024 * 1024); return s.length;",
                      MemoryLimitExceeded),
    "catastrophic regex": ("return /(a+)+b/.test('a'.repeat(40) + 'c');", CpuLimitExceeded),
    "unbounded console": ("for (;;) console.log('spam');", LogLimitExceeded),
    "unbounded result": ("return 'x'.repeat(10 * 1024 * 1024);", ResultLimitExceeded),
    "promise never settles": ("await new Promise(() => {});", NeverSettled),
    "timer past the deadline": ("await new Promise(r => setTimeout(r, 3600e3));",
                                TimeLimitExceeded),
    "microtask storm": ("const spin = () => { Promise.resolve().then(spin); }; spin();"
                        "await new Promise(() => {});", CpuLimitExceeded),
    # Part of the chain is cyclic garbage: whether memory or CPU runs out
    # first depends on when the collector runs. Either way, a typed limit.
    "growing promise chain": ("const spin = () => Promise.resolve().then(spin); spin();"
                              "await new Promise(() => {});",
                              (MemoryLimitExceeded, CpuLimitExceeded)),
    "recursion in JSON.parse": ("return JSON.parse('['.repeat(1e6) + ']'.repeat(1e6));",
                                StackLimitExceeded),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_ends_in_its_typed_error_and_the_next_run_is_fine(engine: Engine,
                                                                 name: str) -> None:
    body, expected = ATTACKS[name]
    art = engine.compile(f"export default async function () {{ {body} }}", "evil.js")
    result = engine.run(art, limits=SMALL)
    assert isinstance(result.error, expected), result.error
    if isinstance(result.error, LimitExceeded):
        assert result.error.limit in str(result.error)
        assert result.duration < SMALL.timeout + 1.0
    healthy = engine.run(engine.compile(HEALTHY, "ok.js"), {"n": 21}, limits=SMALL)
    assert healthy.value == {"ok": 42}


def test_wall_clock_limit_counts_sleeping_host_calls(engine: Engine) -> None:
    import time

    cap = Recorder({"slow": lambda: time.sleep(0.2)})
    art = engine.compile("export default async function (e, { db }) { for (;;) await db.slow() }",
                         "w.js")
    result = engine.run(art, capabilities={"db": cap}, limits=SMALL.with_timeout(0.5))
    assert isinstance(result.error, TimeLimitExceeded)
    assert result.error.limit == "timeout"


def test_flood_of_host_calls_is_stopped_uncatchably(engine: Engine) -> None:
    cap = Recorder({"ping": "pong"})
    art = engine.compile("""
    export default async function (e, { svc }) {
      for (let i = 0; i < 1e6; i++) { try { await svc.ping() } catch (err) {} }
      return 'survived';
    }""", "w.js")
    result = engine.run(art, capabilities={"svc": cap}, limits=SMALL)
    assert isinstance(result.error, HostCallLimitExceeded)
    assert len(cap.calls) == SMALL.host_calls


def test_catching_out_of_memory_still_reports_the_limit(engine: Engine) -> None:
    art = engine.compile("""
    export default async function () {
      try { 'x'.repeat(200 * 1024 * 1024) } catch (e) { throw new Error('wrapped: ' + e.message) }
    }""", "w.js")
    result = engine.run(art, limits=SMALL)
    assert isinstance(result.error, MemoryLimitExceeded)


def test_tampering_with_builtins_stays_inside_the_execution(engine: Engine) -> None:
    cap = Recorder({"get": "value"})
    art = engine.compile("""
    export default async function (e, { store }) {
      JSON.stringify = () => { throw new Error('hijacked') };
      JSON.parse = () => 'forged';
      Object.prototype.toJSON = function () { return 'poisoned' };
      Array.prototype.push = null;
      Promise.prototype.then = function () { return 'nope' };
      Function.prototype.call = null;
      return typeof (await store.get('k'));
    }""", "w.js")
    result = engine.run(art, capabilities={"store": cap}, limits=SMALL)
    assert result.error is None or isinstance(result.error, UserError)
    after = engine.compile("""
    export default async function () {
      const a = []; a.push(1);
      return [JSON.stringify({ a }), JSON.parse('{"b":2}'), typeof Object.prototype.toJSON];
    }""", "w.js")
    assert engine.run(after).value == ['{"a":[1]}', {"b": 2}, "undefined"]


@pytest.mark.parametrize("probe", [
    "typeof process", "typeof require", "typeof std", "typeof os", "typeof Deno",
    "typeof globalThis.WebAssembly", "typeof XMLHttpRequest", "typeof WebSocket",
])
def test_no_ambient_authority_objects(run: Any, probe: str) -> None:
    assert run(f"export default async function () {{ return {probe} }}").value == "undefined"


@pytest.mark.parametrize("specifier", ["fs", "os", "std", "child_process", "/etc/passwd",
                                       "file:///etc/passwd", "http://127.0.0.1/x.js"])
def test_dynamic_import_cannot_reach_the_host(run: Any, specifier: str) -> None:
    src = (f"export default async function () {{ try {{ await import('{specifier}'); "
           "return 'imported' } catch (e) { return e.message } }")
    assert "cannot import" in run(src).value


def test_no_network(run: Any) -> None:
    r = run("export default async function () { return await fetch('http://127.0.0.1:5432') }")
    assert isinstance(r.error, UserError) and "no network access" in r.error.reason


def test_eval_is_confined_to_the_sandbox(run: Any) -> None:
    src = ("export default async function () { return [eval('1 + 1'), "
           "new Function('return typeof process')()] }")
    assert run(src).value == [2, "undefined"]


def test_a_timer_past_the_deadline_fails_at_once(engine: Engine) -> None:
    """The worker is freed at once, not held for the rest of the timeout."""
    art = engine.compile("export default async () => { await new Promise(r => "
                         "setTimeout(r, 3600e3)); }", "late.js")
    result = engine.run(art, limits=Limits(timeout=5.0))
    assert isinstance(result.error, TimeLimitExceeded)
    assert result.duration < 1.0, result.duration


def test_the_clock_user_code_sees_is_coarse(engine: Engine) -> None:
    """performance.now() in whole milliseconds: no fine timer for side channels."""
    art = engine.compile("export default async () => { const seen = new Set();"
                         " for (let i = 0; i < 20000; i++) seen.add(performance.now());"
                         " return [...seen].every(Number.isInteger); }", "clock.js")
    assert engine.run(art).value is True
