"""Running artifacts: results, async code, globals, capabilities, logs."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Recorder

from sandbox import Binary, CapabilityError, Engine, Limits, NeverSettled, UserError


def test_result_and_event(run: Any) -> None:
    r = run("export default async function (event) { return { n: event.n + 1 } }", {"n": 41})
    assert r.ok and r.value == {"n": 42}


def test_undefined_result_is_none(run: Any) -> None:
    assert run("export default async function () {}").value is None


def test_sync_default_function_works(run: Any) -> None:
    assert run("export default function (e) { return e * 2 }", 4).value == 8


def test_async_code_promises_and_microtasks(run: Any) -> None:
    src = """
    export default async function () {
      const order = [];
      queueMicrotask(() => order.push('micro'));
      const [a, b] = await Promise.all([Promise.resolve(1), new Promise(r => setTimeout(() => r(2), 5))]);
      order.push('all');
      const c = await Promise.race([new Promise(r => setTimeout(() => r('slow'), 50)), Promise.resolve('fast')]);
      return { a, b, c, order };
    }"""
    assert run(src).value == {"a": 1, "b": 2, "c": "fast", "order": ["micro", "all"]}


def test_timers_fire_in_order_and_clear(run: Any) -> None:
    src = """
    export default async function () {
      const seen = [];
      setTimeout(() => seen.push('b'), 20);
      setTimeout(() => seen.push('a'), 10);
      const t = setTimeout(() => seen.push('never'), 15);
      clearTimeout(t);
      let n = 0;
      await new Promise(r => { const i = setInterval(() => { if (++n === 3) { clearInterval(i); r(); } }, 1); });
      await new Promise(r => setTimeout(r, 30));
      return { seen, n };
    }"""
    assert run(src).value == {"seen": ["a", "b"], "n": 3}


def test_thrown_error_has_name_message_and_stack_in_user_source(run: Any) -> None:
    src = "export default async function () {\n  const x = null;\n  return x.y;\n}\n"
    r = run(src, filename="job.js")
    assert isinstance(r.error, UserError)
    assert r.error.name == "TypeError"
    assert "null" in r.error.reason
    assert "job.js:3" in (r.error.stack or "")


def test_thrown_non_error_value(run: Any) -> None:
    r = run("export default async function () { throw 'plain string' }")
    assert isinstance(r.error, UserError) and r.error.reason == "plain string"


def test_result_that_is_not_json_is_an_error(run: Any) -> None:
    r = run("export default async function () { return { big: 10n } }")
    assert isinstance(r.error, UserError) and "not JSON-serializable" in str(r.error)


def test_never_settling_promise_is_reported(run: Any) -> None:
    r = run("export default async function () { await new Promise(() => {}) }")
    assert isinstance(r.error, NeverSettled)


def test_console_is_captured_with_level_and_time(run: Any) -> None:
    src = """
    export default async function () {
      console.log('a', 1, { k: [1] });
      console.info('i'); console.warn('w'); console.error(new Error('boom')); console.debug('d');
    }"""
    r = run(src)
    assert [e.level for e in r.logs] == ["log", "info", "warn", "error", "debug"]
    assert r.logs[0].message == 'a 1 {"k":[1]}'
    assert "Error: boom" in r.logs[3].message
    assert all(e.time > 1.7e9 for e in r.logs)


def test_web_globals(run: Any) -> None:
    src = """
    export default async function () {
      const bytes = new TextEncoder().encode('héllo €');
      const u = new URL('../b/c?x=1&y=a+b#frag', 'https://User:pw@Example.COM:443/p/q/r');
      u.searchParams.append('z', 'é');
      const q = new URLSearchParams({ a: '1', b: 'x y' });
      const rnd = crypto.getRandomValues(new Uint8Array(16));
      const clone = structuredClone({ d: [1, { e: 2 }], m: new Map([[1, 2]]) });
      return {
        len: bytes.length, text: new TextDecoder().decode(bytes),
        href: u.href, host: u.host, y: u.searchParams.get('y'), q: q.toString(),
        b64: btoa('hi'), raw: atob('aGk='), uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
        rndLen: rnd.length, clone: [clone.d, clone.m.get(1)],
        random: typeof Math.random(), now: performance.now() >= 0,
      };
    }"""
    v = run(src).value
    assert v["len"] == 10 and v["text"] == "héllo €"
    assert v["href"] == "https://User:pw@example.com/p/b/c?x=1&y=a+b&z=%C3%A9#frag"
    assert v["host"] == "example.com" and v["y"] == "a b" and v["q"] == "a=1&b=x+y"
    assert (v["b64"], v["raw"], v["uuid"], v["rndLen"]) == ("aGk=", "hi", True, 16)
    assert v["clone"] == [[1, {"e": 2}], 2]
    assert v["random"] == "number" and v["now"] is True


def test_fetch_without_network_access_says_so(run: Any) -> None:
    r = run("export default async function () { return await fetch('https://example.com') }")
    assert isinstance(r.error, UserError) and "no network access" in r.error.reason


def test_workflow_class_runs_with_noop_step(run: Any) -> None:
    src = """
    import { WorkflowEntrypoint } from 'cloudflare:workers';
    export class Flow extends WorkflowEntrypoint {
      async run(event, step) {
        const a = await step.do('one', async () => 1);
        const b = await step.do('two', { retries: { limit: 1 } }, async () => 2);
        await step.sleep('nap', '1 second');
        return { sum: a + b, payload: event.payload, env: this.env.GREETING };
      }
    }"""
    r = run(src, {"payload": {"x": 1}}, data={"GREETING": "hi"})
    assert r.value == {"sum": 3, "payload": {"x": 1}, "env": "hi"}


def test_capability_calls_reach_the_host(engine: Engine) -> None:
    kv = Recorder({"get": lambda key: {"k1": "v1"}.get(key), "list": [{"name": "k1"}]})
    art = engine.compile("""
    export default async function (event, { store }) {
      return [await store.get('k1'), await store.get('nope'), await store.list(), typeof store.put];
    }""", "w.js")
    r = engine.run(art, capabilities={"store": kv})
    assert r.value == ["v1", None, [{"name": "k1"}], "undefined"]
    assert kv.calls == [("get", ["k1"]), ("get", ["nope"]), ("list", [])]
    assert r.host_calls == 3


def test_capability_errors_are_catchable_js_errors(engine: Engine) -> None:
    def refuse(key: str) -> None:
        raise CapabilityError(f"store is read-only: cannot write {key}", name="ReadOnlyError")

    def broken() -> None:
        raise RuntimeError("secret internal detail")

    cap = Recorder({"put": refuse, "boom": broken})
    art = engine.compile("""
    export default async function (event, { store }) {
      const out = [];
      try { await store.put('k') } catch (e) { out.push(e.name, e.message, e instanceof Error) }
      try { await store.boom() } catch (e) { out.push(e.message) }
      return out;
    }""", "w.js")
    r = engine.run(art, capabilities={"store": cap})
    assert r.value[:3] == ["ReadOnlyError", "store is read-only: cannot write k", True]
    assert "internal error" in r.value[3] and "secret" not in r.value[3]


def test_arguments_json_cannot_carry_reject_the_call(engine: Engine) -> None:
    cap = Recorder({"get": None})
    art = engine.compile("""
    export default async function (event, { store }) {
      try { await store.get(10n) } catch (e) { return e.name }
    }""", "w.js")
    r = engine.run(art, capabilities={"store": cap})
    assert r.value == "TypeError" and cap.calls == []


def test_large_replies_cross_the_boundary_intact(engine: Engine) -> None:
    big = "x" * 100_000 + "é"
    cap = Recorder({"get": big})
    art = engine.compile("""
    export default async function (event, { store }) {
      const v = await store.get('k'); return [v.length, v.slice(-2)];
    }""", "w.js")
    assert engine.run(art, capabilities={"store": cap}).value == [100_001, "xé"]


def test_host_call_size_is_bounded_both_ways_with_a_catchable_error(engine: Engine) -> None:
    cap = Recorder({"echo": lambda x: x, "big": lambda n: "y" * n})
    art = engine.compile("""
    export default async function (event, { cap }) {
      const out = [];
      for (const f of [() => cap.echo("x".repeat(5000)), () => cap.big(5000), () => cap.big(10)]) {
        try { out.push((await f()).length) } catch (e) { out.push(`${e.name}: ${e.message}`) }
      }
      return out;
    }""", "w.js")
    r = engine.run(art, capabilities={"cap": cap}, limits=Limits(host_call_bytes=4096))
    assert r.value == [
        "RangeError: host call request of 5019 bytes is over the limit host_call_bytes (4096 bytes)",
        "RangeError: host call reply of 5002 bytes is over the limit host_call_bytes (4096 bytes)",
        10]
    assert [c[0] for c in cap.calls] == ["big", "big"]  # the oversized request never ran


def test_bytes_cross_the_boundary_raw_both_ways(engine: Engine) -> None:
    cap = Recorder({"echo": lambda tag, data, n: Binary({"tag": tag, "n": n}, data[::-1])})
    art = engine.compile("""
    export default async function (event, { cap }) {
      const sent = new Uint8Array(300000).map((_, i) => i % 251);
      const [meta, back] = await cap.echo("t", sent, 7);
      const view = new Uint8Array(back);
      const ok = view.length === sent.length && view.every((b, i) => b === sent[sent.length - 1 - i]);
      const detached = new Uint8Array(4);
      detached.buffer.transfer();
      const err = await cap.echo("d", detached, 0).catch(e => e.name);
      return [meta, back instanceof ArrayBuffer, ok, err];
    }""", "w.js")
    r = engine.run(art, capabilities={"cap": cap})
    assert r.value == [{"tag": "t", "n": 7}, True, True, "TypeError"], r.error
    assert cap.calls[0][1][1] == bytes(i % 251 for i in range(300000))
    assert len(cap.calls) == 1  # the detached array never reached the host


def test_bindings_are_frozen(engine: Engine) -> None:
    cap = Recorder({"get": 1})
    art = engine.compile("""
    export default async function (event, { store }) {
      try { store.get = () => 'forged' } catch (e) {}
      return await store.get('k');
    }""", "w.js")
    assert engine.run(art, capabilities={"store": cap}).value == 1


def test_each_execution_starts_fresh(engine: Engine) -> None:
    """What one execution sets (a global, a polluted prototype, a module
    counter, a patched built-in) is gone in the next one: each reports
    what it found before setting anything."""
    art = engine.compile("""
    globalThis.counter = (globalThis.counter || 0) + 1;
    export default async function () {
      const found = [globalThis.counter, typeof globalThis.leak, ({}).polluted,
                     JSON.stringify([1]), typeof Array.prototype.evil];
      Object.prototype.polluted = true;
      globalThis.leak = 'from before';
      JSON.stringify = () => "patched";
      Array.prototype.evil = 1;
      return found;
    }""", "w.js")
    first = engine.run(art)
    second = engine.run(art)
    fresh = [1, "undefined", None, "[1]", "undefined"]
    assert first.error is None and second.error is None
    assert first.value == fresh and second.value == fresh


def test_math_random_differs_between_executions(engine: Engine) -> None:
    art = engine.compile("export default async function () { return Math.random() }", "w.js")
    values = {engine.run(art).value for _ in range(5)}
    assert len(values) == 5


@pytest.mark.parametrize("event", [None, 0, "s", [1, 2], {"nested": {"list": [True, None]}}])
def test_events_of_any_json_shape(run: Any, event: Any) -> None:
    assert run("export default async function (e) { return e }", event).value == event


def test_short_reply_after_a_longer_one_is_parsed_exactly(engine: Engine) -> None:
    # Regression: replies reuse one buffer; "0" after "null" once read as "0ull".
    answers = iter([None, 0, "a", 12345678, 1])
    cap = Recorder({"next": lambda: next(answers)})
    art = engine.compile("""
    export default async function (e, { seq }) {
      const out = [];
      for (let i = 0; i < 5; i++) out.push(await seq.next());
      return out;
    }""", "w.js")
    assert engine.run(art, capabilities={"seq": cap}).value == [None, 0, "a", 12345678, 1]


def test_capability_and_method_names_are_quoted_safely(engine: Engine) -> None:
    cap = Recorder({'say"hi': lambda x: x + 1})
    art = engine.compile("""
    export default async function (e, bindings) { return await bindings['odd\\\\"name']['say"hi'](41) }
    """, "w.js")
    assert engine.run(art, capabilities={'odd\\"name': cap}).value == 42
    assert cap.calls == [('say"hi', [41])]


def test_a_capability_may_run_a_nested_execution(engine: Engine) -> None:
    inner = engine.compile("export default async function (e) { return e * 10 }", "inner.js")
    cap = Recorder({"times10": lambda n: engine.run(inner, n).value})
    outer = engine.compile("""
    export default async function (e, { svc }) { return [await svc.times10(1), await svc.times10(2)] }
    """, "outer.js")
    assert engine.run(outer, capabilities={"svc": cap}).value == [10, 20]


def test_an_exception_in_a_timer_callback_is_logged_not_fatal(run: Any) -> None:
    src = """
    export default async function () {
      setTimeout(() => { throw new TypeError('in timer') }, 1);
      await new Promise(r => setTimeout(r, 10));
      return 'still fine';
    }"""
    r = run(src)
    assert r.value == "still fine"
    assert [e.level for e in r.logs] == ["error"]
    assert "Uncaught (in timer callback)" in r.logs[0].message
    assert "TypeError: in timer" in r.logs[0].message


def test_lone_surrogates_leave_as_the_replacement_character(engine: Engine) -> None:
    """JavaScript strings may hold lone surrogates, UTF-8 cannot: logs and
    results carry U+FFFD instead, as a UTF-8 decoder would, never a crash."""
    art = engine.compile('export default async () => { console.log("a\\ud800b");'
                         ' return { ["k\\udc00"]: "v\\ud800", pair: "\\ud83d\\ude00" }; }', "w.js")
    result = engine.run(art)
    assert result.error is None, result.error
    assert [e.message for e in result.logs] == ["a\ufffdb"]
    assert result.value == {"k\ufffd": "v\ufffd", "pair": "\U0001f600"}
