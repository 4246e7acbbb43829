"""The README's quick start, run as written against a live server: the
shell block after `serve` (the key created with `flowbox keys create`,
the workflow registered from examples/welcome.js, the event, the runs)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.live import live_server

ROOT = Path(__file__).resolve().parent.parent


def quick_start_block() -> str:
    """The second shell block of the Quick start section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "the quick start has the set-up block and the usage block"
    return str(blocks[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    block = quick_start_block()
    lines = block.splitlines()
    assert lines[0].startswith(".venv/bin/flowbox serve")
    with live_server(tmp_path) as live:
        script = "\n".join(lines[1:]).replace("http://127.0.0.1:8787", live.url)
        proc = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                              cwd=ROOT, timeout=120,
                              env={"PATH": f"{ROOT / '.venv/bin'}:/usr/bin:/bin",
                                   "FLOWBOX_DATA_DIR": str(tmp_path)})
        assert proc.returncode == 0, proc.stderr
        registered, accepted, _runs = _json_documents(proc.stdout)
        assert registered["success"] is True
        assert registered["data"]["workflow"]["events"] == ["participant.joined"]
        assert accepted["description"] == "Event accepted"
        [run] = accepted["data"]["runs"]
        key = live.key("acme")
        deadline = time.monotonic() + 20
        while (got := live.client(key).get(f"/v1/accounts/acme/runs/{run['id']}").json()
               ["data"]["run"])["status"] != "complete":
            assert time.monotonic() < deadline, got
            time.sleep(0.05)
        assert got["output"] == {"success": True}
        assert got["logs"][0]["message"] == "User u1 joined room r1"


def _json_documents(text: str) -> list[dict[str, object]]:
    """The JSON documents curl printed one after another."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            break
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
    return docs
