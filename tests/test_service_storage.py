"""One suite for the service's storage on SQLite and on PostgreSQL:
workflows, accepted events with idempotency keys, and the run state
machine that crash recovery rests on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bindings import make_event
from sandbox import Engine
from server.accounts import Accounts
from server.durable.instances import InstanceStore
from server.errors import Conflict
from server.events import EventLog
from server.runs import RunFilter, RunStore
from server.workflows import WorkflowStore, check_fields, compile_code
from tests.helpers import migrated_database


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with migrated_database(request.param, tmp_path) as database:
        for account in ("a", "b"):
            Accounts(database).ensure_account(account)
        yield database


def _workflow(store: WorkflowStore, engine: Engine, account: str, events: list[str],
              room: str | None = None) -> Any:
    fields = check_fields({"name": "w", "code": "export default async () => 1;",
                           "events": events, "roomId": room}, creating=True)
    return store.create(account, fields, compile_code(engine, fields["code"]))


def test_workflows_match_by_type_room_and_enabled(db: Any, engine: Engine) -> None:
    store = WorkflowStore(db)
    anywhere = _workflow(store, engine, "a", ["participant.joined"])
    in_r1 = _workflow(store, engine, "a", ["participant.joined", "user.created"], "r1")
    off = _workflow(store, engine, "a", ["participant.joined"])
    store.update(off, {"enabled": False}, None)
    _workflow(store, engine, "b", ["participant.joined"])
    assert [w.id for w in store.matching("a", "participant.joined", "r1")] == [anywhere.id,
                                                                              in_r1.id]
    assert [w.id for w in store.matching("a", "participant.joined", None)] == [anywhere.id]
    assert [w.id for w in store.matching("a", "user.created", "r2")] == []
    assert store.get("b", anywhere.id) is None and not store.delete("b", anywhere.id)
    page, more = store.page("a", None, 2)
    assert [w.id for w in page] == [anywhere.id, in_r1.id] and more
    rest, more = store.page("a", (page[-1].created_at, page[-1].id), 2)
    assert [w.id for w in rest] == [off.id] and not more


def _accept(db: Any, engine: Engine, key: str | None = None,
            body: str = "req") -> tuple[Any, Any]:
    workflows = WorkflowStore(db)
    wf = _workflow(workflows, engine, "a", ["user.created"])
    event = make_event("a", "user.created", {"userId": "u"})
    return wf, EventLog(db, InstanceStore(db)).accept("a", event, [wf], key, body)


def test_accepting_an_event_queues_its_runs_in_one_transaction(db: Any, engine: Engine) -> None:
    wf, accepted = _accept(db, engine)
    (run_id, account), = accepted.queued
    assert account == "a" and accepted.answer["runs"][0]["id"] == run_id
    assert RunStore(db).queued(10) == [(run_id, "a")]
    run = RunStore(db).get("a", run_id)
    assert run is not None and run.status == "queued" and run.workflow_id == wf.id
    assert RunStore(db).get("b", run_id) is None


def test_idempotency_keys_repeat_the_answer_or_conflict(db: Any, engine: Engine) -> None:
    _wf, first = _accept(db, engine, key="k1", body="same")
    log = EventLog(db, InstanceStore(db))
    again = log.previous("a", "k1", "same")
    assert again is not None and again.answer == first.answer and again.queued == []
    with pytest.raises(Conflict):
        log.previous("a", "k1", "different")
    assert log.previous("b", "k1", "same") is None
    # a racing second insert with the same key returns the first answer
    event = make_event("a", "user.created", {"userId": "u"})
    raced = log.accept("a", event, [], "k1", "same")
    assert raced.repeated and raced.answer == first.answer
    assert len(RunStore(db).queued(10)) == 1


def test_a_run_is_claimed_once_and_finished_once(db: Any, engine: Engine) -> None:
    _wf, accepted = _accept(db, engine)
    run_id = accepted.queued[0][0]
    runs = RunStore(db)
    claim = runs.claim(run_id, "w1", lease=60)
    assert claim is not None and claim.attempt == 1 and claim.event["type"] == "user.created"
    assert runs.claim(run_id, "w2", lease=60) is None
    assert not runs.finish(run_id, "w2", "complete", 1, None, [])  # not its lease
    assert runs.finish(run_id, "w1", "complete", {"v": 1}, None,
                       [{"level": "log", "message": "m", "time": time.time()}])
    assert not runs.finish(run_id, "w1", "errored", None, {"message": "late"}, [])
    run = runs.get("a", run_id)
    assert run is not None and run.status == "complete" and run.output == {"v": 1}
    assert run.logs is not None and run.logs[0]["message"] == "m"
    assert runs.requeue() == 0  # finished runs are never requeued


def test_leases_are_judged_by_the_database_clock(db: Any, engine: Engine,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose clock runs an hour ahead does not take live work for
    dead, and a renewed lease outlives its first term."""
    _wf, accepted = _accept(db, engine)
    run_id = accepted.queued[0][0]
    runs = RunStore(db)
    assert runs.claim(run_id, "w1", lease=0.5) is not None
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    assert runs.requeue(only_lapsed=True) == 0
    monkeypatch.undo()
    for _ in range(3):  # 0.9 s in all: past the first 0.5 s term, renewed each time
        time.sleep(0.3)
        assert runs.renew("w1", 0.5) == 1
    assert runs.requeue(only_lapsed=True) == 0
    assert runs.renew("w2", 0.5) == 0  # only the holder renews


def test_requeue_after_a_crash_or_a_lapsed_lease(db: Any, engine: Engine) -> None:
    _wf, accepted = _accept(db, engine)
    run_id = accepted.queued[0][0]
    runs = RunStore(db)
    assert runs.claim(run_id, "dead", lease=0.3) is not None
    assert runs.requeue(only_lapsed=True) == 0  # the lease still holds
    assert runs.renew("dead", 0.3) == 1
    time.sleep(0.4)
    assert runs.requeue(only_lapsed=True) == 1  # it lapsed: nobody renewed it
    second = runs.claim(run_id, "alive", lease=60)
    assert second is not None and second.attempt == 2
    assert not runs.finish(run_id, "dead", "complete", 1, None, [])  # the dead worker lost it
    assert runs.finish(run_id, "alive", "complete", 2, None, [])
    run = runs.get("a", run_id)
    assert run is not None and (run.output, run.attempts) == (2, 2)


def test_run_filters(db: Any, engine: Engine) -> None:
    wf, _accepted = _accept(db, engine)
    runs = RunStore(db)
    now = time.time()
    assert len(runs.page("a", RunFilter(workflow_id=wf.id), None, 10)[0]) == 1
    assert runs.page("a", RunFilter(workflow_id="wf_other"), None, 10)[0] == []
    assert runs.page("a", RunFilter(status="complete"), None, 10)[0] == []
    assert len(runs.page("a", RunFilter(since=now - 60, until=now + 60), None, 10)[0]) == 1
    assert runs.page("a", RunFilter(since=now + 60), None, 10)[0] == []
    assert runs.page("b", RunFilter(), None, 10)[0] == []
