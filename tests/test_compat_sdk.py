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
