"""The operator's commands as an operator runs them (subprocesses): keys
list and revoke, --version, and `serve` refusing to start with one clear
line when it cannot (port in use, data directory held by another server,
a database it cannot use)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live import free_port

FLOWBOX = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parent.parent


def flowbox(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOWBOX, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("flowbox: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_version_names_flowbox_and_its_engine() -> None:
    proc = flowbox("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("flowbox 0.") and "QuickJS-NG" in proc.stdout
    assert "wasmtime" in proc.stdout


def test_keys_list_and_revoke(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    made = flowbox("keys", "create", "--account", "acme", "--scopes", "read,write",
                   "--name", "ci", *data)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    listed = json.loads(flowbox("keys", "list", "--account", "acme", "--json", *data).stdout)
    assert [(k["name"], k["scopes"], k["revokedAt"]) for k in listed] == [
        ("ci", ["read", "write"], None)]
    assert secret not in json.dumps(listed)
    key_id = listed[0]["id"]
    human = flowbox("keys", "list", "--account", "acme", *data)
    assert key_id in human.stdout and "active" in human.stdout
    revoked = flowbox("keys", "revoke", key_id, "--account", "acme", *data)
    assert revoked.returncode == 0, revoked.stderr
    listed = json.loads(flowbox("keys", "list", "--account", "acme", "--json", *data).stdout)
    assert listed[0]["revokedAt"] is not None
    assert "no active key" in one_line_error(
        flowbox("keys", "revoke", key_id, "--account", "acme", *data))
    assert "no active key" in one_line_error(
        flowbox("keys", "revoke", key_id, "--account", "other", *data))

    from server.accounts import Accounts
    from server.db import SQLiteDatabase

    db = SQLiteDatabase(tmp_path / "flowbox.db")
    assert Accounts(db).authenticate(secret) is None
    db.close()


@pytest.mark.parametrize(("args", "says"), [
    (["--database-url", "mysql://root@127.0.0.1/flowbox"], "unsupported database URL scheme 'mysql'"),
    (["--database-url", "postgresql://postgres@127.0.0.1:1/test"], "cannot use the PostgreSQL database: connection failed"),
    (["--data-dir", "/proc/flowbox-cannot-be-here"], "cannot use the data directory /proc/flowbox-cannot-be-here"),
])
def test_a_database_that_cannot_be_used_is_one_line(args: list[str], says: str) -> None:
    for command in (["keys", "create", "--account", "a"], ["serve", "--port", str(free_port())]):
        assert says in one_line_error(flowbox(*command, *args))


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(flowbox("serve", "--port", str(port), "--data-dir", str(tmp_path)))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest
           ) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    extra = getattr(request, "param", {})
    proc = subprocess.Popen([*FLOWBOX, "serve", "--port", str(port), "--data-dir", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FLOWBOX_RATE_GLOBAL": "2", **extra})
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield proc, port
    proc.terminate()
    proc.wait(30)
    assert proc.stderr is not None
    proc.stderr.close()
    assert proc.stdout is not None
    proc.stdout.close()


def test_a_second_server_on_the_same_data_directory_refuses_to_start(
        server: tuple[subprocess.Popen[str], int], tmp_path: Path) -> None:
    first, _ = server
    line = one_line_error(flowbox("serve", "--port", str(free_port()), "--data-dir", str(tmp_path)))
    assert f"in use by another flowbox server (pid {first.pid})" in line


def test_health_is_never_rate_limited(server: tuple[subprocess.Popen[str], int]) -> None:
    _, port = server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert [client.get("/health").status_code for _ in range(10)] == [200] * 10
        statuses = [client.get("/openapi.json").status_code for _ in range(5)]
    assert 429 in statuses  # the limit (2 a minute) is on, for everything else


def test_a_new_data_directory_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds secrets and the signing key: owner-only, whatever the umask."""
    data = tmp_path / "fresh"
    proc = flowbox("keys", "create", "--account", "a", "--data-dir", str(data))
    assert proc.returncode == 0, proc.stderr
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "flowbox.db").stat().st_mode & 0o777 == 0o600


def test_a_rotated_x_forwarded_for_does_not_escape_the_limit(
        server: tuple[subprocess.Popen[str], int]) -> None:
    _, port = server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        statuses = [client.get("/openapi.json", headers={"X-Forwarded-For": f"203.0.113.{i}"}
                               ).status_code for i in range(5)]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]


@pytest.mark.parametrize("server", [{"FLOWBOX_TRUSTED_PROXIES": "127.0.0.1"}], indirect=True)
def test_a_trusted_proxy_names_the_client(server: tuple[subprocess.Popen[str], int]) -> None:
    _, port = server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        statuses = [client.get("/openapi.json", headers={"X-Forwarded-For": f"203.0.113.{i}"}
                               ).status_code for i in range(5)]
    assert statuses == [200] * 5  # five clients behind the proxy, each within its limit


def test_sessions_list_and_revoke(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    made = flowbox("sessions", "create", "--account", "ops", "--hours", "1", *data)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    flowbox("keys", "create", "--account", "ops", *data)  # a key is not a session
    [listed] = json.loads(flowbox("sessions", "list", "--account", "ops", "--json", *data).stdout)
    assert listed["revokedAt"] is None and not listed["expired"] and secret not in json.dumps(listed)
    assert "active" in flowbox("sessions", "list", "--account", "ops", *data).stdout
    assert flowbox("sessions", "revoke", listed["id"], "--account", "ops", *data).returncode == 0
    [after] = json.loads(flowbox("sessions", "list", "--account", "ops", "--json", *data).stdout)
    assert after["revokedAt"] is not None
    assert "no active session" in one_line_error(
        flowbox("sessions", "revoke", listed["id"], "--account", "ops", *data))

    from server.accounts import Accounts
    from server.db import SQLiteDatabase

    db = SQLiteDatabase(tmp_path / "flowbox.db")
    assert Accounts(db).authenticate(secret) is None
    db.close()
