"""Everything one Flowbox node holds, built from a Config in one place:
the database, the stores, the engine, the dispatcher and the limiters.
Routes reach it as `request.app.state.service`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import bindings
from sandbox import Engine, Limits

from .accounts import Accounts
from .config import Config
from .datalock import DataDirLock
from .db import Database, SqlDirectory, SQLiteDatabase, SqlKV, open_database
from .dispatcher import DispatchConfig, Dispatcher
from .durable.activator import Activator
from .durable.definitions import Definitions
from .durable.instances import InstanceStore
from .durable.scheduler import DurableJobs
from .events import EventLog
from .executor import Executor, RunJobs
from .platform import connections, deploy
from .platform.connections import Connection, ConnectionStore
from .platform.deploy import Deployer, DeploymentStore
from .platform.envvars import EnvVarStore
from .platform.objects import ConnectionObjects
from .platform.projects import ProjectStore
from .platform.runs import PlatformRuns
from .platform.versions import VersionStore
from .platform.workflows import PlatformWorkflowStore
from .ratelimit import Limiter
from .runs import RunStore
from .wakeups import Listener
from .workflows import WorkflowStore


def signing_key(db: Database) -> bytes:
    """The key that signs compiled artifacts, made once and shared by every
    node of the installation, so stored artifacts stay loadable."""
    db.execute("INSERT INTO settings (name, value) VALUES ('signing_key', ?) "
               "ON CONFLICT (name) DO NOTHING", (os.urandom(32),))
    return bytes(db.fetchone("SELECT value FROM settings WHERE name = 'signing_key'")[0])


def connection_problem(egress: bindings.Egress) -> Callable[[Connection], str | None]:
    """Checks a connection's credentials (under the egress policy): None
    when they work, else what is wrong."""
    def problem(connection: Connection) -> str | None:
        answer = connections.verify(connection.provider, connection.credentials, egress)
        return None if answer.get("valid") else str(answer.get("error", "invalid credentials"))

    return problem




@dataclass
class Limiters:
    ip: Limiter
    write: Limiter
    events: Limiter
    deploy: Limiter
    verify: Limiter


class Service:
    """One node: open with `Service(config)`, then `start()`; `close()`."""

    def __init__(self, config: Config) -> None:
        """Raises DataDirInUse when another server holds the SQLite data
        directory, DatabaseUnusable when the database cannot be opened."""
        self.config = config
        self.lock = None if config.database_url else DataDirLock(config.data_dir)
        try:
            self.db = open_database(config.data_dir, config.database_url, config.db_pool_size)
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        self.engine = Engine(signing_key=signing_key(self.db), adapters=bindings.ADAPTERS)
        self.accounts = Accounts(self.db)
        self.workflows = WorkflowStore(self.db)
        self.runs = RunStore(self.db)
        self.kv = SqlKV(self.db)
        self.directory = SqlDirectory(self.db)
        s3 = config.s3()
        self.objects: bindings.ObjectStore = (
            bindings.S3ObjectStore(s3) if s3 is not None
            else bindings.LocalObjectStore(config.data_dir / "files"))
        self.limits = Limits(timeout=config.run_timeout,
                             memory=config.run_memory_mb * 1024 * 1024)
        self.files_limits = bindings.FilesLimits(max_object_bytes=config.max_file_bytes)
        self.sources = sources = bindings.Sources(kv=self.kv, directory=self.directory,
                                                  objects=self.objects)
        lease = config.run_timeout + 60.0
        self.fetch = bindings.FetchPolicy(config.egress_policy(),
                                          bindings.FetchLimits(subrequests=config.subrequests))
        executor = Executor(self.engine, self.workflows, sources, self.limits, self.files_limits,
                            self.fetch)
        self.definitions = Definitions(self.db)
        self.instances = InstanceStore(self.db)
        self.events = EventLog(self.db, self.instances)
        self.connections = ConnectionStore(self.db)
        self.durable = DurableJobs(
            Activator(self.engine, self.definitions, self.instances, sources, self.limits,
                      lease=lease, files_limits=self.files_limits,
                      objects_for=ConnectionObjects(self.connections,
                                                    self.fetch.egress).for_script,
                      fetch=self.fetch, keepalive=config.step_keepalive),
            self.instances, self.definitions, scan_interval=config.sweep_interval,
            housekeeping=[lambda: self.deployments.interrupted(time.time() - deploy.SILENCE)])
        self.dispatcher = Dispatcher([RunJobs(self.runs, executor, lease), self.durable],
                                     DispatchConfig(
            workers=config.workers, max_queued=config.max_queued,
            max_queued_per_account=config.max_queued_per_account,
            sweep_interval=config.sweep_interval,
            single_node=isinstance(self.db, SQLiteDatabase)))
        # Other nodes announce the work they queue (PostgreSQL only).
        self.listener = (Listener(config.database_url, self.dispatcher.poke)
                         if config.database_url else None)
        self.projects = ProjectStore(self.db)
        self.env_vars = EnvVarStore(self.db)
        self.platform_workflows = PlatformWorkflowStore(self.db)
        self.versions = VersionStore(self.db)
        self.deployments = DeploymentStore(self.db)
        self.platform_runs = PlatformRuns(self.db)
        self.deployer = Deployer(self.db, self.engine, self.definitions,
                                 self.platform_workflows, self.versions, self.deployments,
                                 self.env_vars.all, connection_problem(self.fetch.egress))
        self.limiters = Limiters(ip=Limiter(config.rate_global), write=Limiter(config.rate_write),
                                 events=Limiter(config.rate_events),
                                 deploy=Limiter(config.rate_deploy),
                                 verify=Limiter(config.rate_verify))

    def start(self) -> None:
        # A deploy still in progress now was cut off by a stop: this node's
        # own, when it is the only one; with several, one whose node has
        # been silent too long (also checked at every scan, see housekeeping).
        single = isinstance(self.db, SQLiteDatabase)
        self.deployments.interrupted(time.time() - (0 if single else deploy.SILENCE))
        self.dispatcher.start()
        self.durable.start(self.dispatcher.submit)
        if self.listener is not None:
            self.listener.start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.durable.stop()
        self.dispatcher.stop()
        self.engine.close()
        if self.lock is not None:
            self.lock.release()
