"""Work accepted by one node starts on any idle node within milliseconds.

On PostgreSQL every transaction that queues work (an event's runs, new
instances, an event for a waiting instance, a resume or a retry) sends
`NOTIFY flowbox_work` (Database.announce), delivered when it commits. Each
node listens on a connection of its own and, told, picks up queued work at
once instead of at its next sweep; the sweep stays as the safety net (a
lost notification, a listener reconnecting). SQLite has one node: nothing
to tell.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("flowbox.wakeups")
CHANNEL = "flowbox_work"
RETRY = 1.0  # seconds before listening again after the connection failed


class Listener:
    """A thread that calls `on_work` whenever another node announces work."""

    def __init__(self, dsn: str, on_work: Callable[[], None]) -> None:
        self.dsn = dsn
        self.on_work = on_work
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flowbox-listen", daemon=True)
        self.listening = threading.Event()  # set while LISTEN is in force

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:  # it was started
            self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stopping.is_set():
                        # Notifications that arrive together are one pick-up.
                        if any(True for _ in conn.notifies(timeout=1.0, stop_after=1)):
                            self.on_work()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("listening for work failed (%s); the sweep covers meanwhile",
                            type(exc).__name__)
                self._stopping.wait(RETRY)
