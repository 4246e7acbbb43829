"""One server per data directory: `flowbox serve` on SQLite holds an
exclusive lock on `DATA_DIR/flowbox.lock` while it runs. Two servers on one
SQLite file would each take the other's in-flight work for a crash and run
it again; the second one refuses to start instead, naming the holder."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .db import DatabaseUnusable

LOCK_NAME = "flowbox.lock"


class DataDirInUse(Exception):
    """Another server holds the data directory; the message names its pid."""


class DataDirLock:
    """Held from construction until `release` (or the process's end: the
    kernel drops the lock of a killed process, so a crash leaves none)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DatabaseUnusable(f"cannot use the data directory {data_dir}: "
                                   f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(f"the data directory {data_dir} is in use by another flowbox "
                               f"server (pid {holder}); stop it, or give this one another "
                               "--data-dir (many nodes share PostgreSQL instead)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
