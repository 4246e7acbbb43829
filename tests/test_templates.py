"""Cloudflare's own Workflows templates, as `create-cloudflare` (npm)
ships them, uploaded unchanged through the official `cloudflare` SDK, and
run on Flowbox and on miniflare (Cloudflare's local engine) side by side:
the same step outputs, the same status and error.

The templates call the network (api.cloudflare.com), which neither engine
reaches here, so the instances are compared up to that step: creation,
the first step, and the wait for an event the test sends."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import pytest
from live import live_server

MINIFLARE = Path(__file__).parent / "miniflare"
TEMPLATES = MINIFLARE / "node_modules" / "create-cloudflare" / "templates"
ACCOUNT = "templates"
PARAMS = {"email": "ada@example.com", "metadata": {"plan": "pro"}}
EVENT = {"type": "approval", "payload": {"approved": True, "by": "grace"}}


@pytest.fixture(scope="module")
def cf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudflare.Cloudflare]:
    assert TEMPLATES.is_dir(), "create-cloudflare is not installed: ./test.sh installs it"
    with live_server(tmp_path_factory.mktemp("templates")) as live:
        client = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                       base_url=live.url + "/client/v4", max_retries=0)
        yield client
        client.close()


def wrangler_config(project: Path) -> dict[str, str]:
    """main, and the workflow's name and class, from the project's wrangler.jsonc."""
    text = (project / "wrangler.jsonc").read_text()
    found = {key: re.search(rf'"{key}"\s*:\s*"([^"]+)"', text) for key in
             ("main", "class_name", "binding")}
    assert all(found.values()), found
    return {key: m.group(1) for key, m in found.items() if m is not None}


def bundle(entry: Path) -> str:
    """The entry bundled by esbuild as `wrangler deploy` bundles it."""
    script = ("import { buildSync } from 'esbuild';"
              f"process.stdout.write(buildSync({{entryPoints: [{json.dumps(str(entry))}], "
              "bundle: true, format: 'esm', write: false, platform: 'neutral', "
              "external: ['cloudflare:*']}).outputFiles[0].text);")
    proc = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=60, cwd=MINIFLARE)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def on_miniflare(entry: Path, class_name: str, steps: int) -> dict[str, Any]:
    assert shutil.which("node"), "node is not installed"
    proc = subprocess.run(["node", str(MINIFLARE / "drive.mjs")], input=json.dumps(
        {"entry": str(entry), "className": class_name, "steps": steps, "event": EVENT,
         "instance": {"id": "t-1", "params": PARAMS}}),
        capture_output=True, text=True, timeout=120, cwd=MINIFLARE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def step_outputs(instance: Any) -> list[Any]:
    """What miniflare lists as step outputs: each step's value, and of a
    finished wait for an event, the event's payload."""
    return [s.output if s.type == "step" else s.output["payload"] for s in instance.steps or []
            if (s.type == "step" and s.success) or (s.type == "waitForEvent" and s.finished)]


def on_flowbox(cf: cloudflare.Cloudflare, name: str, main: str, source: str,
               class_name: str, steps: int) -> dict[str, Any]:
    cf.workers.scripts.update(name, account_id=ACCOUNT, metadata={"main_module": main},
                              files=[(main, source.encode(), "application/javascript+module")])
    cf.workflows.update(name, account_id=ACCOUNT, class_name=class_name, script_name=name)
    cf.workflows.instances.create(name, account_id=ACCOUNT, instance_id="t-1", params=PARAMS)
    sent, deadline = False, time.monotonic() + 60
    while True:
        got = cf.workflows.instances.get("t-1", account_id=ACCOUNT, workflow_name=name)
        outputs = step_outputs(got)
        ended = got.status in ("complete", "errored", "terminated")
        if not sent and len(outputs) >= steps - 1:
            cf.workflows.instances.events.create(EVENT["type"], account_id=ACCOUNT,
                                                 workflow_name=name, instance_id="t-1",
                                                 body=EVENT["payload"])
            sent = True
        if ended or len(outputs) >= steps:
            error = {"name": got.error.name, "message": got.error.message} if got.error else None
            return {"status": got.status if ended else "running", "error": error,
                    "stepOutputs": outputs}
        assert time.monotonic() < deadline, f"{name} still {got.status} with {outputs}"
        time.sleep(0.05)


def comparable(outputs: list[Any]) -> list[Any]:
    """Step outputs without the one thing that differs by nature: when."""
    out = json.loads(json.dumps(outputs))
    for output in out:
        if isinstance(output, dict) and isinstance(output.get("inputParams"), dict):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                                output["inputParams"].pop("timestamp"))
    return out


@pytest.mark.parametrize("form", ["source", "bundle"])
def test_the_typescript_workflows_template_runs_as_on_miniflare(
        cf: cloudflare.Cloudflare, form: str) -> None:
    project = TEMPLATES / "hello-world-workflows" / "ts"
    config = wrangler_config(project)
    entry = project / config["main"]
    source = entry.read_text() if form == "source" else bundle(entry)
    main = config["main"] if form == "source" else "index.js"
    expected = on_miniflare(entry, config["class_name"], steps=2)
    got = on_flowbox(cf, f"hello-ts-{form}", main, source, config["class_name"], steps=2)
    assert expected["status"] == got["status"] == "running", (expected, got)
    assert len(expected["stepOutputs"]) == 2, expected
    # Miniflare names the workflow by its binding's config; so does Flowbox.
    want = comparable(expected["stepOutputs"])
    want[0]["inputParams"]["workflowName"] = f"hello-ts-{form}"
    assert comparable(got["stepOutputs"]) == want
    assert want[1] == EVENT["payload"]


def test_the_javascript_workflows_template_fails_as_on_miniflare(
        cf: cloudflare.Cloudflare) -> None:
    """Its constructor touches `this` before calling super(): Cloudflare's
    engine refuses that, and so must Flowbox."""
    project = TEMPLATES / "hello-world-workflows" / "js"
    config = wrangler_config(project)
    entry = project / config["main"]
    expected = on_miniflare(entry, config["class_name"], steps=2)
    got = on_flowbox(cf, "hello-js", config["main"], entry.read_text(), config["class_name"],
                     steps=2)
    assert expected["status"] == got["status"] == "errored", (expected, got)
    assert expected["stepOutputs"] == got["stepOutputs"] == []
    assert expected["error"]["name"] == got["error"]["name"] == "ReferenceError"
