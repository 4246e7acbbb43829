"""The storage-free rules of durable instances: status transitions, cron
expressions, and the checks of what Cloudflare's API takes."""

from __future__ import annotations

import datetime as dt

import pytest

from server.durable import cron, requests
from server.durable.transitions import after_action, after_activation
from server.errors import InvalidRequest, InvalidTransition


@pytest.mark.parametrize("action, status, result", [
    ("pause", "queued", "paused"), ("pause", "waiting", "paused"),
    ("pause", "running", "waitingForPause"), ("resume", "paused", "queued"),
    ("resume", "waitingForPause", "running"), ("terminate", "waiting", "terminated"),
    ("terminate", "paused", "terminated"), ("restart", "complete", "queued"),
    ("restart", "errored", "queued"),
])
def test_allowed_transitions(action: str, status: str, result: str) -> None:
    assert after_action(action, status) == result


@pytest.mark.parametrize("action, status", [
    ("resume", "running"), ("resume", "complete"), ("pause", "complete"),
    ("terminate", "complete"), ("terminate", "errored"), ("terminate", "terminated"),
    ("explode", "running"),
])
def test_refused_transitions(action: str, status: str) -> None:
    with pytest.raises(InvalidTransition):
        after_action(action, status)


def test_a_pause_takes_effect_when_the_activation_ends() -> None:
    assert after_activation("waiting", "waitingForPause") == "paused"
    assert after_activation("complete", "waitingForPause") == "complete"
    assert after_activation("waiting", "running") == "waiting"


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("expression, after, expected", [
    ("*/15 * * * *", "2026-01-01T10:07:30", "2026-01-01T10:15:00"),
    ("0 9 * * MON-FRI", "2026-11-27T10:00:00", "2026-11-30T09:00:00"),  # Friday to Monday
    ("30 2 1 * *", "2026-01-31T00:00:00", "2026-02-01T02:30:00"),
    ("0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
    ("0 12 * JAN,JUL SUN", "2026-01-05T00:00:00", "2026-01-11T12:00:00"),
    ("5 4 * * 7", "2026-11-25T00:00:00", "2026-11-29T04:05:00"),  # 7 is Sunday too
])
def test_cron_next_firing(expression: str, after: str, expected: str) -> None:
    assert cron.next_after(cron.parse(expression), _at(after)) == _at(expected)


@pytest.mark.parametrize("expression, field", [
    ("* * * *", "5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"),
    ("* * 0 * *", "day of month"), ("* * * 13 *", "month"), ("* * * * MOO", "day of week"),
    ("*/0 * * * *", "minute"),
])
def test_bad_cron_names_the_field(expression: str, field: str) -> None:
    with pytest.raises(cron.InvalidCron, match=field):
        cron.parse(expression)


@pytest.mark.parametrize("value", ["ok", "a-b_c", "_x", "9" * 100])
def test_instance_ids_accepted(value: str) -> None:
    assert requests.instance_id(value) == value


@pytest.mark.parametrize("value", ["", "-x", "a b", "x" * 101, "cf_" + "a" * 64, 5, "é"])
def test_instance_ids_refused(value: object) -> None:
    with pytest.raises(InvalidRequest) as info:
        requests.instance_id(value)
    assert info.value.field == "instance_id"


def test_workflow_settings_checks() -> None:
    script, cls, settings = requests.workflow_settings({
        "script_name": "s", "class_name": "C", "concurrency": {"limit": 3},
        "limits": {"steps": 50}, "schedules": [{"cron": "0 * * * *"}],
        "default_retention": {"success_retention": "1 day", "error_retention": 60000}})
    assert (script, cls, settings.concurrency, settings.max_steps) == ("s", "C", 3, 50)
    assert (settings.success_retention, settings.error_retention) == (86400, 60)
    for body, field in (({"class_name": "C"}, "script_name"),
                        ({"script_name": "s", "class_name": "C", "concurrency": {"limit": 0}},
                         "concurrency.limit"),
                        ({"script_name": "s", "class_name": "C", "limits": {"steps": 1e9}},
                         "limits.steps"),
                        ({"script_name": "s", "class_name": "C", "colour": 1}, "colour")):
        with pytest.raises(InvalidRequest) as info:
            requests.workflow_settings(body)
        assert info.value.field == field


def test_status_action_and_restart_point() -> None:
    assert requests.status_action({"status": "pause"}) == ("pause", None)
    assert requests.status_action({"status": "restart", "from": {
        "name": "charge", "count": 2, "type": "waitForEvent"}}) == ("restart", "wait:charge#2")
    with pytest.raises(InvalidRequest):
        requests.status_action({"status": "pause", "from": {"name": "x"}})
    for kind in ({}, [], 3):  # not a step type (a dict once raised TypeError: a 500)
        with pytest.raises(InvalidRequest):
            requests.status_action({"status": "restart", "from": {"name": "x", "type": kind}})


def test_script_bindings_map_to_env_and_refuse_the_unknown() -> None:
    env = requests.script_env([
        {"type": "plain_text", "name": "MODE", "text": "fast"},
        {"type": "secret_text", "name": "TOKEN", "text": "secret!"},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "ns1"},
        {"type": "r2_bucket", "name": "BUCKET", "bucket_name": "b"}])
    assert (env.vars, env.secrets, env.stores, env.buckets) == (
        {"MODE": "fast"}, {"TOKEN": "secret!"}, {"CACHE": "ns1"}, {"BUCKET": "b"})
    for bad in ([{"type": "d1", "name": "DB", "id": "x"}],
                [{"type": "plain_text", "name": "step", "text": "x"}],
                [{"type": "plain_text", "name": "lower", "text": "x"}]):
        with pytest.raises(InvalidRequest):
            requests.script_env(bad)
