"""The OpenAPI document served at /openapi.json (filled in below)."""

from __future__ import annotations

from typing import Any


def document() -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "Flowbox", "version": "0.1.0"}, "paths": {}}
