"""The service end to end on the embedded defaults (SQLite and files under
./data): start `flowbox serve`, create an API key, feed a KV store, a room
and a user, register examples/room-digest.ts, send a participant.joined
event, print the run it started, then remove the workflow and stop.

    .venv/bin/python examples/service_demo.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLOWBOX = [sys.executable, "-m", "server.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1/accounts/demo"
    key = subprocess.run([*FLOWBOX, "keys", "create", "--account", "demo", "--scopes",
                          "read,write", "--name", "service demo", "--data-dir", args.data_dir],
                         check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([*FLOWBOX, "serve", "--data-dir", args.data_dir,
                               "--port", str(port)], env={**os.environ})
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/health")

        def call(method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
            data = raw if raw is not None else (json.dumps(body).encode() if body else None)
            request = urllib.request.Request(base + path, data=data, method=method, headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())

        call("PUT", "/stores/default/keys/greeting", raw=b"Welcome")
        call("PUT", "/stores/default/keys/settings", raw=b'{"maxGuests": 8}')
        call("PUT", "/rooms/r_1", {"name": "Design review"})
        call("PUT", "/users/u_1", {"name": "Ada", "email": "ada@example.com"})
        code = (HERE / "room-digest.ts").read_text()
        workflow = call("POST", "/workflows", {"name": "Room digest", "code": code,
                                               "events": ["participant.joined"]})
        wf_id = workflow["data"]["workflow"]["id"]
        print(f"registered {wf_id}", file=sys.stderr)
        accepted = call("POST", "/events", {"type": "participant.joined",
                                            "data": {"userId": "u_1", "roomId": "r_1"}})
        run_id = next(r["id"] for r in accepted["data"]["runs"] if r["workflow_id"] == wf_id)
        while (run := call("GET", f"/runs/{run_id}")["data"]["run"])["status"] in (
                "queued", "running"):
            time.sleep(0.05)
        print(json.dumps(run, indent=2))
        call("DELETE", f"/workflows/{wf_id}")
        return 0 if run["status"] == "complete" else 1
    except urllib.error.HTTPError as exc:
        print(f"service demo: HTTP {exc.code}: {exc.read().decode()}", file=sys.stderr)
        return 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("flowbox serve did not start") from None
            time.sleep(0.05)


if __name__ == "__main__":
    raise SystemExit(main())
