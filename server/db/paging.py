"""Keyset pagination written once: a page of rows ordered by
(created_at, id), after a position, with equality filters that are left
out when their value is None."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Database


def keyset_page(db: Database, select: str, filters: Sequence[tuple[str, Any]],
                after: tuple[float, str] | None, limit: int, *, key: str = "",
                newest_first: bool = False) -> tuple[list[Any], bool]:
    """Rows of `select` (a `SELECT … FROM …` without WHERE) matching every
    `(column, value)` filter whose value is not None, ordered by
    `{key}created_at, {key}id`, after the `after` position; at most `limit`
    rows and whether more follow."""
    clauses = [f"{column} = ?" for column, value in filters if value is not None]
    params: list[Any] = [value for _, value in filters if value is not None]
    op, order = ("<", "DESC") if newest_first else (">", "ASC")
    if after is not None:
        clauses.append(f"({key}created_at {op} ? OR ({key}created_at = ? AND {key}id {op} ?))")
        params += [after[0], after[0], after[1]]
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.fetchall(f"{select}{where} ORDER BY {key}created_at {order}, {key}id {order} "
                       "LIMIT ?", (*params, limit + 1))
    return rows[:limit], len(rows) > limit
