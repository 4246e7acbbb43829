"""Durable steps in the real sandbox (seed 002), by replay over an
in-memory journal: each activation is a fresh sandbox run of `run()` from
the top, as the durable engine does it, with a clock the test moves."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers import Recorder

from bindings.journal import MemoryJournal
from bindings.step import Activation, StepBinding, activation_outcome
from sandbox import Engine, Limits


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Instance:
    """One instance driven activation by activation."""

    engine: Engine
    source: str
    payload: Any = None
    journal: MemoryJournal = field(default_factory=MemoryJournal)
    clock: Clock = field(default_factory=Clock)
    activations: int = 0
    logs: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    max_steps: int = 10_000
    extra: dict[str, Any] = field(default_factory=dict)  # more capabilities, as this.env

    def __post_init__(self) -> None:
        self.artifact = self.engine.compile(self.source, "wf.ts")

    def activate(self) -> Activation:
        self.activations += 1
        step = StepBinding(self.journal, self.journal.records, clock=self.clock,
                           max_steps=self.max_steps)
        event = {"payload": self.payload, "timestamp": 1_700_000_000_000, "instanceId": "i-1"}
        result = self.engine.run(self.artifact, event,
                                 capabilities={"step": step, **self.extra}, limits=self.limits)
        self.logs += [e.message for e in result.logs]
        return activation_outcome(result, step)

    def run_to_end(self, max_activations: int = 50) -> Activation:
        """Activates, jumping the clock to each wake-up, until finished."""
        for _ in range(max_activations):
            outcome = self.activate()
            if outcome.status != "waiting":
                return outcome
            assert outcome.wake_at is not None
            self.clock.now = max(self.clock.now, outcome.wake_at)
        raise AssertionError("the instance never finished")

    def steps(self, kind: str | None = None) -> list[Any]:
        return sorted((r for r in self.journal.records.values() if kind in (None, r.kind)),
                      key=lambda r: r.seq)


def pairs(items: Any) -> list[tuple[Any, Any]]:
    return list(itertools.pairwise(items))


def workflow(body: str) -> str:
    return ('import { WorkflowEntrypoint } from "cloudflare:workers";\n'
            'import { NonRetryableError } from "cloudflare:workflows";\n'
            "export class W extends WorkflowEntrypoint {\n"
            f"  async run(event, step) {{\n{body}\n  }}\n}}\n")


def test_event_shape_and_step_result(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const n = await step.do("double", async () => event.payload.n * 2);
        return { n, id: event.instanceId, date: event.timestamp instanceof Date,
                 ms: event.timestamp.getTime() };"""), payload={"n": 21})
    out = inst.run_to_end()
    assert out.status == "complete"
    assert out.output == {"n": 42, "id": "i-1", "date": True, "ms": 1_700_000_000_000}
    [record] = inst.steps()
    assert record.key == "do:double#1" and record.output == "42" and len(record.attempts) == 1


def test_recorded_steps_do_not_run_again_on_replay(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const a = await step.do("a", async () => { console.log("ran a"); return 1; });
        await step.sleep("nap", "1 hour");
        const b = await step.do("b", async () => { console.log("ran b"); return a + 1; });
        return b;"""))
    first = inst.activate()
    assert first.status == "waiting" and first.wake_at == inst.clock.now + 3600
    inst.clock.now += 1800
    assert inst.activate().status == "waiting"  # half-way: still asleep
    inst.clock.now += 1800
    assert inst.activate() == Activation("complete", output=2)
    assert inst.logs == ["ran a", "ran b"]


def test_loops_and_promise_all_get_stable_keys(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const xs = await Promise.all([1, 2, 3].map(i => step.do("item", async () => i * 10)));
        await step.sleep("nap", 1000);
        let sum = 0;
        for (const x of xs) sum += await step.do("add", async () => x);
        return { xs, sum };"""))
    assert inst.run_to_end().output == {"xs": [10, 20, 30], "sum": 60}
    assert [r.key for r in inst.steps("do")] == [
        "do:item#1", "do:item#2", "do:item#3", "do:add#1", "do:add#2", "do:add#3"]
    assert inst.activations == 2


def test_retries_follow_the_policy_then_succeed(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        let tries = await step.do("flaky", { retries: { limit: 3, delay: "2 seconds",
                                                         backoff: "linear" } }, async () => {
          const n = (globalThis.n = (globalThis.n ?? 0) + 1);
          throw new Error("boom");
        }).catch(e => e.name + ": " + e.message);
        return tries;"""))
    start = inst.clock.now
    out = inst.run_to_end()
    assert out == Activation("complete", output="Error: boom")  # caught: not an instance failure
    [record] = inst.steps()
    assert record.status == "errored" and len(record.attempts) == 4  # limit 3 = 4 attempts
    gaps = [round(b.start - (a.end or 0), 3) for a, b in pairs(record.attempts)]
    assert gaps == [2.0, 4.0, 6.0]  # linear: delay * failures
    assert record.attempts[0].start == start
    assert record.config == {"retries": {"limit": 3, "delay": 2000.0, "backoff": "linear"},
                             "timeout": 600000.0}


def test_a_step_that_fails_twice_then_succeeds_keeps_its_output(engine: Engine) -> None:
    """The most common retry path: attempts recorded, the output kept and
    replayed, the instance complete. The flaky service is a host counter
    that outlives the activations."""
    calls = iter(range(1, 100))
    service = Recorder({"call": lambda: next(calls)})
    inst = Instance(engine, workflow("""
        const value = await step.do("flaky", { retries: { limit: 5, delay: "2 seconds",
                                                          backoff: "linear" } }, async () => {
          const n = await this.env.service.call();
          if (n < 3) throw new Error(`not yet (call ${n})`);
          return { succeededOnCall: n };
        });
        const after = await step.do("after", async () => value.succeededOnCall * 10);
        return { value, after };"""), extra={"service": service})
    out = inst.run_to_end()
    assert out.status == "complete", out
    assert out.output == {"value": {"succeededOnCall": 3}, "after": 30}
    assert len(service.calls) == 3  # replays did not call it again
    flaky = next(r for r in inst.steps() if r.name == "flaky")
    assert flaky.status == "complete" and json.loads(flaky.output or "null") == {
        "succeededOnCall": 3}
    assert [a.error["message"] if a.error else None for a in flaky.attempts] == [
        "not yet (call 1)", "not yet (call 2)", None]


def test_default_policy_retries_five_times_exponentially(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        await step.do("always fails", async () => { throw new TypeError("nope"); });"""))
    out = inst.run_to_end()
    assert out.status == "errored" and out.error is not None
    assert out.error["name"] == "TypeError" and "nope" in out.error["message"]
    [record] = inst.steps()
    gaps = [round(b.start - (a.end or 0)) for a, b in pairs(record.attempts)]
    assert gaps == [10, 20, 40, 80, 160]


def test_non_retryable_error_fails_at_once_with_its_message(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        await step.do("charge", async () => { throw new NonRetryableError("card declined"); });
        await step.do("never", async () => 1);"""))
    out = inst.run_to_end()
    assert out.status == "errored" and out.error is not None
    assert out.error["name"] == "WorkflowFatalError"
    assert "NonRetryableError and it was not handled" in out.error["message"]
    assert inst.activations == 1 and len(inst.steps()) == 1
    assert len(inst.steps()[0].attempts) == 1
    assert inst.steps()[0].error == {"name": "NonRetryableError", "message": "card declined"}


def test_a_caught_non_retryable_error_is_what_cloudflare_throws(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        try {
          await step.do("charge", async () => { throw new NonRetryableError("card declined"); });
        } catch (e) {
          return [e.name, e.message, e instanceof Error];
        }"""))
    out = inst.run_to_end()
    assert out.status == "complete"
    assert out.output == ["Error", "NonRetryableError: card declined", True]


def test_uncaught_error_outside_steps_fails_the_instance(engine: Engine) -> None:
    inst = Instance(engine, workflow('await step.do("a", async () => 1); throw new RangeError("x");'))
    out = inst.run_to_end()
    assert out.status == "errored" and out.error is not None and out.error["name"] == "RangeError"


def test_typed_arrays_round_trip_through_the_journal(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const v = await step.do("bytes", async () => ({
          u8: new Uint8Array([1, 2, 255]), f64: new Float64Array([1.5]),
          buf: new Uint8Array([7, 8]).buffer }));
        await step.sleep("nap", 10);
        return { u8: v.u8 instanceof Uint8Array && [...v.u8], f64: v.f64 instanceof Float64Array && v.f64[0],
                 buf: v.buf instanceof ArrayBuffer && [...new Uint8Array(v.buf)] };"""))
    out = inst.run_to_end()
    assert inst.activations == 2  # the second activation read the bytes back from the journal
    assert out.output == {"u8": [1, 2, 255], "f64": 1.5, "buf": [7, 8]}


def test_a_step_returning_a_stream_persists_its_bytes(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        let runs = 0;
        const s = await step.do("stream", async () => { runs++; return new Response("streamed bytes").body; });
        await step.sleep("nap", 10);
        const text = s instanceof ReadableStream ? await new Response(s).text() : typeof s;
        return { text, ranHere: runs };"""))
    out = inst.run_to_end()
    assert inst.activations == 2  # the stream came back from the journal, not from a rerun
    assert out.output == {"text": "streamed bytes", "ranHere": 0}
    assert "streamed bytes" not in (inst.steps()[0].output or "")  # persisted as bytes


def test_unserializable_result_fails_the_step_without_retries(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        return await step.do("fn", async () => ({ f() {} })).catch(e => e.message);"""))
    out = inst.run_to_end()
    assert "cannot be persisted" in out.output and 'step.do("fn")' in out.output
    assert len(inst.steps()[0].attempts) == 1


def test_result_over_one_mib_is_a_clear_error(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        return await step.do("big", async () => "x".repeat(1024 * 1024 + 1)).catch(e => e.name + ": " + e.message);"""))
    out = inst.run_to_end()
    assert out.output.startswith("RangeError: ") and "1 MiB" in out.output
    assert len(inst.steps()[0].attempts) == 1


def test_attempt_over_its_timeout_is_retried(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        return await step.do("slow", { timeout: 20, retries: { limit: 1, delay: 0 } }, async () => {
          const until = Date.now() + 60; while (Date.now() < until) {}
          return 1;
        }).catch(e => e.name);"""))
    assert inst.run_to_end().output == "WorkflowTimeoutError"
    assert len(inst.steps()[0].attempts) == 2


def test_a_step_stopped_by_the_time_limit_is_retried_in_a_later_activation(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        return await step.do("spin", { retries: { limit: 1, delay: 1000 } }, async () => {
          while (true) {}
        }).catch(e => e.name);"""), limits=Limits(timeout=0.2))
    first = inst.activate()
    assert first.status == "waiting" and first.wake_at == inst.clock.now + 1
    out = inst.run_to_end()
    assert out.output == "TimeLimitExceeded"
    assert len(inst.steps()[0].attempts) == 2


def test_sleep_until_accepts_dates_seconds_and_milliseconds(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        await step.sleepUntil("date", new Date((event.payload.t + 10) * 1000));
        await step.sleepUntil("seconds", event.payload.t + 20);
        await step.sleepUntil("millis", (event.payload.t + 30) * 1000);
        return "up";"""), payload={"t": 1_700_000_000})
    inst.clock.now = 1_700_000_000
    wakes = []
    while (out := inst.activate()).status == "waiting":
        wakes.append(out.wake_at)
        inst.clock.now = out.wake_at
    assert out.output == "up" and wakes == [1_700_000_010, 1_700_000_020, 1_700_000_030]


@pytest.mark.parametrize("call, message", [
    ('step.sleep("s", "three days")', "duration"),
    ('step.sleep("s", "400 days")', "365 days"),
    ('step.sleep("", 10)', "name"),
    ('step.do("x".repeat(257), async () => 1)', "256"),
    ('step.do("d", { retries: { backoff: "random" } }, async () => 1)', "backoff"),
    ('step.do("d", { retrys: {} }, async () => 1)', "retrys"),
    ('step.do("d")', "function"),
    ('step.waitForEvent("w", { type: "t", timeout: 10 })', "1 second"),
    ('step.waitForEvent("w", {})', "type"),
])
def test_bad_step_arguments_are_clear_errors(engine: Engine, call: str, message: str) -> None:
    inst = Instance(engine, workflow(f"return await {call}.then(() => 'ok', e => e.message);"))
    out = inst.run_to_end()
    assert message in out.output, out.output


def test_step_limit_is_enforced(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        for (let i = 0; i < 5; i++) await step.do("s", async () => i);"""), max_steps=3)
    out = inst.activate()
    assert out.status == "errored" and out.error is not None
    assert "limits.steps = 3" in out.error["message"] and len(inst.steps()) == 3


# -- waitForEvent -------------------------------------------------------------


def send(inst: Instance, event_type: str, payload: Any) -> None:
    inst.journal.events.append({"type": event_type, "payload": payload,
                                "timestamp": inst.clock.now})


def test_wait_for_event_resolves_with_the_event(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const e = await step.waitForEvent("paid", { type: "stripe", timeout: "1 hour" });
        return { payload: e.payload, type: e.type, date: e.timestamp instanceof Date };"""))
    first = inst.activate()
    assert first.status == "waiting" and first.wake_at == inst.clock.now + 3600
    send(inst, "other", 1)
    send(inst, "stripe", {"amount": 5})
    assert inst.activate().output == {"payload": {"amount": 5}, "type": "stripe", "date": True}
    assert [e["type"] for e in inst.journal.events] == ["other"]


def test_events_sent_early_are_buffered_first_in_first_out(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const a = await step.waitForEvent("first", { type: "t" });
        const b = await step.waitForEvent("second", { type: "t" });
        return [a.payload, b.payload];"""))
    send(inst, "t", "one")
    send(inst, "t", "two")
    assert inst.run_to_end().output == ["one", "two"]
    assert inst.activations == 1


def test_timed_out_wait_throws_and_never_consumes_a_later_event(engine: Engine) -> None:
    inst = Instance(engine, workflow("""
        const r = await step.waitForEvent("w", { type: "t", timeout: "1 minute" })
          .then(() => "got it", e => e.name + ": " + e.message);
        await step.sleep("after", "1 hour");
        return r;"""))
    assert inst.activate().status == "waiting"
    inst.clock.now += 61
    assert inst.activate().status == "waiting"  # timed out, now sleeping
    send(inst, "t", "late")
    out = inst.run_to_end()
    assert out.output.startswith("WorkflowTimeoutError: ") and "1 minute" not in out.output
    assert "timed out after 60 s" in out.output
    assert len(inst.journal.events) == 1  # the late event is still buffered


def test_default_export_gets_step_among_its_bindings(engine: Engine) -> None:
    inst = Instance(engine, """
        export default async function (event, { step }) {
          const v = await step.do("once", async () => 7);
          await step.sleep("nap", 5000);
          return v;
        }""")
    assert inst.run_to_end().output == 7 and inst.activations == 2


@pytest.mark.parametrize("kind, wake_in, deadline_in, expected", [
    ("do", 2.0, 30.0, True),  # a short retry delay is waited out
    ("sleep", 5.0, 30.0, True),  # exactly the keepalive
    ("sleep", 5.5, 30.0, False),  # longer: suspend
    ("sleep", 2.0, 2.5, False),  # would run into the deadline
    ("wait", 0.1, 30.0, False),  # events never wait in the activation
    ("sleep", 2.0, None, True),
])
def test_which_waits_keep_the_activation_alive(kind: str, wake_in: float,
                                               deadline_in: float | None,
                                               expected: bool) -> None:
    from bindings.step import _waits_here_rule

    now = 1000.0
    deadline = now + deadline_in if deadline_in is not None else None
    assert _waits_here_rule(kind, now + wake_in, now, 5.0, deadline) is expected
