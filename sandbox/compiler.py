"""Compiling user source to an Artifact: TypeScript is type-stripped first
(sucrase, bundled by sandbox/build.py, running inside the sandbox itself),
then QuickJS compiles the module to bytecode and evaluates it once, in the
same throwaway instance, to check its imports and find its entry point.

Compilation runs under its own limits: a module whose top level loops
forever or allocates without end fails to compile instead of hanging.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import build
from .artifact import Artifact
from .errors import CompileError, LimitExceeded
from .execution import Compiled, Execution
from .limits import Limits, MiB
from .protocol import Failure

if TYPE_CHECKING:
    from .engine import Engine

COMPILE_LIMITS = Limits(timeout=10.0, cpu=5.0, memory=256 * MiB, result_bytes=64 * MiB)
TS_SUFFIXES = (".ts", ".mts", ".cts")
MAX_SOURCE_BYTES = 4 * MiB
MAX_MODULES = 256
_POSITION = re.compile(r"([^\s(]*):(\d+):(\d+)\)?\s*$", re.M)
_ENTRY_HELP = ("the module must export a default async function (event, bindings) "
               "or a class that extends WorkflowEntrypoint from 'cloudflare:workers'")
_MISSING_EXPORT = re.compile(r"Could not find export '([^']*)' in module '([^']*)'")
_REFUSED_IMPORT = re.compile(r"cannot import '([^']*)'")


def compile_source(engine: Engine, source: str, filename: str,
                   modules: Mapping[str, str] | None = None) -> Artifact:
    """Compiles `source`, the main module, with the script's other modules
    (name -> JavaScript or TypeScript source) that it may import by name or
    relative path; raises CompileError naming file, line and column."""
    if not isinstance(source, str) or not source.strip():
        raise CompileError("source is empty", filename=filename)
    others = dict(modules or {})
    size = len(source.encode()) + sum(len(s.encode()) for s in others.values())
    if size > MAX_SOURCE_BYTES:
        raise CompileError(f"source is larger than {MAX_SOURCE_BYTES} bytes", filename=filename)
    if len(others) > MAX_MODULES:
        raise CompileError(f"a script has at most {MAX_MODULES} modules", filename=filename)
    originals = {filename: source, **others}
    stripped = {name: strip_types(engine, text, name) if name.endswith(TS_SUFFIXES) else text
                for name, text in originals.items()}
    out = _compile_module(engine, stripped.pop(filename), filename, originals, stripped)
    kind, export = out.meta.get("kind"), out.meta.get("export")
    if kind not in ("function", "workflow") or not isinstance(export, str):
        raise CompileError(f"{_ENTRY_HELP}; {_exports_found(out.meta.get('exports'))} "
                           "(this concerns the whole module, not one line)", filename=filename)
    return Artifact.sign(engine, out.bytecode, kind, export, filename, out.modules)


def _exports_found(names: Any) -> str:
    if not isinstance(names, list) or not names:
        return "it exports nothing"
    return "it exports only " + ", ".join(repr(n) for n in names[:10])


def _compile_module(engine: Engine, source: str, filename: str,
                    originals: Mapping[str, str] | None = None,
                    modules: Mapping[str, str] | None = None) -> Compiled:
    try:
        with Execution(engine, COMPILE_LIMITS, {}) as ex:
            out = ex.compile(source.encode(), filename,
                             {name: text.encode() for name, text in (modules or {}).items()})
    except LimitExceeded as exc:
        raise CompileError(f"the module's top-level code hit a limit: {exc}",
                           filename=filename) from None
    if isinstance(out, Failure):
        raise _compile_error(out, filename, originals or {filename: source})
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


_SPECIFIER = re.compile(r"""\b(?:from|import)\s*(["'])([^"'\n]+)\1""")
_MODULE_SUFFIXES = ("", ".ts", ".js", ".mts", ".mjs", "/index.ts", "/index.js")


def resolve_specifier(importer: str, specifier: str, names: Iterable[str]) -> str | None:
    """The module name an import of `specifier` in module `importer` means,
    as the guest's loader resolves it (sandbox/guest/modules.c): relative to
    the importer's folder, then an uploaded module with the name as written,
    with .ts/.js added, .js read as .ts, or /index; None above the root."""
    if specifier.startswith(("cloudflare:", "flowbox:")):
        return specifier
    path = specifier
    if specifier.startswith((".", "/")):
        parts: list[str] = [] if specifier.startswith("/") else importer.split("/")[:-1]
        for segment in specifier.split("/"):
            if segment == "..":
                if not parts:
                    return None
                parts.pop()
            elif segment not in ("", "."):
                parts.append(segment)
        path = "/".join(parts)
    known = set(names)
    candidates = [path + suffix for suffix in _MODULE_SUFFIXES]
    if path.endswith(".js"):
        candidates.append(path[:-3] + ".ts")
    return next((c for c in candidates if c in known), path)


def _find_import(sources: Mapping[str, str], main: str, module: str,
                 name: str | None) -> tuple[str, int, int] | None:
    """(file, line, column) of an import of `module` (of `name` in it, when
    the import names it) in any of the script's modules."""
    # The loader looks the others up (with .js/.ts added); the main module
    # only by its exact name.
    others = [n for n in sources if n != main]
    for importer, source in sources.items():
        for match in _SPECIFIER.finditer(source):
            resolved = resolve_specifier(importer, match.group(2), others) or match.group(2)
            if resolved != module:
                continue
            where = ((name and locate_import(source, match.group(2), name))
                     or locate_import(source, match.group(2)))
            if where is not None:
                return importer, where[0], where[1]
    return None


def _compile_error(failure: Failure, filename: str, sources: Mapping[str, str]) -> CompileError:
    line = column = None
    match = _POSITION.search(failure.stack or "")
    if match:
        line, column = int(match.group(2)), int(match.group(3))
        if match.group(1) in sources:
            filename = match.group(1)
    else:
        missing = _MISSING_EXPORT.search(failure.message)
        refused = _REFUSED_IMPORT.search(failure.message)
        module, name = ((missing.group(2), missing.group(1)) if missing
                        else (refused.group(1), None) if refused else (None, None))
        found = _find_import(sources, filename, module, name) if module is not None else None
        if found is not None:
            filename, line, column = found
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
        out = _compile_module(engine, wrapper, "flowbox:strip-types")
        engine._strip_types = Artifact.sign(engine, out.bytecode, out.meta["kind"],
                                            out.meta["export"], "flowbox:strip-types")
    return engine._strip_types
