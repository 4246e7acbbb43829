"""One suite for durable instance storage on SQLite and on PostgreSQL: the
claim under a lease, the fenced journal, events taken oldest first, status
actions, recovery after a crash, and what is due."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bindings.journal import StepRecord
from bindings.step import Activation
from sandbox import Artifact
from server.durable.definitions import Definitions, ScriptEnv, Settings
from server.durable.instances import InstanceStore, NewInstance
from server.durable.journal import LeaseLost, SqlJournal
from server.errors import Conflict, InvalidTransition
from tests.helpers import migrated_database


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InstanceStore]:
    with migrated_database(request.param, tmp_path) as database:
        yield InstanceStore(database)


def _new(store: InstanceStore, *names: str) -> list[Any]:
    return store.create("a", "wf", "v1", [NewInstance(n, {"n": n}) for n in names], "api",
                        skip_existing=False)


def test_create_conflicts_or_skips_existing_ids(store: InstanceStore) -> None:
    _new(store, "one")
    with pytest.raises(Conflict):
        _new(store, "one")
    made = store.create("a", "wf", "v1", [NewInstance("one", None), NewInstance("two", None)],
                        "api", skip_existing=True)
    assert [i.name for i in made] == ["two"]
    assert store.get("wf", "one").params == {"n": "one"}  # type: ignore[union-attr]


def test_claim_once_and_journal_fenced_by_owner(store: InstanceStore) -> None:
    [inst] = _new(store, "i")
    claim = store.claim(inst.id, "node", 60, None)
    assert claim is not None and store.claim(inst.id, "node", 60, None) is None
    journal = SqlJournal(store.db, inst.id, claim.owner)
    record = StepRecord(key="do:a#1", kind="do", name="a", seq=1, status="complete",
                        output="1")
    journal.save(record)
    assert journal.load() == {"do:a#1": record}
    assert store.act(inst, "terminate") == "terminated"
    with pytest.raises(LeaseLost):
        journal.save(record)
    assert not store.finish(claim, Activation("complete", output=1))
    assert store.get("wf", "i").status == "terminated"  # type: ignore[union-attr]


def test_events_are_taken_oldest_first_of_their_type(store: InstanceStore) -> None:
    [inst] = _new(store, "i")
    for event_type, payload in (("t", 1), ("u", 2), ("t", 3)):
        store.send_event(inst, event_type, payload)
    claim = store.claim(inst.id, "node", 60, None)
    assert claim is not None
    journal = SqlJournal(store.db, inst.id, claim.owner)
    wait = StepRecord(key="wait:w#1", kind="wait", name="w", seq=1, event_type="t",
                      wake_at=time.time() + 60)
    first = journal.take_event(wait, "t")
    second = journal.take_event(wait, "t")
    assert first is not None and '"payload":1' in (first.output or "")
    assert second is not None and '"payload":3' in (second.output or "")
    assert journal.take_event(wait, "t") is None


def test_an_event_sent_during_the_activation_makes_its_suspension_due(
        store: InstanceStore) -> None:
    [inst] = _new(store, "i")
    claim = store.claim(inst.id, "node", 60, None)
    assert claim is not None
    sent = store.send_event(inst, "go", {})
    finished = store.finish(claim, Activation("waiting", wake_at=time.time() + 3600))
    assert finished is not None and finished.wake_at == sent
    assert [r[0] for r in store.ready(time.time(), 10)] == [inst.id]
    # The next activation starts without the mark: it suspends until its own wake-up.
    claim = store.claim(inst.id, "node", 60, None)
    assert claim is not None
    later = time.time() + 3600
    finished = store.finish(claim, Activation("waiting", wake_at=later))
    assert finished is not None and finished.wake_at == later
    assert store.ready(time.time(), 10) == []


def test_finish_waiting_then_due_then_pause_during_activation(store: InstanceStore) -> None:
    [inst] = _new(store, "i")
    claim = store.claim(inst.id, "node", 60, None)
    assert claim is not None
    assert store.finish(claim, Activation("waiting", wake_at=time.time() + 0.2))
    assert store.ready(time.time(), 10) == []
    assert [r[0] for r in store.ready(time.time() + 1, 10)] == [inst.id]
    time.sleep(0.25)
    claim = store.claim(inst.id, "node", 60, None)
    assert claim is not None
    assert store.act(inst, "pause") == "waitingForPause"
    assert store.finish(claim, Activation("waiting", wake_at=time.time()))
    assert store.get("wf", "i").status == "paused"  # type: ignore[union-attr]
    assert store.claim(inst.id, "node", 60, None) is None
    assert store.act(inst, "resume") == "queued"
    with pytest.raises(InvalidTransition):
        store.act(inst, "resume")


def test_recover_requeues_interrupted_and_concurrency_limits_claims(
        store: InstanceStore) -> None:
    a, b = _new(store, "a", "b")
    held = store.claim(a.id, "node", 0.3, 1)
    assert held is not None
    assert store.claim(b.id, "node", 60, 1) is None  # one already running
    assert store.recover(only_lapsed=True) == 0  # the lease holds (the database's clock)
    assert store.renew([held.owner], 0.3) == 1 and store.renew(["someone:else"], 0.3) == 0
    time.sleep(0.4)
    assert store.recover(only_lapsed=True) == 1  # not renewed again: it lapsed
    assert store.get("wf", "a").status == "queued"  # type: ignore[union-attr]
    assert store.claim(b.id, "node", 60, 1) is not None
    assert store.recover() == 1  # a single node restarting takes back all


@pytest.fixture(params=["sqlite", "postgres"])
def definitions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Definitions]:
    with migrated_database(request.param, tmp_path) as database:
        yield Definitions(database)


def _script(definitions: Definitions, code: str) -> None:
    artifact = Artifact(b"bytecode " + code.encode(), "workflow", "W", "w.js", "build", b"s" * 32)
    definitions.put_script("a", "s", "w.js", code, artifact, ScriptEnv(vars={"V": code}),
                           {"lib.js": f"export const v = {code!r};"})


def test_scheduled_lists_only_workflows_with_cron_schedules(definitions: Definitions) -> None:
    _script(definitions, "one")
    definitions.put_workflow("a", "cron", "s", "W", Settings(schedules=("*/5 * * * *",)))
    definitions.put_workflow("a", "plain", "s", "W", Settings())
    assert [w.name for w in definitions.scheduled()] == ["cron"]


def test_a_version_keeps_the_script_as_it_was(definitions: Definitions) -> None:
    _script(definitions, "one")
    first = definitions.put_workflow("a", "wf", "s", "W", Settings())
    instances = InstanceStore(definitions.db)
    [held] = instances.create("a", first.id, first.version_id, [NewInstance("i", {})], "api",
                              skip_existing=False)
    _script(definitions, "two")
    second = definitions.workflow("a", "wf")
    assert second is not None and second.version_id != first.version_id
    old, new = definitions.version(first.version_id), definitions.version(second.version_id)
    assert old is not None and new is not None
    assert (old.script.code, old.script.env.vars, old.script.modules) == (
        "one", {"V": "one"}, {"lib.js": "export const v = 'one';"})
    assert (new.script.code, new.class_name, new.workflow_id) == ("two", "W", first.id)
    assert definitions.prune_versions() == 0  # an instance runs the first, the workflow the second
    instances.delete([held.id])
    assert definitions.prune_versions() == 1
    assert definitions.version(first.version_id) is None
    definitions.delete_workflow("a", "wf")
    assert definitions.version(second.version_id) is None


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_concurrent_deploys_and_creations_never_fail(kind: str, tmp_path: Path) -> None:
    """Eight writers deploy the same script and workflow and create the
    same instance ids at once (as nodes sharing a database do): every
    deploy lands, each id is created exactly once, nothing raises."""
    import threading

    with migrated_database(kind, tmp_path) as database:
        definitions = Definitions(database)
        _script(definitions, "seed")
        start = threading.Barrier(8)
        errors: list[BaseException] = []
        created: list[str] = []

        def writer(n: int) -> None:
            try:
                start.wait(timeout=10)
                for i in range(10):
                    _script(definitions, f"w{n}-{i}")
                    wf = definitions.put_workflow("a", "wf", "s", "W", Settings())
                    made = InstanceStore(database).create(
                        "a", wf.id, wf.version_id, [NewInstance(f"i{i}", {})], "api",
                        skip_existing=True)
                    created.extend(m.name for m in made)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                database.release()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert sorted(created) == sorted(f"i{i}" for i in range(10))
        wf = definitions.workflow("a", "wf")
        assert wf is not None and definitions.version(wf.version_id) is not None


def test_a_concurrency_limit_holds_when_nodes_claim_at_once(store: InstanceStore) -> None:
    import threading

    store.db.execute("INSERT INTO durable_workflows (id, account, name, script_name, class_name, "
                     "version_id, settings, created_at, modified_at) VALUES "
                     "('wf', 'a', 'wf', 's', 'W', 'v1', ?, 0, 0)", (Settings().to_json(),))
    made = _new(store, *(f"c{i}" for i in range(6)))
    start = threading.Barrier(len(made))
    claims: list[Any] = []

    def node(instance_id: str) -> None:
        start.wait(timeout=10)
        claims.append(store.claim(instance_id, "node", 60, 1))
        store.db.release()

    threads = [threading.Thread(target=node, args=(m.id,)) for m in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len([c for c in claims if c is not None]) == 1
