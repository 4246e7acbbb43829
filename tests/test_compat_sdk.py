"""Workflows written as people write them for Cloudflare, uploaded and run
through the official `cloudflare` SDK against a live Flowbox server: what
the instance reports must be what Cloudflare's engine reports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest
from live import live_server

ACCOUNT = "acme"

TYPED = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

type Env = { GREETING: string };
type Params = { name?: string };

export class Typed extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep) {
    const seen = await step.do("payload", async () => JSON.stringify(event.payload));
    if (event.payload.name === "undefined") return undefined;
    return { seen, greeting: this.env.GREETING };
  }
}
"""


@pytest.fixture
def cf(tmp_path: Path) -> Iterator[cloudflare.Cloudflare]:
    with live_server(tmp_path) as live:
        client = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                       base_url=live.url + "/client/v4", max_retries=0)
        upload(client)
        yield client
        client.close()


def upload(client: cloudflare.Cloudflare) -> None:
    client.workers.scripts.update(
        "typed", account_id=ACCOUNT,
        metadata={"main_module": "index.ts", "bindings": [
            {"type": "plain_text", "name": "GREETING", "text": "hi"}]},
        files=[("index.ts", TYPED.encode(), "application/javascript+module")])
    client.workflows.update("typed", account_id=ACCOUNT, class_name="Typed",
                            script_name="typed")


def finished(cf: cloudflare.Cloudflare, instance_id: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = cf.workflows.instances.get(instance_id, account_id=ACCOUNT, workflow_name="typed")
        if got.status in ("complete", "errored", "terminated"):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"instance {instance_id} still {got.status} after {timeout} s")
        time.sleep(0.05)


def test_the_common_typescript_header_uploads_and_runs(cf: cloudflare.Cloudflare) -> None:
    cf.workflows.instances.create("typed", account_id=ACCOUNT, instance_id="t-1",
                                  params={"name": "ada"})
    done = finished(cf, "t-1")
    assert done.status == "complete", done.error
    assert done.output == {"seen": '{"name":"ada"}', "greeting": "hi"}


def test_an_instance_created_without_params_gets_an_empty_payload(
        cf: cloudflare.Cloudflare) -> None:
    cf.workflows.instances.create("typed", account_id=ACCOUNT, instance_id="t-2")
    done = finished(cf, "t-2")
    assert done.status == "complete", done.error
    assert done.output["seen"] == "{}" and done.params == {}


def test_run_returning_undefined_reports_null_output(cf: cloudflare.Cloudflare) -> None:
    cf.workflows.instances.create("typed", account_id=ACCOUNT, instance_id="t-3",
                                  params={"name": "undefined"})
    done = finished(cf, "t-3")
    assert done.status == "complete", done.error
    assert done.output is None


FETCHING = """\
import { WorkflowEntrypoint, WorkflowEvent, WorkflowStep } from "cloudflare:workers";

export class Fetching extends WorkflowEntrypoint<unknown, { url: string }> {
  async run(event: WorkflowEvent<{ url: string }>, step: WorkflowStep) {
    return await step.do("call the API", async () => {
      try {
        const res = await fetch(event.payload.url, { method: "POST", body: JSON.stringify({ hi: 1 }),
                                                     headers: { "content-type": "application/json" } });
        return { status: res.status, body: await res.text() };
      } catch (e) {
        return { refused: (e as Error).message };
      }
    });
  }
}
"""


@pytest.fixture
def api() -> Iterator[str]:
    """A real HTTP API on loopback that answers what it was sent."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            self.send_response(201)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_step_fetches_through_the_servers_egress_policy(tmp_path: Path, api: str) -> None:
    with live_server(tmp_path, egress_allow=api) as live:
        client = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                       base_url=live.url + "/client/v4", max_retries=0)
        client.workers.scripts.update(
            "fetching", account_id=ACCOUNT, metadata={"main_module": "index.ts"},
            files=[("index.ts", FETCHING.encode(), "application/javascript+module")])
        client.workflows.update("fetching", account_id=ACCOUNT, class_name="Fetching",
                                script_name="fetching")
        for name, url in (("ok", f"http://{api}/hook"), ("private", "http://10.0.0.1/hook")):
            client.workflows.instances.create("fetching", account_id=ACCOUNT, instance_id=name,
                                              params={"url": url})
        outputs = {}
        for name in ("ok", "private"):
            deadline = time.monotonic() + 20
            while (got := client.workflows.instances.get(
                    name, account_id=ACCOUNT, workflow_name="fetching")).status != "complete":
                assert got.status not in ("errored", "terminated"), got.error
                assert time.monotonic() < deadline, f"{name} still {got.status}"
                time.sleep(0.05)
            outputs[name] = got.output
        client.close()
    assert outputs["ok"] == {"status": 201, "body": '{"hi":1}'}
    assert "not allowed by the egress policy" in outputs["private"]["refused"]
