"""Bindings benchmark: what a binding call costs from inside the sandbox,
against the same storage call made directly from Python, in one run.

    .venv/bin/python bench/bindings.py [--json] [--samples N]

Measures `store.get` of a small value (on SQLite, as the service keeps
KV), and `files.put` + `files.get` of
1 KB and 1 MB bodies (binary, read back as an ArrayBuffer), on the local
directory backend and on S3 (moto's server over HTTP on loopback). Each
sample is one execution making n calls; the per-call cost is the
execution's duration, less an empty execution's, divided by n. Reports
p50 and p99 over the samples and the ratio to the direct Python call.
Prints a table; with --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from moto.server import ThreadedMotoServer

import bindings
from bindings import KVEntry, MemoryDirectory, ObjectStore, Sources
from sandbox import Engine, Limits
from server.db import SQLiteDatabase, SqlKV

KiB, MiB = 1024, 1024 * 1024
LIMITS = Limits(timeout=120, cpu=120, host_calls=100_000)
FILES_LIMITS = bindings.FilesLimits(max_object_bytes=2 * MiB, execution_bytes=1 << 30,
                                    call_timeout=60)
STORE_GET = """export default async function(event, { store }) {
  for (let i = 0; i < event.data.n; i++) await store.get("greeting");
}"""
ROUNDTRIP = """export default async function(event, { files }) {
  const body = new Uint8Array(event.data.size).fill(7);
  for (let i = 0; i < event.data.n; i++) {
    await files.put(`bench/${i}`, body);
    const back = await (await files.get(`bench/${i}`)).arrayBuffer();
    if (back.byteLength !== body.length) throw new Error("short read");
  }
}"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


class Runner:
    """Runs one benchmark module against one set of sources."""

    def __init__(self, engine: Engine, sources: Sources, source: str) -> None:
        self.engine = engine
        self.sources = sources
        self.artifact = engine.compile(source, "bench.js")

    def run(self, n: int, size: int = 0) -> float:
        event = bindings.make_event("bench", "user.created", {"n": n, "size": size})
        bundle = bindings.build(self.sources, account="bench", event=event,
                                files_limits=FILES_LIMITS, timeout=LIMITS.timeout)
        result = self.engine.run(self.artifact, bundle.event, capabilities=bundle.capabilities,
                                 data=bundle.data, limits=LIMITS)
        if result.error is not None:
            raise RuntimeError(f"benchmark run failed: {result.error}")
        return result.duration

    def per_call(self, n: int, samples: int, size: int = 0) -> list[float]:
        """Seconds per call, one value per sample."""
        self.run(n, size)  # warm up
        out = []
        for _ in range(samples):
            empty = self.run(0, size)
            out.append(max(self.run(n, size) - empty, 0.0) / n)
        return out


def direct(fn: Callable[[], Any], n: int, samples: int) -> list[float]:
    fn()
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - start) / n)
    return out


def roundtrip(objects: ObjectStore, size: int) -> Callable[[], Any]:
    body = bytes([7]) * size

    def go() -> None:
        objects.put("bench/direct/x", body, {}, {})
        found = objects.get("bench/direct/x")
        assert found is not None and len(found[1]) == size

    return go


def measure(engine: Engine, name: str, objects: ObjectStore, samples: int,
            kv: SqlKV) -> dict[str, Any]:
    kv.put("bench", "default", KVEntry("greeting", b"hello, world"))
    sources = Sources(kv, MemoryDirectory(), objects)
    store = Runner(engine, sources, STORE_GET)
    files = Runner(engine, sources, ROUNDTRIP)
    rows: dict[str, Any] = {}
    if name == "local":  # store does not depend on the object backend
        rows["store.get (SQLite)"] = (store.per_call(200, samples),
                             direct(lambda: kv.kv_get("bench", "default", "greeting"), 200,
                                    samples), 1e6, "us")
    heavy = max(samples // 3, 3)
    rows["files put+get 1 KB"] = (files.per_call(20, samples, KiB),
                                  direct(roundtrip(objects, KiB), 20, samples), 1e3, "ms")
    rows["files put+get 1 MB"] = (files.per_call(3, heavy, MiB),
                                  direct(roundtrip(objects, MiB), 3, heavy), 1e3, "ms")
    return rows


def s3_objects(endpoint: str) -> ObjectStore:
    creds = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 **creds).create_bucket(Bucket="bench")
    return bindings.S3ObjectStore(bindings.S3Config(
        bucket="bench", endpoint_url=endpoint, region="us-east-1",
        access_key_id="bench", secret_access_key="bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--samples", type=int, default=30, help="samples per measurement")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    summary: dict[str, Any] = {}
    print(f"{'backend':8} {'operation':20} {'p50':>10} {'p99':>10} {'direct p50':>11} "
          f"{'ratio':>6}")
    try:
        with tempfile.TemporaryDirectory() as tmp, Engine(adapters=bindings.ADAPTERS) as engine:
            db = SQLiteDatabase(Path(tmp) / "kv.db")
            db.migrate()
            for name, objects in (("local", bindings.LocalObjectStore(Path(tmp) / "files")),
                                  ("s3", s3_objects(f"http://{host}:{port}"))):
                for op, (sandboxed, plain, scale, unit) in measure(
                        engine, name, objects, args.samples, SqlKV(db)).items():
                    p50, p99 = percentiles(sandboxed)
                    d50 = statistics.median(plain)
                    print(f"{name:8} {op:20} {p50 * scale:8.1f}{unit} {p99 * scale:8.1f}{unit} "
                          f"{d50 * scale:9.1f}{unit} {p50 / d50 if d50 else 0:6.2f}")
                    key = _key(name, op, unit)
                    summary[key] = round(p50 * scale, 3)
                    summary[key.replace(f"_{unit}", f"_p99_{unit}")] = round(p99 * scale, 3)
                    summary[key.replace(f"_{unit}", f"_direct_{unit}")] = round(d50 * scale, 3)
    finally:
        server.stop()
    if args.json:
        print(json.dumps(summary))
    return 0


def _key(backend: str, op: str, unit: str) -> str:
    base = {"store.get (SQLite)": "store_get_sqlite", "files put+get 1 KB": "files_roundtrip_1kb",
            "files put+get 1 MB": "files_roundtrip_1mb"}[op]
    return f"{base}_{unit}" if backend == "local" else f"{base}_{backend}_{unit}"


if __name__ == "__main__":
    raise SystemExit(main())
