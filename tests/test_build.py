"""The guest build: pinned inputs, and no rebuild when nothing changed."""

from __future__ import annotations

from pathlib import Path

from sandbox import build


def test_build_is_skipped_when_inputs_are_unchanged() -> None:
    before = build.WASM_PATH.stat().st_mtime_ns
    assert build.build_wasm() == build.WASM_PATH
    assert build.WASM_PATH.stat().st_mtime_ns == before


def test_digest_changes_with_any_input(tmp_path: Path) -> None:
    a = tmp_path / "a.c"
    a.write_text("int x;")
    first = build._digest([a], "flags")
    assert build._digest([a], "other flags") != first
    a.write_text("int y;")
    assert build._digest([a], "flags") != first


def test_quickjs_sources_are_the_pinned_version() -> None:
    header = build.BUILD / f"quickjs-ng-{build.QUICKJS_NG_VERSION}" / "quickjs.h"
    major, minor, patch, _ = build.QUICKJS_NG_VERSION.split(".")
    text = header.read_text()
    assert f"QJS_VERSION_MAJOR {major}" in text and f"QJS_VERSION_MINOR {minor}" in text
    assert f"QJS_VERSION_PATCH {patch}" in text
