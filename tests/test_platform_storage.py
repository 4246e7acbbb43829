"""The platform API's storage on SQLite and PostgreSQL alike: projects,
workflows, versions, deployments, runs across workflows, env vars,
connections, and keys with a project and an expiry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import Engine
from server.accounts import Accounts
from server.durable.instances import InstanceStore, NewInstance
from server.errors import Conflict
from server.platform.connections import ConnectionStore
from server.platform.deploy import DeploymentStore
from server.platform.envvars import EnvVarStore
from server.platform.projects import ProjectStore
from server.platform.runs import PlatformRuns
from server.platform.versions import VersionStore, compile_version
from server.platform.workflows import EnvVar, PlatformWorkflowStore
from tests.helpers import migrated_database

CODE = "export default async function (event) { return 1; }"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with migrated_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine() as e:
        yield e


def test_a_running_deploy_beats_until_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.platform import deploy

    monkeypatch.setattr(deploy, "HEARTBEAT", 0.02)
    beats: list[float] = []
    with deploy._heartbeat(lambda: beats.append(time.time())):
        time.sleep(0.2)
    after = len(beats)
    time.sleep(0.1)
    assert after >= 3 and len(beats) == after


def test_projects_slugs_and_refused_delete(db: Any) -> None:
    projects, workflows = ProjectStore(db), PlatformWorkflowStore(db)
    default = projects.default("a")
    assert projects.default("a") == default and default.slug == "default"
    other = projects.create("a", "Other", "other", "")
    with pytest.raises(Conflict):
        projects.create("a", "Again", "other", "")
    assert projects.create("b", "Other", "other", "").account == "b"  # slugs are per account
    page, more = projects.page("a", None, None, 1)
    assert [p.id for p in page] == [default.id] and more
    assert [p.id for p in projects.page("a", other.id, None, 10)[0]] == [other.id]
    wf = workflows.create("a", other.id, "w", "", "workflow")
    with pytest.raises(Conflict):
        projects.delete(other)
    workflows.delete(wf)
    projects.delete(other)
    assert projects.get("a", other.id) is None


def test_workflows_versions_deployments_and_runs(db: Any, engine: Engine) -> None:
    project = ProjectStore(db).default("a")
    workflows, versions = PlatformWorkflowStore(db), VersionStore(db)
    deployments, instances = DeploymentStore(db), InstanceStore(db)
    wf = workflows.create("a", project.id, "w", "", "script")
    assert workflows.get("b", wf.id) is None and workflows.get("a", wf.id, "prj_x") is None
    updated = workflows.update(wf, {"env_vars": (EnvVar("K", "secret-value", True),),
                                    "deploy_config": {"route": {"pattern": "x/*"}}})
    assert updated.env_vars == (EnvVar("K", "secret-value", True),)
    assert updated.to_wire()["envVars"][0]["value"] == "********"

    artifact = compile_version(engine, "script", CODE, "javascript")
    first = versions.create("a", wf.id, CODE, "javascript", artifact)
    second = versions.create("a", wf.id, CODE, "javascript", artifact, reverted_from=first.id)
    assert (first.number, second.number) == (1, 2)
    assert versions.latest("a", wf.id) == second
    assert versions.artifact(first) == artifact.to_bytes()
    locked = versions.set_locked(first, True)
    with pytest.raises(Conflict):
        versions.delete(locked, None)
    with pytest.raises(Conflict):
        versions.delete(second, second.id)

    d1 = deployments.start("a", wf.id, first.id, None)
    deployments.fail(d1.id, "DETECTING_BINDINGS", "env.X is missing")
    d2 = deployments.start("a", wf.id, second.id, None)
    with db.transaction() as cur:
        deployments.activate(cur, d2)
    assert deployments.active("a", wf.id).id == d2.id  # type: ignore[union-attr]
    statuses = [d.status for d in deployments.page("a", workflow_id=wf.id, project_id=None,
                                                   after=None, limit=10)[0]]
    assert statuses == ["active", "failed"]
    assert deployments.page("b", workflow_id=None, project_id=None, after=None,
                            limit=10)[0] == []

    instances.create("a", wf.id, second.id, [NewInstance("i1", {}), NewInstance("i2", {})],
                     "api", skip_existing=False)
    runs = PlatformRuns(db)
    listed, more = runs.page("a", workflow_id=None, project_id=project.id, status=None,
                             after=None, limit=1)
    assert len(listed) == 1 and more
    rest, _ = runs.page("a", workflow_id=None, project_id=None, status="queued",
                        after=(listed[0].created_at, listed[0].id), limit=10)
    assert {r.name for r in [*listed, *rest]} == {"i1", "i2"}
    assert runs.get("a", wf.id, "i1") is not None and runs.get("b", wf.id, "i1") is None

    # A deploy whose node went silent is failed; one that gave a sign of
    # life since is kept.
    cut = deployments.start("a", wf.id, second.id, None)
    assert deployments.interrupted(cut.created_at - 1) == 0
    time.sleep(0.01)
    beat = time.time()
    deployments.alive(cut.id)
    assert deployments.interrupted(beat) == 0
    assert deployments.interrupted(time.time() + 1) == 1
    interrupted = deployments.get("a", cut.id)
    assert interrupted is not None and interrupted.status == "failed"
    assert "interrupted" in (interrupted.error or "")
    assert deployments.get("a", d2.id).status == "active"  # type: ignore[union-attr]

    workflows.delete(wf)
    assert versions.all("a", wf.id) == []
    assert deployments.get("a", d2.id) is None


def test_env_vars_and_connections(db: Any) -> None:
    env = EnvVarStore(db)
    env.create("a", "B_VAR", "b", False)
    env.create("a", "A_SECRET", "s3cret", True)
    with pytest.raises(Conflict):
        env.create("a", "B_VAR", "again", False)
    assert [(v.name, v.is_secret) for v in env.all("a")] == [("A_SECRET", True),
                                                            ("B_VAR", False)]
    assert env.all("b") == []
    connections = ConnectionStore(db)
    c = connections.create("a", "c", "s3", {"bucket": "bkt", "accessKeyId": "AKIAEXAMPLE",
                                            "secretAccessKey": "shh-shh"})
    assert connections.get("a", c.id) == c and connections.get("b", c.id) is None
    assert "shh-shh" not in repr(c)


def test_keys_with_project_expiry_and_sessions(db: Any) -> None:
    accounts = Accounts(db, cache_seconds=60)
    accounts.ensure_account("a")
    key, secret = accounts.create_key("a", ("read",), "k", project_id="prj_1",
                                      expires_at=time.time() + 0.3)
    found = accounts.authenticate(secret)
    assert found is not None and found.project_id == "prj_1" and found.kind == "key"
    time.sleep(0.35)
    assert accounts.authenticate(secret) is None  # expired, although cached
    session, token = accounts.create_session("a", 60)
    assert token.startswith("fbs_") and accounts.authenticate(token) == session
    assert [k.id for k in accounts.keys("a")] == [key.id]  # sessions are not keys
