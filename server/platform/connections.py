"""(being written) Storage connections (S3-compatible, R2)."""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Database


@dataclass(frozen=True)
class Connection:
    id: str
    account: str
    name: str
    provider: str
    credentials: dict[str, str]
    created_at: float
    updated_at: float


class ConnectionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, account: str, connection_id: str) -> Connection | None:
        raise NotImplementedError
