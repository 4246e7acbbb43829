"""The access log on a live server: one line per request with the route's
template, status, duration and account; never ids from the path, a query,
a key or a body; off with --access-log off."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from server.accesslog import access_line
from tests.live import live_server


def test_a_line_names_method_template_status_duration_and_account() -> None:
    assert access_line("GET", "/v1/accounts/{accountId}/runs", 200, 0.0031, "acme") == \
        "GET /v1/accounts/{accountId}/runs 200 3.1ms account=acme"
    assert access_line("POST", "(no route)", 404, 0.0, None).endswith("account=-")


def test_every_request_is_logged_without_secrets(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowbox.access")
    with live_server(tmp_path) as live:
        key = live.key("acme")
        session = live.session("acme")
        c = live.client(key)
        c.put("/v1/accounts/acme/stores/s/keys/secret-key-name", content=b"a secret body",
              params={"metadata": '{"token": "abc"}'})
        c.get("/v1/accounts/acme/runs/run_0123456789", params={"cursor": "zzz"})
        c.get("/nowhere/at/all")
        live.client(session).get("/api/projects")
        live.client().get("/v1/accounts/acme/runs")
    lines = [r.getMessage() for r in caplog.records if r.name == "flowbox.access"]
    want = [r"PUT /v1/accounts/\{accountId\}/stores/\{store\}/keys/\{key:path\} 200 [\d.]+ms account=acme",
            r"GET /v1/accounts/\{accountId\}/runs/\{runId\} 404 [\d.]+ms account=acme",
            r"GET \(no route\) 404 [\d.]+ms account=-",
            r"GET /api/projects 200 [\d.]+ms account=acme",
            r"GET /v1/accounts/\{accountId\}/runs 401 [\d.]+ms account=acme"]
    assert len(lines) == len(want), lines
    for line, pattern in zip(lines, want, strict=True):
        assert re.fullmatch(pattern, line), line
    text = "\n".join(lines)
    for secret in (key, session, "secret-key-name", "a secret body", "abc", "zzz", "run_0123"):
        assert secret not in text


def test_the_access_log_can_be_turned_off(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="flowbox.access")
    with live_server(tmp_path, access_log="off") as live:
        live.client().get("/health")
    assert [r for r in caplog.records if r.name == "flowbox.access"] == []
