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


@pytest.mark.parametrize(("specifier", "resolved"), [
    ("fs", "fs"), ("node:fs", "node:fs"), ("./other.js", "other.js"),
    ("https://evil.example/x.js", "https://evil.example/x.js")])
def test_other_imports_are_compile_errors_naming_the_specifier(engine: Engine, specifier: str,
                                                                resolved: str) -> None:
    src = f"import x from '{specifier}';\nexport default async function () {{ return x }}"
    with pytest.raises(CompileError, match=f"cannot import '{resolved}'") as info:
        engine.compile(src, "w.js")
    assert (info.value.line, info.value.column) == (1, 15)


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
    with pytest.raises(CompileError, match="cannot import 'lodash'") as info:
        engine.compile("import _ from 'lodash';\nexport default async function () { _() }",
                       "w.ts")
    assert (info.value.line, info.value.column) == (1, 15)


COMMON_HEADER = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";
import type { Env } from "./env";

type Params = { email: string };

export class MyWorkflow extends WorkflowEntrypoint<Env, Params> {
  async run(event: WorkflowEvent<Params>, step: WorkflowStep): Promise<string> {
    return `hello ${event.payload.email}`;
  }
}
"""


def test_type_only_imports_are_elided_as_tsc_does(engine: Engine) -> None:
    art = engine.compile(COMMON_HEADER, "w.ts")
    assert (art.kind, art.export) == ("workflow", "MyWorkflow")
    out = engine.run(art, {"payload": {"email": "a@b.c"}})
    assert out.error is None and out.value == "hello a@b.c"


def test_a_type_only_name_imported_in_javascript_is_an_error_on_its_line(engine: Engine) -> None:
    # As on Cloudflare: WorkflowStep is a TypeScript type, not a value.
    src = "\nimport { WorkflowEntrypoint, WorkflowStep } from 'cloudflare:workers';\n" + \
          "export class W extends WorkflowEntrypoint { async run() { return WorkflowStep } }"
    with pytest.raises(CompileError, match="Could not find export 'WorkflowStep'") as info:
        engine.compile(src, "w.js")
    assert (info.value.line, info.value.column) == (2, 30)
    assert "(w.js:2:30)" in str(info.value)


def test_cloudflare_workers_exports_its_values(engine: Engine) -> None:
    src = """import { WorkflowEntrypoint, WorkerEntrypoint, DurableObject, RpcTarget, env,
                     waitUntil } from "cloudflare:workers";
export default async function () {
  return [typeof WorkflowEntrypoint, typeof WorkerEntrypoint, typeof DurableObject,
          typeof RpcTarget, typeof waitUntil, env.GREETING,
          new (class extends DurableObject {})("ctx", "e").env];
}"""
    out = engine.run(engine.compile(src, "w.js"), {}, data={"GREETING": "hi"})
    assert out.error is None
    assert out.value == ["function"] * 5 + ["hi", "e"]


def test_env_of_cloudflare_workers_is_filled_per_execution(engine: Engine) -> None:
    src = "import { env } from 'cloudflare:workers';\n" \
          "export default async function () { const seen = env.N; env.N = 'changed'; return seen }"
    art = engine.compile(src, "w.js")
    assert engine.run(art, {}, data={"N": "one"}).value == "one"
    assert engine.run(art, {}, data={"N": "two"}).value == "two"
    assert engine.run(art, {}).value is None


@pytest.mark.parametrize("specifier", ["flowbox:internal", "flowbox:anything"])
def test_internal_modules_cannot_be_imported(engine: Engine, specifier: str) -> None:
    with pytest.raises(CompileError, match=f"cannot import '{specifier}'") as info:
        engine.compile(f"import {{ env }} from '{specifier}';\n"
                       "export default async () => env", "w.js")
    assert info.value.line == 1


def test_module_without_entry_point_says_what_it_exports(engine: Engine) -> None:
    with pytest.raises(CompileError) as info:
        engine.compile("export const helper = 1;\nexport function other() {}", "w.js")
    message = str(info.value)
    assert "'helper'" in message and "'other'" in message
    assert "whole module, not one line" in message and info.value.line is None


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


def test_a_refused_import_is_located_whatever_the_file_is_called(engine: Engine) -> None:
    with pytest.raises(CompileError, match="cannot import 'fs'") as info:
        engine.compile('import fs from "fs";\nexport default async () => fs;\n', "fs.js")
    assert (info.value.line, info.value.column) == (1, 16)
