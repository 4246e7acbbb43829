"""Sandbox benchmark: Flowbox against the peer quickjs-rs, in one run.

    .venv/bin/python bench/sandbox.py [--json] [--reps N]

Measures compile time of a typical workflow, a fresh instance + run of a
trivial async module (p50, p99), one host-call round trip with a small JSON
payload, and a CPU-bound loop. Flowbox runs bytecode compiled once, as the
service does, while the peer parses its source every run; so there is also
a row where both start from source (Flowbox compiles, then runs). Prints a
table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import quickjs_rs

from sandbox import Engine, Limits

TYPICAL = """
import { WorkflowEntrypoint } from 'cloudflare:workers';
type Event = { data: { userId: string; roomId: string } };
const greetings: Record<string, string> = { en: 'Welcome', fr: 'Bienvenue' };
function pick(lang: string): string { return greetings[lang] ?? greetings.en; }
export default async function (event: Event, { store, room }: any) {
  const user = await store.get(`user:${event.data.userId}`, 'json');
  const members = await room.users(event.data.roomId);
  const lines = members.map((m: { name: string }) => `${pick(user?.lang ?? 'en')}, ${m.name}`);
  console.log(lines.join('\\n'));
  return { success: true, greeted: lines.length };
}
"""
TRIVIAL = "export default async function (event) { return { ok: true, n: event.n } }"
PAYLOAD = {"key": "user:123", "type": "json"}
CALLS = 2000
PAIRS = 15
LOOP = 10_000_000


class Echo:
    """A capability whose one method returns its argument."""

    methods = ("echo",)
    adapter = None

    def call(self, method: str, args: list[Any]) -> Any:
        return args[0]


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_flowbox(engine: Engine, reps: int) -> dict[str, float]:
    compile_ms = timed(lambda: engine.compile(TYPICAL, "typical.ts"), max(5, reps // 20))
    trivial = engine.compile(TRIVIAL, "trivial.js")
    for _ in range(20):
        engine.run(trivial, {"n": 1})
    fresh = timed(lambda: engine.run(trivial, {"n": 1}), reps)
    from_source = timed(lambda: engine.run(engine.compile(TRIVIAL, "trivial.js"), {"n": 1}),
                        max(20, reps // 5))
    limits = Limits(host_calls=CALLS + 10)
    loop_src = ("export default async function (e, { svc }) { let r; for (let i = 0; i < e.n; i++)"
                " r = await svc.echo(e.p); return r }")
    looper = engine.compile(loop_src, "calls.js")
    caps = {"svc": Echo()}
    # Per-call cost from paired runs (CALLS calls minus none), median of
    # PAIRS pairs: the pairing cancels the fixed cost and much of the noise.
    per_call = []
    for _ in range(PAIRS):
        base = engine.run(looper, {"n": 0, "p": PAYLOAD}, capabilities=caps, limits=limits)
        full = engine.run(looper, {"n": CALLS, "p": PAYLOAD}, capabilities=caps, limits=limits)
        per_call.append((full.duration - base.duration) * 1e6 / CALLS)
    cpu_src = ("export default async function (e) { let a = 0; for (let i = 0; i < e.n; i++)"
               " a = (a + i) % 1000003; return a }")
    cpu = engine.compile(cpu_src, "cpu.js")
    loop_ms = statistics.median(timed(lambda: engine.run(cpu, {"n": LOOP}), 3))
    fresh_p50, fresh_p99 = percentiles(fresh)
    return {"compile_ms": statistics.median(compile_ms), "fresh_run_p50_ms": fresh_p50,
            "from_source_p50_ms": percentiles(from_source)[0],
            "from_source_p99_ms": percentiles(from_source)[1],
            "fresh_run_p99_ms": fresh_p99, "host_call_us": statistics.median(per_call),
            "host_call_p99_us": percentiles(per_call)[1],
            "cpu_loop_ms": loop_ms}


def bench_peer(reps: int) -> dict[str, float]:
    def fresh_run() -> Any:
        with quickjs_rs.Runtime() as rt, rt.new_context() as ctx:
            # The peer's sync eval cannot return a promise: it runs the same
            # function body synchronously, which is less work than ours.
            return ctx.eval("(function (event) { return { ok: true, n: event.n } })({ n: 1 }).n")

    for _ in range(20):
        fresh_run()
    fresh = timed(fresh_run, reps)

    def calls(n: int) -> None:
        with quickjs_rs.Runtime() as rt, rt.new_context() as ctx:
            ctx.register("echo", lambda p: p)
            ctx.eval(f"let r; for (let i = 0; i < {n}; i++) r = echo({json.dumps(PAYLOAD)}); 1")

    base = statistics.median(timed(lambda: calls(0), 9))
    full = statistics.median(timed(lambda: calls(CALLS), 9))

    def loop() -> None:
        with quickjs_rs.Runtime() as rt, rt.new_context(timeout=60) as ctx:
            ctx.eval(f"let a = 0; for (let i = 0; i < {LOOP}; i++) a = (a + i) % 1000003; a")

    loop_ms = statistics.median(timed(loop, 3))
    p50, p99 = percentiles(fresh)
    return {"fresh_run_p50_ms": p50, "fresh_run_p99_ms": p99,
            "host_call_us": (full - base) * 1000 / CALLS, "cpu_loop_ms": loop_ms}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--reps", type=int, default=500, help="fresh-run repetitions")
    args = parser.parse_args()
    with Engine() as engine:
        ours = bench_flowbox(engine, args.reps)
    peer = bench_peer(args.reps)
    rows = [
        ("compile typical workflow (TS)", f"{ours['compile_ms']:.2f} ms", "-"),
        ("fresh run, p50 (ours bytecode, peer source)", f"{ours['fresh_run_p50_ms']:.3f} ms",
         f"{peer['fresh_run_p50_ms']:.3f} ms"),
        ("fresh run, p99 (ours bytecode, peer source)", f"{ours['fresh_run_p99_ms']:.3f} ms",
         f"{peer['fresh_run_p99_ms']:.3f} ms"),
        ("from source: compile + run, p50", f"{ours['from_source_p50_ms']:.3f} ms",
         f"{peer['fresh_run_p50_ms']:.3f} ms"),
        ("from source: compile + run, p99", f"{ours['from_source_p99_ms']:.3f} ms",
         f"{peer['fresh_run_p99_ms']:.3f} ms"),
        ("host call round trip (small JSON)", f"{ours['host_call_us']:.1f} us",
         f"{peer['host_call_us']:.1f} us"),
        (f"CPU loop ({LOOP:,} iterations)", f"{ours['cpu_loop_ms']:.0f} ms",
         f"{peer['cpu_loop_ms']:.0f} ms"),
    ]
    print(f"{'measure':44s} {'flowbox':>14s} {'quickjs-rs':>14s}")
    for name, a, b in rows:
        print(f"{name:44s} {a:>14s} {b:>14s}")
    summary = {
        **{k: round(v, 4) for k, v in ours.items()},
        "peer_fresh_run_p50_ms": round(peer["fresh_run_p50_ms"], 4),
        "peer_fresh_run_p99_ms": round(peer["fresh_run_p99_ms"], 4),
        "peer_host_call_us": round(peer["host_call_us"], 2),
        "peer_cpu_loop_ms": round(peer["cpu_loop_ms"], 1),
        "fresh_run_ratio_to_peer": round(ours["fresh_run_p50_ms"] / peer["fresh_run_p50_ms"], 3),
        "from_source_ratio_to_peer": round(ours["from_source_p50_ms"]
                                           / peer["fresh_run_p50_ms"], 3),
        "host_call_ratio_to_peer": round(ours["host_call_us"] / peer["host_call_us"], 3),
        "cpu_loop_ratio_to_peer": round(ours["cpu_loop_ms"] / peer["cpu_loop_ms"], 3),
    }
    print(f"fresh run ratio {summary['fresh_run_ratio_to_peer']}, host call ratio "
          f"{summary['host_call_ratio_to_peer']}, "
          f"CPU loop ratio {summary['cpu_loop_ratio_to_peer']}")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
