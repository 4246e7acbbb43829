"""A node on PostgreSQL whose database goes away and comes back: while it
is gone /health says 503 and requests get a 503 to retry (never a 500);
when it is back, the node reconnects by itself, sleepers wake, and new work
runs. The database is reached through a TCP proxy on loopback that the
test cuts and restores, and its connections are also killed from the
server side (pg_terminate_backend)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import psycopg
import pytest
from helpers import PG
from live import Live, free_port, live_server

ACCOUNT = "faults"
SLEEPER = """\
import { WorkflowEntrypoint, WorkflowStep, WorkflowEvent } from "cloudflare:workers";

export class Sleeper extends WorkflowEntrypoint {
  async run(event: WorkflowEvent<{ s: number }>, step: WorkflowStep) {
    const before = await step.do("before", async () => "before");
    await step.sleep("nap", `${event.payload.s} seconds`);
    return { before, after: await step.do("after", async () => "after") };
  }
}
"""


class Proxy:
    """TCP on a loopback port, forwarded to PostgreSQL; `cut` drops every
    connection and refuses new ones until `restore`."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone would not.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def node(tmp_path: Path, schema: str) -> Iterator[tuple[Live, Proxy, cloudflare.Cloudflare]]:
    proxy = Proxy()
    url = (f"host=127.0.0.1 port={proxy.port} dbname=test user=postgres "
           f"application_name=flowbox-{schema} options=-csearch_path={schema}")
    # Sleeps suspend the instance (no keepalive), so that waking them needs the database.
    with live_server(tmp_path, database_url=url, step_keepalive=0.0) as live:
        cf = cloudflare.Cloudflare(api_token=live.key(ACCOUNT),
                                   base_url=live.url + "/client/v4", max_retries=0)
        cf.workers.scripts.update("sleeper", account_id=ACCOUNT,
                                  metadata={"main_module": "index.ts"},
                                  files=[("index.ts", SLEEPER.encode(),
                                          "application/javascript+module")])
        cf.workflows.update("sleeper", account_id=ACCOUNT, class_name="Sleeper",
                            script_name="sleeper")
        yield live, proxy, cf
        cf.close()


def until(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = check()
        except (httpx.HTTPError, cloudflare.APIError):
            got = None
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def status(cf: cloudflare.Cloudflare, instance: str) -> str:
    return str(cf.workflows.instances.get(instance, account_id=ACCOUNT,
                                          workflow_name="sleeper").status)


def test_a_lost_database_is_a_503_and_the_node_recovers_by_itself(
        node: tuple[Live, Proxy, cloudflare.Cloudflare]) -> None:
    live, proxy, cf = node
    http, api = live.client(), live.client(live.key(ACCOUNT))
    assert http.get("/health").json() == {"status": "ok", "database": "ok", "backlog": 0}
    cf.workflows.instances.create("sleeper", account_id=ACCOUNT, instance_id="s1",
                                  params={"s": 3})
    until("s1 to sleep", lambda: status(cf, "s1") == "waiting")

    proxy.cut()
    health = until("a 503 from /health", lambda: (r := http.get("/health")).status_code == 503
                   and r)
    assert health.json() == {"status": "unavailable", "database": "unreachable"}
    assert health.headers["retry-after"] == "5"
    r = api.get(f"/client/v4/accounts/{ACCOUNT}/workflows/sleeper")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert "database is unavailable" in r.json()["errors"][0]["message"]

    proxy.restore()
    until("/health to recover", lambda: http.get("/health").status_code == 200)
    until("the sleeper to finish", lambda: status(cf, "s1") == "complete", timeout=30)
    cf.workflows.instances.create("sleeper", account_id=ACCOUNT, instance_id="s2",
                                  params={"s": 0})
    until("new work to run", lambda: status(cf, "s2") == "complete")


def test_backends_killed_by_the_server_are_replaced(
        node: tuple[Live, Proxy, cloudflare.Cloudflare], schema: str) -> None:
    live, _, cf = node
    cf.workflows.instances.create("sleeper", account_id=ACCOUNT, instance_id="k1",
                                  params={"s": 2})
    until("k1 to sleep", lambda: status(cf, "k1") == "waiting")
    with psycopg.connect(PG, autocommit=True) as admin:
        killed = admin.execute("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = %s", (f"flowbox-{schema}",)).fetchone()
    assert killed is not None and killed[0] >= 1
    # The very next requests are answered, not 500s: dead connections are
    # replaced as they are lent.
    http = live.client(live.key(ACCOUNT))
    for _ in range(5):
        r = http.get(f"/client/v4/accounts/{ACCOUNT}/workflows/sleeper/instances/k1")
        assert r.status_code == 200, r.text
    assert live.client().get("/health").status_code == 200
    until("the sleeper to finish", lambda: status(cf, "k1") == "complete")
    cf.workflows.instances.create("sleeper", account_id=ACCOUNT, instance_id="k2",
                                  params={"s": 0})
    until("new work to run", lambda: status(cf, "k2") == "complete")

