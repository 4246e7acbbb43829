"""`flowbox run` as a user runs it: a subprocess with files on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOWBOX = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parent.parent


def flowbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOWBOX, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


@pytest.fixture
def script(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(source: str, name: str = "w.js") -> str:
        path = tmp_path / name
        path.write_text(source)
        return str(path)

    return write


def test_success_prints_result_and_logs(script) -> None:  # type: ignore[no-untyped-def]
    path = script("export default async function (e) { console.warn('hi', e.data.userId);"
                  " return { success: true } }")
    proc = flowbox("run", path, "--event", '{"data": {"userId": "u1"}}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"success": True}
    assert "[warn] hi u1" in proc.stderr


def test_example_from_the_readme_runs() -> None:
    proc = flowbox("run", "examples/welcome.js", "--event",
                   '{"data": {"userId": "u_1", "roomId": "r_1"}}')
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"success": True}


def test_user_error_exits_1_with_location(script) -> None:  # type: ignore[no-untyped-def]
    proc = flowbox("run", script("export default async function () {\n  throw new "
                                 "RangeError('bad');\n}\n", "job.js"))
    assert proc.returncode == 1
    assert "RangeError: bad" in proc.stderr and "job.js:2" in proc.stderr


def test_compile_error_exits_1_with_line_and_column(script) -> None:  # type: ignore[no-untyped-def]
    proc = flowbox("run", script("const x: number = ;\n", "t.ts"))
    assert proc.returncode == 1
    assert "compile error" in proc.stderr and "t.ts:1:" in proc.stderr


def test_limit_breach_exits_2_naming_the_limit(script) -> None:  # type: ignore[no-untyped-def]
    proc = flowbox("run", script("export default async function () { for (;;) {} }"),
                   "--timeout", "0.5")
    assert proc.returncode == 2
    assert "limit exceeded" in proc.stderr


def test_memory_flag(script) -> None:  # type: ignore[no-untyped-def]
    src = "export default async function () { return 'x'.repeat(40 * 1024 * 1024).length }"
    assert flowbox("run", script(src), "--memory", "8").returncode == 2
    ok = flowbox("run", script(src), "--memory", "128")
    assert ok.returncode == 0 and json.loads(ok.stdout) == 40 * 1024 * 1024


def test_bad_event_json_is_a_clear_error(script) -> None:  # type: ignore[no-untyped-def]
    proc = flowbox("run", script("export default async function () {}"), "--event", "{nope")
    assert proc.returncode != 0 and "--event is not valid JSON" in proc.stderr


def test_missing_file(tmp_path: Path) -> None:
    proc = flowbox("run", str(tmp_path / "absent.js"))
    assert proc.returncode == 1 and "cannot read" in proc.stderr


def test_bindings_from_a_local_data_directory(tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(ROOT / "examples" / "data", data, ignore=shutil.ignore_patterns("files"))
    proc = flowbox("run", "examples/room-digest.ts", "--data", str(data), "--event",
                   '{"type": "participant.joined", "data": {"userId": "u_1", "roomId": "r_1"}}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"line": "Hello, Ada! 2 of 12 in Design review.",
                                       "region": "eu-west", "saved": "digests/r_1.txt",
                                       "size": 37}
    assert "[log] Hello, Ada!" in proc.stderr
    # The file the run wrote is there for the next run to read.
    proc = flowbox("run", str(_write(tmp_path, "read.js", """
      export default async (e, { files }) => (await files.get("digests/r_1.txt")).text();""")),
                   "--data", str(data))
    assert json.loads(proc.stdout) == "Hello, Ada! 2 of 12 in Design review."


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def test_vars_and_secrets_from_flags_with_secrets_masked(tmp_path: Path) -> None:
    path = _write(tmp_path, "env.js", """export default async (e, { env }) => {
      console.log("using", env.TOKEN); return [env.MODE, env.TOKEN]; }""")
    proc = flowbox("run", str(path), "--var", "MODE=dev", "--secret", "TOKEN=tok-12345")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["dev", "[redacted]"]
    assert "tok-12345" not in proc.stdout + proc.stderr


def test_without_data_files_start_empty_and_are_discarded(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.js", """export default async (e, { files, store }) => {
      const before = (await files.list()).objects.length;
      await files.put("k", "v");
      return [before, await store.get("anything")]; }""")
    for _ in range(2):
        proc = flowbox("run", str(path))
        assert json.loads(proc.stdout) == [0, None], proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "/nonexistent/dir"], "--data /nonexistent/dir: no such directory"),
    (["--var", "lower=x"], "variable name 'lower' must match"),
    (["--secret", "TOKEN"], "--secret takes NAME=VALUE, got 'TOKEN'"),
    (["--secret", "TOKEN=abc"], "secret TOKEN must be at least 4 characters"),
    (["--event", '{"type": "room.exploded"}'], "--event: type: type must be one of"),
    (["--event", "[1]"], "--event must be a JSON object"),
])
def test_bad_input_exits_1_naming_it(tmp_path: Path, args: list[str], message: str) -> None:
    path = _write(tmp_path, "ok.js", "export default async () => 1")
    proc = flowbox("run", str(path), *args)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def test_a_broken_data_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "rooms.json").write_text("{not json")
    path = _write(tmp_path, "ok.js", "export default async () => 1")
    proc = flowbox("run", str(path), "--data", str(tmp_path))
    assert proc.returncode == 1 and "rooms.json" in proc.stderr


def test_keys_create_makes_the_account_and_prints_the_key_once(tmp_path: Path) -> None:
    from server.accounts import Accounts
    from server.db import SQLiteDatabase

    proc = flowbox("keys", "create", "--account", "acme", "--scopes", "read,write",
                   "--data-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    secret = proc.stdout.strip()
    assert secret.startswith("fbk_") and "created account acme" in proc.stderr
    again = flowbox("keys", "create", "--account", "acme", "--data-dir", str(tmp_path))
    assert "created account" not in again.stderr and again.stdout.strip() != secret
    db = SQLiteDatabase(tmp_path / "flowbox.db")
    key = Accounts(db).authenticate(secret)
    assert key is not None and key.account == "acme" and key.scopes == ("read", "write")
    assert secret not in (tmp_path / "flowbox.db").read_bytes().decode("latin-1")


@pytest.mark.parametrize(("args", "message"), [
    (["--account", "acme", "--scopes", "read,admin"], "scopes: scopes must be"),
    (["--account", "../x"], "account: account id must be"),
])
def test_keys_create_refuses_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    proc = flowbox("keys", "create", *args, "--data-dir", str(tmp_path))
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_sessions_create_prints_an_operator_session_once(tmp_path: Path) -> None:
    from server.accounts import Accounts
    from server.db import SQLiteDatabase

    proc = flowbox("sessions", "create", "--account", "acme", "--hours", "2",
                   "--data-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    secret = proc.stdout.strip()
    assert secret.startswith("fbs_") and "valid for 2 hours" in proc.stderr
    session = Accounts(SQLiteDatabase(tmp_path / "flowbox.db")).authenticate(secret)
    assert session is not None and session.kind == "session"
    assert session.scopes == ("read", "write", "deploy")
    assert session.expires_at is not None and 7100 < session.expires_at - time.time() <= 7200
    bad = flowbox("sessions", "create", "--account", "acme", "--hours", "0",
                  "--data-dir", str(tmp_path))
    assert bad.returncode == 1 and "--hours" in bad.stderr and bad.stdout == ""


APPROVAL = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";
export class Approval extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const first = await step.waitForEvent("approve", { type: "approval", timeout: "1 hour" });
    const other = await step.waitForEvent("note", { type: "note", timeout: "1 hour" });
    const second = await step.waitForEvent("again", { type: "approval", timeout: "1 hour" });
    return { first: first.payload, other: other.payload, second: second.payload,
             type: first.type, isDate: first.timestamp instanceof Date };
  }
}
"""


def test_run_answers_waits_with_sent_events_in_order(script) -> None:  # type: ignore[no-untyped-def]
    path = script(APPROVAL, "approval.ts")
    proc = flowbox("run", path, "--send-event", 'approval={"n": 1}', "--send-event",
                   'note="hi"', "--send-event", 'approval={"n": 2}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"first": {"n": 1}, "other": "hi", "second": {"n": 2},
                                       "type": "approval", "isDate": True}


def test_run_says_how_to_answer_a_wait_it_cannot(script) -> None:  # type: ignore[no-untyped-def]
    proc = flowbox("run", script(APPROVAL, "approval.ts"), "--send-event", 'approval={"n": 1}')
    assert proc.returncode == 1
    assert 'no event of type "note"' in proc.stderr and "--send-event note=JSON" in proc.stderr
    assert "/events/note" in proc.stderr  # or the durable API
    bad = flowbox("run", script(APPROVAL, "approval.ts"), "--send-event", "approval={bad")
    assert bad.returncode == 1 and "--send-event approval: the payload is not valid JSON" in bad.stderr
