"""A real Flowbox server for the tests: uvicorn on a free loopback port,
in a thread of the test process, with its own data directory."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.accounts import Accounts
from server.app import create_app
from server.config import Config
from server.service import Service

# Rate limits off unless a test sets them; small runs so tests stay quick.
TEST_CONFIG = Config(rate_global=0, rate_write=0, rate_events=0, rate_deploy=0, rate_verify=0,
                     run_timeout=5.0, workers=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    service: Service
    clients: list[httpx.Client] = dataclasses.field(default_factory=list)

    def key(self, account: str, scopes: str = "read,write,deploy") -> str:
        """A new API key (and the account when new)."""
        accounts = Accounts(self.service.db)
        accounts.ensure_account(account)
        return accounts.create_key(account, tuple(scopes.split(",")))[1]

    def session(self, account: str) -> str:
        """The operator's session credential for the account."""
        accounts = Accounts(self.service.db)
        accounts.ensure_account(account)
        return accounts.create_session(account, 3600)[1]

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client with that key, closed with the server."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client


@contextmanager
def live_server(data_dir: Path, **overrides: Any) -> Iterator[Live]:
    config = dataclasses.replace(TEST_CONFIG, data_dir=data_dir, port=free_port(), **overrides)
    service = Service(config)
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1",
                                           port=config.port, log_level="warning",
                                           lifespan="on", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    live = Live(f"http://127.0.0.1:{config.port}", service)
    try:
        yield live
    finally:
        for client in live.clients:
            client.close()
        server.should_exit = True
        thread.join(30)
        service.db.close()


def wait_for_runs(client: httpx.Client, account: str, count: int,
                  timeout: float = 20.0, **params: str) -> list[dict[str, Any]]:
    """Polls until `count` runs (matching `params`) have finished."""
    deadline = time.monotonic() + timeout
    while True:
        runs = client.get(f"/v1/accounts/{account}/runs",
                          params={"limit": "100", **params}).json()["data"]["runs"]
        done = [r for r in runs if r["status"] in ("complete", "errored")]
        if len(done) >= count:
            return done
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(done)} of {count} runs finished: {runs}")
        time.sleep(0.02)
