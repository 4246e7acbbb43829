"""Durable instances as a job source of the dispatcher, plus the timers
that wake waiting instances, the cron schedules that start new ones and
the retention job that removes expired ones.

Timers: an in-memory heap of (wake-up time, instance) for what this node
knows is coming (activations that ended waiting, and what the periodic
scan of the database finds due within the next interval). The database
keeps every wake-up time, so timers survive restarts: overdue ones are
found by the scan at start and fire at once.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import cron
from .activator import Activator
from .definitions import Definitions, DurableWorkflow
from .instances import InstanceStore, NewInstance

log = logging.getLogger("flowbox.durable")
Submit = Callable[[list[tuple[str, str]]], None]


class DurableJobs:
    """Activations of durable instances (items "ins_…")."""

    prefix = "ins"

    def __init__(self, activator: Activator, instances: InstanceStore,
                 definitions: Definitions, *, scan_interval: float = 5.0,
                 expire_interval: float = 60.0,
                 housekeeping: Sequence[Callable[[], object]] = ()) -> None:
        self.activator = activator
        # Cheap checks of the node's other work run at every scan (failing
        # deploys whose node went silent).
        self.housekeeping = tuple(housekeeping)
        self.instances = instances
        self.definitions = definitions
        self.scan_interval = scan_interval
        self.expire_interval = expire_interval
        self._timers: list[tuple[float, str, str]] = []
        self._cond = threading.Condition()
        self._submit: Submit | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._workflows: dict[str, tuple[float, DurableWorkflow | None]] = {}

    # -- the dispatcher's Jobs protocol --------------------------------------------

    def recover(self, *, only_lapsed: bool) -> int:
        return self.instances.recover(only_lapsed=only_lapsed)

    def renew(self, owner: str) -> None:
        self.instances.renew(list(self.activator.held.values()), self.activator.lease)

    def pending(self, limit: int) -> list[tuple[str, str]]:
        """Ready now; what is due before the next scan goes on the timers."""
        now = time.time()
        ready = []
        for item, account, when in self.instances.ready(now + self.scan_interval, limit):
            if when <= now:
                ready.append((item, account))
            else:
                self.wake(item, account, when)
        return ready

    def execute(self, item: str, owner: str) -> None:
        workflow_id = self.instances.workflow_of(item)
        if workflow_id is None:
            return
        workflow = self._workflow(workflow_id)
        ended = self.activator.activate(item, workflow, owner)
        if ended.claim is None:
            return
        if not ended.recorded:
            log.warning("instance %s: activation ended after it lost the instance; "
                        "its outcome is dropped", item)
        elif ended.wake_at is not None:
            self.wake(item, ended.claim.instance.account, ended.wake_at)
        if workflow is not None and workflow.settings.concurrency is not None:
            self.submit(self.pending(workflow.settings.concurrency))  # queued behind the limit

    # -- timers --------------------------------------------------------------------

    def start(self, submit: Submit) -> None:
        """Starts the timer thread, submitting due instances through `submit`."""
        self._submit = submit
        self._thread = threading.Thread(target=self._run, name="flowbox-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def wake(self, item: str, account: str, when: float) -> None:
        """Submits `item` at `when` (at once if it is past)."""
        if when <= time.time():
            self.submit([(item, account)])
            return
        with self._cond:
            heapq.heappush(self._timers, (when, item, account))
            self._cond.notify()

    def submit(self, items: list[tuple[str, str]]) -> None:
        if items and self._submit is not None:
            self._submit(items)

    def _run(self) -> None:
        next_scan = next_expire = 0.0
        while not self._stopping.is_set():
            now = time.time()
            if now >= next_scan:
                next_scan = now + self.scan_interval
                self._guarded(self._scan)
            if now >= next_expire:
                next_expire = now + self.expire_interval
                self._guarded(self._expire)
            due: list[tuple[str, str]] = []
            with self._cond:
                while self._timers and self._timers[0][0] <= time.time():
                    _, item, account = heapq.heappop(self._timers)
                    due.append((item, account))
                if not due:
                    until = min(next_scan, self._timers[0][0] if self._timers else next_scan)
                    self._cond.wait(max(0.0, until - time.time()))
            self.submit(due)

    def _expire(self) -> None:
        if self.instances.expire(time.time()):
            self.definitions.prune_versions()

    def _scan(self) -> None:
        self.fire_schedules(time.time())
        self.submit(self.pending(1000))
        for task in self.housekeeping:
            task()

    def _guarded(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # the database failed: try again next time
            log.exception("durable timer work failed")

    # -- cron -------------------------------------------------------------------------

    def fire_schedules(self, now: float) -> int:
        """Starts an instance for each schedule due since it last fired (one
        per schedule, however many firings were missed); returns how many.
        The instance id is derived from the firing time, so nodes racing on
        the same schedule create it once."""
        started = 0
        for workflow in self.definitions.scheduled():
            last = workflow.triggered_on or workflow.modified_at
            due = [t for t in (cron.next_after(cron.parse(e), last)
                               for e in workflow.settings.schedules) if t <= now]
            if not due:
                continue
            when = max(due)
            created = self.instances.create(
                workflow.account, workflow.id, workflow.version_id,
                [NewInstance(f"cron-{int(when)}", {"scheduledTime": when * 1000})], "cron",
                skip_existing=True)
            self.definitions.mark_triggered(workflow.id, now)
            started += len(created)
            self.submit([(i.id, i.account) for i in created])
        return started

    def _workflow(self, workflow_id: str) -> DurableWorkflow | None:
        # Settings change rarely; a second-old view is fine for concurrency.
        cached = self._workflows.get(workflow_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        workflow = self.definitions.workflow_by_id(workflow_id)
        self._workflows[workflow_id] = (time.monotonic() + 1.0, workflow)
        return workflow
