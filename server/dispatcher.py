"""The dispatcher: queued work to worker threads, fairly across accounts,
with a bounded backlog.

Work comes from job sources (`Jobs`): runs of event-triggered workflows
(executor.RunJobs) and activations of durable instances (durable/). Each
item is an id whose prefix names its source ("run_…", "ins_…"). The
database is the source of truth; the in-memory FairQueue only orders the
work this node knows about. A sweep puts lapsed leases back in the queue
and picks up queued work the node does not know (accepted by another node,
or before a restart), so nothing accepted is left behind. Sandboxes run on
plain threads: wasm runs without the GIL.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .errors import Overloaded, RateLimited

log = logging.getLogger("flowbox.dispatcher")


class FairQueue:
    """Items per account, popped round-robin across accounts, so one busy
    account delays the others by at most one run each turn."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[str]] = {}
        self._order: deque[str] = deque()
        self._size = 0

    def push(self, account: str, item: str) -> None:
        queue = self._queues.get(account)
        if queue is None:
            queue = self._queues[account] = deque()
            self._order.append(account)
        queue.append(item)
        self._size += 1

    def pop(self) -> tuple[str, str] | None:
        if not self._order:
            return None
        account = self._order.popleft()
        queue = self._queues[account]
        item = queue.popleft()
        if queue:
            self._order.append(account)
        else:
            del self._queues[account]
        self._size -= 1
        return account, item

    def pending(self, account: str) -> int:
        queue = self._queues.get(account)
        return len(queue) if queue else 0

    def __len__(self) -> int:
        return self._size


class Jobs(Protocol):
    """A source of work items whose ids start with `prefix` + "_"."""

    prefix: str

    def recover(self, *, only_lapsed: bool) -> int:
        """Puts work a dead worker held back in the queue: all of it (this
        single node restarted) or that whose lease lapsed, by the database's
        clock."""
        ...

    def renew(self, owner: str) -> None:
        """Extends the leases of the work `owner` is executing now."""
        ...

    def pending(self, limit: int) -> list[tuple[str, str]]:
        """(item, account) of queued work, oldest first."""
        ...

    def execute(self, item: str, owner: str) -> None:
        """Claims and runs one item, if it is still queued."""
        ...


@dataclass(frozen=True)
class DispatchConfig:
    workers: int = 4
    max_queued: int = 10_000  # beyond it: 503
    max_queued_per_account: int = 2_000  # beyond it: 429
    sweep_interval: float = 5.0
    renew_interval: float = 10.0  # well within a lease (the run timeout + 60 s)
    single_node: bool = True  # no other node can hold a lease (SQLite)


class Dispatcher:
    """Worker threads executing queued work."""

    def __init__(self, jobs: Sequence[Jobs], config: DispatchConfig) -> None:
        self.jobs = {source.prefix: source for source in jobs}
        self.config = config
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._queue = FairQueue()
        self._known: set[str] = set()  # in the queue
        self._running: dict[str, str] = {}  # item -> account, executing now
        # Submitted again while executing (a wake-up its own activation set,
        # an event that arrived meanwhile): queued once it ends, at once.
        self._again: set[str] = set()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._poked = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seconds_per_run = 0.01  # moving average, for Retry-After

    def start(self) -> None:
        """Recovers work left by a previous process, then starts the workers."""
        for source in self.jobs.values():
            if requeued := source.recover(only_lapsed=not self.config.single_node):
                log.warning("requeued %d %s items interrupted by a crash", requeued,
                            source.prefix)
        self._pick_up()
        for n in range(self.config.workers):
            thread = threading.Thread(target=self._work, name=f"flowbox-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for target, name in ((self._sweep, "flowbox-sweep"), (self._renew, "flowbox-renew")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Lets running runs finish; queued ones stay queued in the database."""
        self._stopping.set()
        self._poked.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def admit(self, account: str, count: int) -> None:
        """Raises unless `count` more runs of `account` fit in the backlog."""
        with self._cond:
            total, mine = len(self._queue), self._queue.pending(account)
        if total + count > self.config.max_queued:
            raise Overloaded(f"the server's backlog is full ({total} runs queued); retry later",
                             self._drain_time(total + count - self.config.max_queued))
        if mine + count > self.config.max_queued_per_account:
            raise RateLimited(f"this account's backlog is full ({mine} runs queued); "
                              "retry later", self._drain_time(mine + count
                                                              - self.config.max_queued_per_account))

    def submit(self, items: list[tuple[str, str]]) -> None:
        """Queues (item, account) pairs already stored as queued."""
        with self._cond:
            for item, account in items:
                if item in self._running:
                    self._again.add(item)
                elif item not in self._known:
                    self._known.add(item)
                    self._queue.push(account, item)
            self._cond.notify(len(items))

    def backlog(self) -> int:
        with self._cond:
            return len(self._queue)

    def _drain_time(self, runs: int) -> float:
        return min(60.0, runs * self._seconds_per_run / max(1, self.config.workers))

    def _next(self) -> tuple[str, str] | None:
        with self._cond:
            while not self._stopping.is_set():
                popped = self._queue.pop()
                if popped is not None:
                    account, item = popped
                    self._known.discard(item)
                    self._running[item] = account
                    return popped
                self._cond.wait()
        return None

    def _work(self) -> None:
        while (next_item := self._next()) is not None:
            _account, item = next_item
            started = time.monotonic()
            try:
                self._execute(item)
            except Exception:
                # The database failed: the lease lapses and the sweep requeues the run.
                log.exception("%s could not be executed", item)
            finally:
                with self._cond:
                    account = self._running.pop(item)
                    if item in self._again:
                        self._again.discard(item)
                        self._known.add(item)
                        self._queue.push(account, item)
                        self._cond.notify()
                elapsed = time.monotonic() - started
                self._seconds_per_run += (elapsed - self._seconds_per_run) * 0.05

    def _execute(self, item: str) -> None:
        self.jobs[item.split("_", 1)[0]].execute(item, self.owner)

    def poke(self) -> None:
        """Another node queued work: pick it up now, not at the next sweep."""
        self._poked.set()

    def _sweep(self) -> None:
        next_sweep = time.monotonic() + self.config.sweep_interval
        while not self._stopping.is_set():
            poked = self._poked.wait(max(0.0, next_sweep - time.monotonic()))
            self._poked.clear()
            if self._stopping.is_set():
                return
            try:
                due = time.monotonic() >= next_sweep
                if due:  # the safety net: lapsed leases, and work no one announced
                    next_sweep = time.monotonic() + self.config.sweep_interval
                    for source in self.jobs.values():
                        source.recover(only_lapsed=True)
                if poked or due:
                    self._pick_up()
            except Exception:
                log.exception("sweep failed")

    def _renew(self) -> None:
        """Keeps the leases of running work alive, so that a long execution
        is never taken for a dead one."""
        while not self._stopping.wait(self.config.renew_interval):
            with self._cond:
                busy = bool(self._running)
            if not busy:
                continue
            for source in self.jobs.values():
                try:
                    source.renew(self.owner)
                except Exception:  # the database failed: the next beat tries again
                    log.exception("renewing %s leases failed", source.prefix)

    def _pick_up(self) -> None:
        for source in self.jobs.values():
            room = self.config.max_queued - self.backlog()
            if room > 0:
                self.submit(source.pending(room))
