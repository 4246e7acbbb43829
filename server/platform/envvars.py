"""(being written) Account-level env vars and secrets."""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Database


@dataclass(frozen=True)
class EnvVar:
    id: str
    account: str
    name: str
    value: str
    is_secret: bool
    created_at: float
    updated_at: float


class EnvVarStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self, account: str) -> list[EnvVar]:
        """Every env var of the account, by name."""
        raise NotImplementedError
