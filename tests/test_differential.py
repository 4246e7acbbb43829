"""The same workflows on miniflare (Cloudflare's local engine, from npm) and
on Flowbox through the official `cloudflare` SDK: status, output, error and
every step's output must agree. Deliberate differences are listed in
docs/runtime.md; none of them is exercised here."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest
from live import live_server

RUNNER = Path(__file__).parent / "miniflare" / "run.mjs"
ACCOUNT = "diff"

TYPED = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

type Params = { name?: string; undef?: boolean };

export class Typed extends WorkflowEntrypoint<unknown, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const seen = await step.do("payload", async () => ({ payload: event.payload }));
    await step.sleep("pause", "1 second");
    const upper = await step.do("upper", async () => (event.payload.name ?? "nobody").toUpperCase());
    if (event.payload.undef) return undefined;
    return { seen, upper };
  }
}
"""

WEB = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

export class Web extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const headers = await step.do("headers", async () => {
      const h = new Headers({ "X-B": "2", "x-a": "1" });
      h.append("X-A", "3");
      h.append("Set-Cookie", "a=1");
      h.append("Set-Cookie", "b=2");
      return { all: [...h], a: h.get("x-a"), cookies: h.getSetCookie(), has: h.has("X-B") };
    });
    const response = await step.do("response", async () => {
      const r = Response.json({ n: 1 }, { status: 201, headers: { "x-y": "z" } });
      const c = r.clone();
      const text = await r.text();
      return { status: r.status, ok: r.ok, type: r.headers.get("content-type"), text,
               json: await c.json(), used: r.bodyUsed, redirect: Response.redirect("https://a.example/x", 301).headers.get("location") };
    });
    const request = await step.do("request", async () => {
      const form = new FormData();
      form.append("a", "1");
      form.append("f", new Blob(["file body"], { type: "text/plain" }), "f.txt");
      const req = new Request("https://example.com/p?q=1#h", { method: "post", body: form });
      const back = await req.formData();
      const params = new Request("https://example.com/", { method: "PUT", body: new URLSearchParams({ a: "x y", b: "&" }) });
      return { method: req.method, url: req.url, a: back.get("a"), name: (back.get("f") as File).name,
               file: await (back.get("f") as File).text(), paramsType: params.headers.get("content-type"),
               paramsBody: await params.text() };
    });
    const streams = await step.do("streams", async () => {
      const source = new ReadableStream({
        start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); },
      });
      const upper = source.pipeThrough(new TransformStream({ transform(chunk, c) { c.enqueue(String(chunk).toUpperCase()); } }));
      const chunks: string[] = [];
      for await (const chunk of upper.pipeThrough(new TextEncoderStream()).pipeThrough(new TextDecoderStream())) chunks.push(chunk);
      const [x, y] = new Response("tee").body!.tee();
      return { joined: chunks.join(""), tee: [await new Response(x).text(), await new Response(y).text()],
               blob: await new Blob(["ab", new Uint8Array([99])]).text() };
    });
    const crypto_ = await step.do("crypto", async () => {
      const enc = new TextEncoder();
      const key = await crypto.subtle.importKey("raw", enc.encode("secret"), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
      const jwk = await crypto.subtle.exportKey("jwk", key);
      const pb = await crypto.subtle.importKey("raw", enc.encode("password"), "PBKDF2", false, ["deriveBits"]);
      return { sha: hex(await crypto.subtle.digest("SHA-256", enc.encode("abc"))),
               hmac: hex(await crypto.subtle.sign("HMAC", key, enc.encode("message"))),
               jwk: { kty: jwk.kty, k: jwk.k, alg: jwk.alg },
               pbkdf2: hex(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: enc.encode("salt"), iterations: 1000 }, pb, 256)) };
    });
    const misc = await step.do("misc", async () => {
      const ac = new AbortController();
      let fired = 0;
      ac.signal.addEventListener("abort", () => fired++);
      ac.abort();
      const url = new URL("https://user:pw@Example.COM:443/a/../b?x=1&y=2#frag");
      await scheduler.wait(5);
      return { aborted: ac.signal.aborted, reason: (ac.signal.reason as Error).name, fired,
               href: url.href, host: url.host, search: [...url.searchParams],
               ua: navigator.userAgent, decoded: new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0xac])) };
    });
    return { headers, response, request, streams, crypto: crypto_, misc };
  }
}
"""

FLOW = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";

export class Flow extends WorkflowEntrypoint<unknown, { fail: boolean }> {
  async run(event: WorkflowEvent<{ fail: boolean }>, step: WorkflowStep) {
    const all = await Promise.all([1, 2, 3].map((n) => step.do(`item ${n}`, async () => n * n)));
    let caught = null;
    try {
      await step.do("refuse", async () => { throw new NonRetryableError("not this one"); });
    } catch (e) {
      caught = (e as Error).message;
    }
    const again = [];
    for (let i = 0; i < 2; i++) again.push(await step.do("same name", async () => i));
    if (event.payload.fail) throw new Error("the workflow gave up");
    return { all, caught, again };
  }
}
"""

ALIVE = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

// State outside the steps: Cloudflare's engine keeps the activation alive
// across short retry delays and sleeps, so it counts each attempt once.
let attempts = 0;
let runs = 0;

export class Alive extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    runs++;
    const value = await step.do("flaky", { retries: { limit: 3, delay: "200 millis", backoff: "constant" } },
      async () => {
        attempts++;
        if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
        return `succeeded on attempt ${attempts}`;
      });
    await step.sleep("nap", "1 second");
    return { value, attempts, runs };
  }
}
"""

CASES = {
    "alive": (ALIVE, "Alive", [{"id": "a1", "params": {}}]),
    "typed": (TYPED, "Typed", [{"id": "with", "params": {"name": "ada"}}, {"id": "without"},
                               {"id": "undef", "params": {"undef": True}}]),
    "web": (WEB, "Web", [{"id": "w1", "params": {}}]),
    "flow": (FLOW, "Flow", [{"id": "ok", "params": {"fail": False}},
                            {"id": "fail", "params": {"fail": True}}]),
}


def on_miniflare(source: str, class_name: str, instances: list[dict[str, Any]]) -> Any:
    assert shutil.which("node") and (RUNNER.parent / "node_modules").is_dir(), \
        "miniflare is not installed: ./test.sh installs it (npm ci in tests/miniflare)"
    proc = subprocess.run(["node", str(RUNNER)], input=json.dumps(
        {"source": source, "className": class_name, "instances": instances}),
        capture_output=True, text=True, timeout=120, cwd=RUNNER.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def on_flowbox(client: cloudflare.Cloudflare, name: str, source: str, class_name: str,
               instances: list[dict[str, Any]]) -> Any:
    client.workers.scripts.update(name, account_id=ACCOUNT, metadata={"main_module": "index.ts"},
                                  files=[("index.ts", source.encode(),
                                          "application/javascript+module")])
    client.workflows.update(name, account_id=ACCOUNT, class_name=class_name, script_name=name)
    for instance in instances:
        client.workflows.instances.create(name, account_id=ACCOUNT, instance_id=instance["id"],
                                          **({"params": instance["params"]}
                                             if "params" in instance else {}))
    out = {}
    for instance in instances:
        deadline = time.monotonic() + 60
        while True:
            got = client.workflows.instances.get(instance["id"], account_id=ACCOUNT,
                                                 workflow_name=name)
            if got.status in ("complete", "errored", "terminated"):
                break
            assert time.monotonic() < deadline, f"{name}/{instance['id']} still {got.status}"
            time.sleep(0.05)
        error = {"name": got.error.name, "message": got.error.message} if got.error else None
        out[instance["id"]] = {
            "status": got.status, "output": got.output, "error": error,
            "stepOutputs": [s.output for s in got.steps or []  # type: ignore[union-attr]
                            if s.type == "step" and s.success]}
    return out


@pytest.fixture(scope="module")
def flowbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudflare.Cloudflare]:
    with live_server(tmp_path_factory.mktemp("diff")) as live:
        client = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                       base_url=live.url + "/client/v4", max_retries=0)
        yield client
        client.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_flowbox_agrees_with_miniflare(flowbox: cloudflare.Cloudflare, case: str) -> None:
    source, class_name, instances = CASES[case]
    expected = on_miniflare(source, class_name, instances)
    got = on_flowbox(flowbox, case, source, class_name, instances)
    for instance in instances:
        want, have = expected[instance["id"]], got[instance["id"]]
        assert have["status"] == want["status"], (instance, have, want)
        assert have["output"] == want["output"], instance
        assert have["stepOutputs"] == want["stepOutputs"], instance
        if want["error"] is not None:
            assert have["error"] == {"name": want["error"]["name"],
                                     "message": want["error"]["message"]}, instance
