"""Compiling JavaScript and TypeScript to signed artifacts."""

from __future__ import annotations

import dataclasses

import pytest

from sandbox import Artifact, ArtifactError, CompileError, Engine


def test_default_function_is_a_function_artifact(engine: Engine) -> None:
    art = engine.compile("export default async function (event) { return 1 }", "w.js")
    assert (art.kind, art.export) == ("function", "default")
    assert len(art.bytecode) > 0


@pytest.mark.parametrize("source, export", [
    ("import { WorkflowEntrypoint } from 'cloudflare:workers';\n"
     "export class MyWorkflow extends WorkflowEntrypoint { async run(e, s) {} }", "MyWorkflow"),
    ("import { WorkflowEntrypoint } from 'cloudflare:workers';\n"
     "export default class extends WorkflowEntrypoint { async run(e, s) {} }", "default"),
])
def test_workflow_class_is_found(engine: Engine, source: str, export: str) -> None:
    art = engine.compile(source, "w.js")
    assert (art.kind, art.export) == ("workflow", export)


def test_module_without_entry_point_is_refused(engine: Engine) -> None:
    with pytest.raises(CompileError, match="must export a default async function"):
        engine.compile("export const x = 1;", "w.js")


def test_syntax_error_names_line_and_column(engine: Engine) -> None:
    src = "export default async function () {\n  const x = 1;\n  x(;\n}\n"
    with pytest.raises(CompileError) as info:
        engine.compile(src, "w.js")
    assert (info.value.line, info.value.column) == (3, 5)
    assert "SyntaxError" in str(info.value) and "w.js:3:5" in str(info.value)


@pytest.mark.parametrize("specifier", ["fs", "node:fs", "./other.js", "https://evil.example/x.js"])
def test_other_imports_are_compile_errors_naming_the_specifier(engine: Engine,
                                                                specifier: str) -> None:
    src = f"import x from '{specifier}';\nexport default async function () {{ return x }}"
    with pytest.raises(CompileError, match=f"cannot import '{specifier}'"):
        engine.compile(src, "w.js")


def test_builtin_modules_import(engine: Engine) -> None:
    src = ("import { NonRetryableError } from 'cloudflare:workflows';\n"
           "import { WorkflowEntrypoint } from 'cloudflare:workers';\n"
           "export default async function () {\n"
           "  const e = new NonRetryableError('nope');\n"
           "  return [e.name, e.message, e instanceof Error, typeof WorkflowEntrypoint];\n}")
    result = engine.run(engine.compile(src, "w.js"))
    assert result.value == ["NonRetryableError", "nope", True, "function"]


def test_typescript_is_stripped_and_keeps_lines(engine: Engine) -> None:
    src = ("type Event = { data: { n: number } };\n"
           "interface Out { doubled: number }\n"
           "enum Color { Red, Green }\n"
           "export default async function (event: Event): Promise<Out> {\n"
           "  const n: number = event.data.n as number;\n"
           "  if (n < 0) throw new Error('negative');\n"
           "  return { doubled: n * 2 + Color.Green - 1 };\n"
           "}\n")
    art = engine.compile(src, "w.ts")
    assert engine.run(art, {"data": {"n": 21}}).value == {"doubled": 42}
    failed = engine.run(art, {"data": {"n": -1}})
    assert failed.error is not None
    assert "w.ts:6" in (failed.error.to_dict()["stack"] or "")


def test_typescript_error_names_line_and_column(engine: Engine) -> None:
    src = "export default async function () {\n  let x: = 3;\n}\n"
    with pytest.raises(CompileError) as info:
        engine.compile(src, "w.ts")
    assert info.value.line == 2
    assert info.value.column is not None and info.value.column > 0


def test_typescript_imports_are_checked_too(engine: Engine) -> None:
    with pytest.raises(CompileError, match="cannot import 'lodash'"):
        engine.compile("import _ from 'lodash';\nexport default async function () {}", "w.ts")


def test_empty_source_is_refused(engine: Engine) -> None:
    with pytest.raises(CompileError, match="empty"):
        engine.compile("   ", "w.js")


def test_top_level_code_that_never_ends_fails_compilation(engine: Engine) -> None:
    with pytest.raises(CompileError, match="limit"):
        engine.compile("for (;;) {}\nexport default async function () {}", "w.js")


def test_artifact_round_trips_through_bytes(engine: Engine) -> None:
    art = engine.compile("export default async function () { return 'hi' }", "w.js")
    again = Artifact.from_bytes(art.to_bytes())
    assert again == art
    assert engine.run(again).value == "hi"


def test_tampered_bytecode_is_never_loaded(engine: Engine) -> None:
    art = engine.compile("export default async function () { return 'hi' }", "w.js")
    evil = bytearray(art.bytecode)
    evil[-1] ^= 0xFF
    with pytest.raises(ArtifactError, match="did not produce"):
        engine.run(dataclasses.replace(art, bytecode=bytes(evil)))


def test_artifact_of_another_installation_is_refused(engine: Engine) -> None:
    art = engine.compile("export default async function () { return 1 }", "w.js")
    with Engine(signing_key=b"k" * 32) as other:
        with pytest.raises(ArtifactError):
            other.run(art)


def test_artifact_of_another_engine_build_is_refused(engine: Engine) -> None:
    art = engine.compile("export default async function () { return 1 }", "w.js")
    with pytest.raises(ArtifactError, match="another engine build"):
        engine.run(dataclasses.replace(art, build_id="0" * 32))


def test_garbage_is_not_an_artifact() -> None:
    with pytest.raises(ArtifactError):
        Artifact.from_bytes(b"\x00asm not an artifact")
