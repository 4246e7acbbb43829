"""Projects: named groups of workflows within an account. A project is
deleted only when it holds no workflows (move or delete them first), so
deleting one never takes workflows and their runs with it."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from bindings import iso_time

from ..db import Database
from ..db.paging import keyset_page
from ..errors import Conflict, InvalidRequest, NotFound
from ..inputs import unknown_fields

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_NAME = 200
MAX_DESCRIPTION = 2000
DEFAULT_SLUG = "default"
_COLUMNS = "id, account, name, slug, description, created_at, updated_at"


@dataclass(frozen=True)
class Project:
    id: str
    account: str
    name: str
    slug: str
    description: str
    created_at: float
    updated_at: float

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "slug": self.slug,
                "description": self.description, "createdAt": iso_time(self.created_at),
                "updatedAt": iso_time(self.updated_at)}


# -- validation (pure) ------------------------------------------------------------


def text(body: dict[str, Any], field: str, limit: int, *, required: bool = False,
         empty: bool = True) -> str | None:
    """A string member of `body`, at most `limit` characters; None when absent."""
    if field not in body:
        if required:
            raise InvalidRequest(f"{field} is required", field)
        return None
    value = body[field]
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise InvalidRequest(f"{field} must be a{' non-empty' if not empty else ''} string",
                             field)
    if len(value) > limit:
        raise InvalidRequest(f"{field} is longer than {limit} characters", field)
    return value


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "project"


def creation(body: dict[str, Any]) -> tuple[str, str, str]:
    """(name, slug, description) of `POST /projects`."""
    unknown_fields(body, ("name", "slug", "description"))
    name = text(body, "name", MAX_NAME, required=True, empty=False)
    assert name is not None
    slug = text(body, "slug", 63)
    if slug is None:
        slug = slugify(name)
    elif not SLUG.match(slug):
        raise InvalidRequest("slug must be 1 to 63 lowercase letters, digits or '-', starting "
                             "with a letter or digit", "slug")
    return name, slug, text(body, "description", MAX_DESCRIPTION) or ""


def changes(body: dict[str, Any]) -> dict[str, str]:
    """The fields of `PATCH /projects/:id`."""
    unknown_fields(body, ("name", "description"))
    if not body:
        raise InvalidRequest("nothing to update; give name or description")
    out = {}
    for field, limit, empty in (("name", MAX_NAME, False), ("description", MAX_DESCRIPTION, True)):
        value = text(body, field, limit, empty=empty)
        if value is not None:
            out[field] = value
    return out


# -- storage ------------------------------------------------------------------------


class ProjectStore:
    """Projects of every account, always read within one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, account: str, name: str, slug: str, description: str) -> Project:
        now = time.time()
        project = Project(f"prj_{secrets.token_hex(8)}", account, name, slug, description,
                          now, now)
        try:
            self.db.execute(f"INSERT INTO projects ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (project.id, account, name, slug, description, now, now))
        except self.db.integrity_errors:
            raise Conflict(f"a project with slug {slug!r} already exists", "slug") from None
        return project

    def default(self, account: str) -> Project:
        """The account's `default` project, made on first use: where a
        workflow created without a project goes."""
        found = self.by_slug(account, DEFAULT_SLUG)
        if found is not None:
            return found
        try:
            return self.create(account, "Default", DEFAULT_SLUG, "")
        except Conflict:  # made meanwhile by a concurrent request
            found = self.by_slug(account, DEFAULT_SLUG)
            assert found is not None
            return found

    def by_slug(self, account: str, slug: str) -> Project | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM projects WHERE account = ? AND slug = ?",
                               (account, slug))
        return Project(*row) if row else None

    def get(self, account: str, project_id: str) -> Project | None:
        row = self.db.fetchone(f"SELECT {_COLUMNS} FROM projects WHERE account = ? AND id = ?",
                               (account, project_id))
        return Project(*row) if row else None

    def page(self, account: str, only: str | None, after: tuple[float, str] | None,
             limit: int) -> tuple[list[Project], bool]:
        """Oldest first; `only` keeps one project (a project-scoped key)."""
        rows, more = keyset_page(self.db, f"SELECT {_COLUMNS} FROM projects",
                                 [("account", account), ("id", only)], after, limit)
        return [Project(*r) for r in rows], more

    def update(self, project: Project, fields: dict[str, str]) -> Project:
        now = time.time()
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE projects SET {sets}, updated_at = ? WHERE account = ? AND id = ?",
                        (*fields.values(), now, project.account, project.id))
        found = self.get(project.account, project.id)
        if found is None:  # deleted meanwhile by a concurrent request
            raise NotFound(f"no project {project.id!r}", "id")
        return found

    def delete(self, project: Project) -> None:
        """Deletes an empty project; Conflict while it holds workflows."""
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("SELECT COUNT(*) FROM platform_workflows "
                                    "WHERE account = ? AND project_id = ?"),
                        (project.account, project.id))
            held = int(cur.fetchone()[0])
            if held:
                raise Conflict(f"project {project.id!r} holds {held} workflow(s); move "
                               "(PATCH /workflows/:id/move) or delete them first", "id")
            cur.execute(self.db.sql("DELETE FROM projects WHERE account = ? AND id = ?"),
                        (project.account, project.id))
