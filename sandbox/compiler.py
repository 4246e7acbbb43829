"""Compiling user source to an Artifact: TypeScript is type-stripped first
(sucrase, bundled by sandbox/build.py, running inside the sandbox itself),
then QuickJS compiles the module to bytecode and evaluates it once, in the
same throwaway instance, to check its imports and find its entry point.

Compilation runs under its own limits: a module whose top level loops
forever or allocates without end fails to compile instead of hanging.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import build
from .artifact import Artifact
from .errors import CompileError, LimitExceeded
from .execution import Execution
from .limits import Limits, MiB
from .protocol import Failure

if TYPE_CHECKING:
    from .engine import Engine

COMPILE_LIMITS = Limits(timeout=10.0, cpu=5.0, memory=256 * MiB, result_bytes=64 * MiB)
TS_SUFFIXES = (".ts", ".mts", ".cts")
MAX_SOURCE_BYTES = 4 * MiB
_POSITION = re.compile(r":(\d+):(\d+)\)?\s*$", re.M)
_ENTRY_HELP = ("the module must export a default async function (event, bindings) "
               "or a class that extends WorkflowEntrypoint from 'cloudflare:workers'")
_MISSING_EXPORT = re.compile(r"Could not find export '([^']*)' in module '([^']*)'")
_REFUSED_IMPORT = re.compile(r"cannot import '([^']*)'")


def compile_source(engine: Engine, source: str, filename: str) -> Artifact:
    """Compiles `source`; raises CompileError naming line and column."""
    if not isinstance(source, str) or not source.strip():
        raise CompileError("source is empty", filename=filename)
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise CompileError(f"source is larger than {MAX_SOURCE_BYTES} bytes", filename=filename)
    original = source
    if filename.endswith(TS_SUFFIXES):
        source = strip_types(engine, source, filename)
    meta, bytecode = _compile_module(engine, source, filename, original)
    kind, export = meta.get("kind"), meta.get("export")
    if kind not in ("function", "workflow") or not isinstance(export, str):
        raise CompileError(f"{_ENTRY_HELP}; {_exports_found(meta.get('exports'))} "
                           "(this concerns the whole module, not one line)", filename=filename)
    return Artifact.sign(engine, bytecode, kind, export, filename)


def _exports_found(names: Any) -> str:
    if not isinstance(names, list) or not names:
        return "it exports nothing"
    return "it exports only " + ", ".join(repr(n) for n in names[:10])


def _compile_module(engine: Engine, source: str, filename: str,
                    original: str | None = None) -> tuple[dict[str, Any], bytes]:
    try:
        with Execution(engine, COMPILE_LIMITS, {}) as ex:
            out = ex.compile(source.encode(), filename)
    except LimitExceeded as exc:
        raise CompileError(f"the module's top-level code hit a limit: {exc}",
                           filename=filename) from None
    if isinstance(out, Failure):
        raise _compile_error(out, filename, original if original is not None else source)
    return out


def locate_import(source: str, module: str, name: str | None = None) -> tuple[int, int] | None:
    """(line, column), 1-based, of the import of `module` in `source`: of
    `name` within it when given, else of the module specifier."""
    quoted = re.escape(module)
    spec = re.compile(rf"""\bfrom\s*(["']){quoted}\1|\bimport\s*(["']){quoted}\2""")
    for match in spec.finditer(source):
        start = source.rfind("import", 0, match.start() + 6)
        at = match.start()
        if name is not None and start >= 0:
            found = re.search(rf"\b{re.escape(name)}\b", source[start:match.start()])
            if found is None:
                continue
            at = start + found.start()
        elif name is None:
            at = match.start() + match.group(0).find(module) - 1
        line = source.count("\n", 0, at) + 1
        return line, at - (source.rfind("\n", 0, at) + 1) + 1
    return None


def _compile_error(failure: Failure, filename: str, source: str) -> CompileError:
    line = column = None
    match = _POSITION.search(failure.stack or "")
    if match:
        line, column = int(match.group(1)), int(match.group(2))
    else:
        missing = _MISSING_EXPORT.search(failure.message)
        refused = _REFUSED_IMPORT.search(failure.message)
        where = (locate_import(source, missing.group(2), missing.group(1)) if missing
                 else locate_import(source, refused.group(1)) if refused else None)
        if where is not None:
            line, column = where
    if failure.reason == "syntax":
        return CompileError(f"{failure.name}: {failure.message}", line, column, filename)
    if failure.reason == "never_settled":
        return CompileError("the module's top-level await never settles", filename=filename)
    return CompileError(f"evaluating the module failed: {failure.name}: {failure.message}",
                        line, column, filename)


def strip_types(engine: Engine, source: str, filename: str) -> str:
    """Removes TypeScript syntax, keeping every line where it was."""
    stripper = _stripper(engine)
    result = engine.run(stripper, {"code": source, "file": filename}, limits=COMPILE_LIMITS)
    if result.error is not None:
        raise CompileError(f"TypeScript could not be processed: {result.error}",
                           filename=filename)
    out = result.value or {}
    if "error" in out:
        raise CompileError(str(out["error"]), out.get("line"), out.get("column"), filename)
    return str(out["code"])


def _stripper(engine: Engine) -> Artifact:
    # Compiled once per engine: the bundle is ~300 KB of JavaScript.
    if engine._strip_types is None:
        bundle = build.STRIP_TYPES_PATH.read_text()
        wrapper = (bundle + "\nexport default function (input) {\n"
                   "  return globalThis.__flowboxStripTypes(input.code, input.file);\n}\n")
        meta, bytecode = _compile_module(engine, wrapper, "flowbox:strip-types")
        engine._strip_types = Artifact.sign(engine, bytecode, meta["kind"], meta["export"],
                                            "flowbox:strip-types")
    return engine._strip_types
