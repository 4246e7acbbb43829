"""`flowbox run` as a user runs it: a subprocess with files on disk."""

from __future__ import annotations

import json
import subprocess
import sys
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
