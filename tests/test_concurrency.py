"""Sandboxes run in parallel threads with separate, correct results."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import Recorder

from sandbox import Engine

THREADS = 8


def test_eight_threads_run_at_once_with_their_own_results(engine: Engine) -> None:
    art = engine.compile("""
    export default async function (event, { clock }) {
      await clock.mark('start');
      let acc = 0;
      for (let i = 0; i < 300000; i++) acc = (acc + i * event.n) % 1000003;
      await clock.barrier();
      globalThis.mine = event.n;
      await clock.mark('end');
      return { n: event.n, acc, mine: globalThis.mine };
    }""", "w.js")
    barrier = threading.Barrier(THREADS, timeout=30)
    marks: dict[int, dict[str, float]] = {}

    def work(n: int) -> object:
        def mark(label: str) -> None:
            marks.setdefault(n, {})[label] = time.monotonic()

        clock = Recorder({"mark": mark, "barrier": lambda: barrier.wait() and None})
        return engine.run(art, {"n": n}, capabilities={"clock": clock})

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(1, THREADS + 1)))
    for n, r in enumerate(results, start=1):
        expected = 0
        for i in range(300000):
            expected = (expected + i * n) % 1000003
        assert r.ok, r.error  # type: ignore[attr-defined]
        assert r.value == {"n": n, "acc": expected, "mine": n}  # type: ignore[attr-defined]
    # Every execution was inside the sandbox when all eight met at the
    # barrier: the last start came before the first end.
    assert max(m["start"] for m in marks.values()) < min(m["end"] for m in marks.values())
