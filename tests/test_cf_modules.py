"""Worker scripts of many modules, uploaded as wrangler uploads them
(through the official `cloudflare` SDK), and instances that keep running
the version they started with when a new one is deployed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import cloudflare
import pytest
from live import Live, live_server

ACCOUNT = "mods"
JS = "application/javascript+module"

MAIN = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";
import { shout, type Shouted } from "./lib/text";
import config from "./config.json";
import banner from "./banner.txt";
import blob from "./blob.bin";

export class Modular extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<{ name: string }>, step: WorkflowStep) {
    const loud: Shouted = await step.do("shout", async () => shout(event.payload.name));
    return { loud, config, banner, bytes: [...new Uint8Array(blob)] };
  }
}
"""
TEXT = """\
import { suffix } from "../util/suffix.js";
export type Shouted = string;
export const shout = (s: string): Shouted => s.toUpperCase() + suffix;
"""
SUFFIX = "export const suffix: string = '!';\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("modules")) as server:
        yield server


@pytest.fixture(scope="module")
def cf(live: Live) -> Iterator[cloudflare.Cloudflare]:
    client = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                   base_url=live.url + "/client/v4", max_retries=0)
    yield client
    client.close()


def deploy(cf: cloudflare.Cloudflare, name: str, files: list[tuple[str, bytes, str]],
           class_name: str, main: str = "src/index.ts") -> None:
    cf.workers.scripts.update(name, account_id=ACCOUNT, metadata={"main_module": main},
                              files=files)
    cf.workflows.update(name, account_id=ACCOUNT, class_name=class_name, script_name=name)


def finished(cf: cloudflare.Cloudflare, workflow: str, instance_id: str,
             timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = cf.workflows.instances.get(instance_id, account_id=ACCOUNT, workflow_name=workflow)
        if got.status in ("complete", "errored", "terminated"):
            return got
        assert time.monotonic() < deadline, f"{instance_id} still {got.status} after {timeout} s"
        time.sleep(0.05)


def waiting(cf: cloudflare.Cloudflare, workflow: str, instance_id: str) -> None:
    deadline = time.monotonic() + 20
    while cf.workflows.instances.get(instance_id, account_id=ACCOUNT,
                                     workflow_name=workflow).status != "waiting":
        assert time.monotonic() < deadline, f"{instance_id} never waited"
        time.sleep(0.05)


def modular_files() -> list[tuple[str, bytes, str]]:
    return [("src/index.ts", MAIN.encode(), JS),
            ("src/lib/text.ts", TEXT.encode(), JS),
            ("src/util/suffix.ts", SUFFIX.encode(), JS),
            ("src/config.json", json.dumps({"retries": 3}).encode(), "application/json"),
            ("src/banner.txt", "héllo\n".encode(), "text/plain"),
            ("src/blob.bin", bytes([0, 1, 254, 255]), "application/octet-stream"),
            ("src/index.ts.map", b'{"version":3}', "application/source-map")]


def test_a_script_of_many_modules_runs(cf: cloudflare.Cloudflare) -> None:
    deploy(cf, "modular", modular_files(), "Modular")
    cf.workflows.instances.create("modular", account_id=ACCOUNT, instance_id="m-1",
                                  params={"name": "ada"})
    done = finished(cf, "modular", "m-1")
    assert done.status == "complete", done.error
    assert done.output == {"loud": "ADA!", "config": {"retries": 3}, "banner": "héllo\n",
                           "bytes": [0, 1, 254, 255]}


def test_an_unused_module_is_kept_out_of_the_way(cf: cloudflare.Cloudflare) -> None:
    files = [*modular_files(), ("src/unused.js", b"export const x = 1;", JS)]
    deploy(cf, "modular-extra", files, "Modular")
    cf.workflows.instances.create("modular-extra", account_id=ACCOUNT, instance_id="e-1",
                                  params={"name": "x"})
    assert finished(cf, "modular-extra", "e-1").output["loud"] == "X!"


def refusal(cf: cloudflare.Cloudflare, files: list[tuple[str, bytes, str]],
            main: str = "src/index.ts") -> dict[str, Any]:
    with pytest.raises(cloudflare.BadRequestError) as info:
        cf.workers.scripts.update("refused", account_id=ACCOUNT,
                                  metadata={"main_module": main}, files=files)
    body = info.value.response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["errors"][0]
    return error


def test_an_error_in_another_module_names_that_module_line_and_column(
        cf: cloudflare.Cloudflare) -> None:
    files = modular_files()
    files[1] = ("src/lib/text.ts", b"export const shout = (s: string) => s;\nconst x = 1 +;\n", JS)
    error = refusal(cf, files)
    assert "line 2, column 15 of src/lib/text.ts" in error["message"], error


def test_an_import_of_a_module_not_uploaded_names_the_importing_line(
        cf: cloudflare.Cloudflare) -> None:
    files = [f for f in modular_files() if f[0] != "src/util/suffix.ts"]
    error = refusal(cf, files)
    assert "cannot import 'src/util/suffix.js'" in error["message"], error
    assert "line 1, column 24 of src/lib/text.ts" in error["message"], error


@pytest.mark.parametrize(("name", "kind", "says"), [
    ("src/module.wasm", "application/wasm", "WebAssembly modules are not supported"),
    ("src/worker.py", "text/x-python", "Python Workers are not supported"),
    ("src/../escape.js", JS, "must be a relative path"),
    ("/abs.js", JS, "must be a relative path"),
    ("cloudflare:workers", JS, "reserved prefix"),
])
def test_modules_that_cannot_be_run_are_refused_by_name(cf: cloudflare.Cloudflare, name: str,
                                                        kind: str, says: str) -> None:
    error = refusal(cf, [*modular_files(), (name, b"x", kind)])
    assert says in error["message"], error


def test_a_json_module_that_is_not_json_is_refused(cf: cloudflare.Cloudflare) -> None:
    files = modular_files()
    files[3] = ("src/config.json", b"{retries: 3}", "application/json")
    assert "'src/config.json' is not valid JSON" in refusal(cf, files)["message"]


def test_main_module_must_be_uploaded(cf: cloudflare.Cloudflare) -> None:
    error = refusal(cf, modular_files(), main="src/missing.ts")
    assert "main_module" in error["message"] and "src/lib/text.ts" in error["message"]


def test_the_script_a_module_cannot_climb_out_of(cf: cloudflare.Cloudflare) -> None:
    files = modular_files()
    files[1] = ("src/lib/text.ts", b"import x from '../../../etc/passwd';\n"
                b"export const shout = (s: string) => s + x;\n", JS)
    error = refusal(cf, files)
    assert "cannot import '../../../etc/passwd'" in error["message"], error


PINNED = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";
import { VERSION } from "./version";

export class Pinned extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const before = await step.do("before", async () => VERSION);
    await step.waitForEvent("go", { type: "go", timeout: "1 minute" });
    const after = await step.do("after", async () => VERSION);
    return { before, after, code: "CODE" };
  }
}
"""


def pinned_files(version: str) -> list[tuple[str, bytes, str]]:
    return [("src/index.ts", PINNED.replace("CODE", f"main {version}").encode(), JS),
            ("src/version.ts", f"export const VERSION = '{version}';\n".encode(), JS)]


def test_a_waiting_instance_keeps_its_version_across_a_redeploy(
        cf: cloudflare.Cloudflare) -> None:
    deploy(cf, "pinned", pinned_files("v1"), "Pinned")
    cf.workflows.instances.create("pinned", account_id=ACCOUNT, instance_id="old")
    waiting(cf, "pinned", "old")
    deploy(cf, "pinned", pinned_files("v2"), "Pinned")
    cf.workflows.instances.create("pinned", account_id=ACCOUNT, instance_id="new")
    waiting(cf, "pinned", "new")
    for instance in ("old", "new"):
        cf.workflows.instances.events.create("go", account_id=ACCOUNT, workflow_name="pinned",
                                             instance_id=instance, body={})
    old, new = finished(cf, "pinned", "old"), finished(cf, "pinned", "new")
    assert old.output == {"before": "v1", "after": "v1", "code": "main v1"}, old.error
    assert new.output == {"before": "v2", "after": "v2", "code": "main v2"}, new.error


def test_a_workflow_pointed_at_another_class_starts_new_instances_there(
        cf: cloudflare.Cloudflare) -> None:
    two = PINNED + PINNED.replace("class Pinned", "class Other").replace(
        "import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from \"cloudflare:workers\";"
        "\nimport { VERSION } from \"./version\";\n", "").replace('"CODE"', '"other"')
    files = [("src/index.ts", two.replace("CODE", "first").encode(), JS),
             ("src/version.ts", b"export const VERSION = 'v';\n", JS)]
    deploy(cf, "classes", files, "Pinned")
    cf.workflows.instances.create("classes", account_id=ACCOUNT, instance_id="p")
    waiting(cf, "classes", "p")
    cf.workflows.update("classes", account_id=ACCOUNT, class_name="Other", script_name="classes")
    cf.workflows.instances.create("classes", account_id=ACCOUNT, instance_id="o")
    waiting(cf, "classes", "o")
    for instance in ("p", "o"):
        cf.workflows.instances.events.create("go", account_id=ACCOUNT, workflow_name="classes",
                                             instance_id=instance, body={})
    assert finished(cf, "classes", "p").output["code"] == "first"
    assert finished(cf, "classes", "o").output["code"] == "other"


def test_versions_no_instance_runs_are_forgotten(cf: cloudflare.Cloudflare, live: Live) -> None:
    db = live.service.db

    def kept(workflow_id: str) -> set[str]:
        rows = db.fetchall("SELECT id FROM workflow_versions WHERE workflow_id = ?",
                           (workflow_id,))
        return {r[0] for r in rows}

    deploy(cf, "pruned", pinned_files("a"), "Pinned")
    cf.workflows.instances.create("pruned", account_id=ACCOUNT, instance_id="holds-a")
    waiting(cf, "pruned", "holds-a")
    first = live.service.definitions.workflow(ACCOUNT, "pruned")
    assert first is not None
    for version in ("b", "c", "d"):
        deploy(cf, "pruned", pinned_files(version), "Pinned")
    last = live.service.definitions.workflow(ACCOUNT, "pruned")
    assert last is not None
    assert kept(last.id) == {first.version_id, last.version_id}
    holder = live.service.instances.get(last.id, "holds-a")
    assert holder is not None
    live.service.instances.delete([holder.id])
    assert live.service.definitions.prune_versions() >= 1
    assert kept(last.id) == {last.version_id}


@pytest.mark.parametrize("name", ["a..b", "a.b", "x" * 65, "evil\u202etxt", "-dash", "with space"])
def test_script_names_follow_the_workflow_name_rules(cf: cloudflare.Cloudflare,
                                                     name: str) -> None:
    with pytest.raises(cloudflare.BadRequestError) as info:
        cf.workers.scripts.update(name, account_id=ACCOUNT, metadata={"main_module": "i.js"},
                                  files=[("i.js", b"export default async () => 1;", JS)])
    assert "script name must be 1 to 64" in info.value.response.json()["errors"][0]["message"]


def test_lone_surrogates_in_steps_and_errors_never_poison_the_instance(
        cf: cloudflare.Cloudflare, live: Live) -> None:
    """A step result and an error holding lone surrogates are stored as
    U+FFFD: the instance reads back (it was a 500 before)."""
    source = ('import { WorkflowEntrypoint } from "cloudflare:workers";\n'
              "export class W extends WorkflowEntrypoint { async run(e, step) {\n"
              '  await step.do("s", async () => ({ ["k\\udc00"]: "x\\ud800" }));\n'
              '  throw new Error("bad \\udc00"); } }\n')
    deploy(cf, "surrogates", [("w.js", source.encode(), JS)], "W", main="w.js")
    cf.workflows.instances.create("surrogates", account_id=ACCOUNT, instance_id="s-1")
    done = finished(cf, "surrogates", "s-1")
    assert done.status == "errored" and done.error.message == "bad \ufffd"
    assert done.steps[0].output == {"k\ufffd": "x\ufffd"}
    listed = live.client(live.key(ACCOUNT)).get(
        f"/client/v4/accounts/{ACCOUNT}/workflows/surrogates/instances")
    assert listed.status_code == 200


def test_a_chunked_upload_stops_at_the_body_limit(live: Live) -> None:
    """No Content-Length (chunked), many parts each under the limit: the
    bytes are counted as they arrive and the upload stops with 413 once
    they pass it, however much more is coming."""
    limit = live.service.config.max_body_bytes
    boundary = "b0undary"

    def part(name: str, data: bytes) -> bytes:
        return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/javascript+module\r\n\r\n"
                ).encode() + data + b"\r\n"

    def body() -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
               '{"main_module": "m0.js"}\r\n').encode()
        half = b"export const x = 1;\n" + b"//" + b"x" * (limit // 2) + b"\n"
        for i in range(8):  # four times the limit, each part half of it
            yield part(f"m{i}.js", half)
        yield f"--{boundary}--\r\n".encode()

    client = live.client(live.key(ACCOUNT))
    r = client.put(f"/client/v4/accounts/{ACCOUNT}/workers/scripts/chunky", content=body(),
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413, r.text
    assert "limit" in r.json()["errors"][0]["message"]
    assert client.get(f"/client/v4/accounts/{ACCOUNT}/workers/scripts/chunky").status_code == 404
