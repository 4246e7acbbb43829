"""Rooms, users and presence in the database: the bindings' Directory and
DirectoryWriter."""

from __future__ import annotations

import json

from bindings import Presence, Room, User

from .base import Database


class SqlDirectory:
    """Directory and DirectoryWriter over a Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put_room(self, account: str, room: Room) -> None:
        self.db.execute(
            """INSERT INTO rooms (account, id, name, metadata, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (account, id) DO UPDATE SET name = excluded.name,
                 metadata = excluded.metadata, updated_at = excluded.updated_at""",
            (account, room.id, room.name, json.dumps(room.metadata), room.created_at,
             room.updated_at))

    def delete_room(self, account: str, room_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("DELETE FROM presence WHERE account = ? AND room_id = ?"),
                        (account, room_id))
            cur.execute(self.db.sql("DELETE FROM rooms WHERE account = ? AND id = ?"),
                        (account, room_id))

    def get_room(self, account: str, room_id: str) -> Room | None:
        row = self.db.fetchone(
            "SELECT id, name, metadata, created_at, updated_at FROM rooms "
            "WHERE account = ? AND id = ?", (account, room_id))
        if row is None:
            return None
        return Room(id=row[0], name=row[1], metadata=json.loads(row[2]), created_at=row[3],
                    updated_at=row[4])

    def rooms(self, account: str, after: str | None, limit: int) -> tuple[list[Room], bool]:
        """The account's rooms by id, after `after`; True when more follow."""
        rows = self.db.fetchall(
            "SELECT id, name, metadata, created_at, updated_at FROM rooms "
            "WHERE account = ? AND id > ? ORDER BY id LIMIT ?", (account, after or "", limit + 1))
        return [Room(id=r[0], name=r[1], metadata=json.loads(r[2]), created_at=r[3],
                     updated_at=r[4]) for r in rows[:limit]], len(rows) > limit

    def users(self, account: str, after: str | None, limit: int) -> tuple[list[User], bool]:
        """The account's users by id, after `after`; True when more follow."""
        rows = self.db.fetchall(
            "SELECT id, name, email, metadata, created_at, updated_at FROM users "
            "WHERE account = ? AND id > ? ORDER BY id LIMIT ?", (account, after or "", limit + 1))
        return [User(id=r[0], name=r[1], email=r[2], metadata=json.loads(r[3]),
                     created_at=r[4], updated_at=r[5]) for r in rows[:limit]], len(rows) > limit

    def put_user(self, account: str, user: User) -> None:
        self.db.execute(
            """INSERT INTO users (account, id, name, email, metadata, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (account, id) DO UPDATE SET name = excluded.name,
                 email = excluded.email, metadata = excluded.metadata,
                 updated_at = excluded.updated_at""",
            (account, user.id, user.name, user.email, json.dumps(user.metadata),
             user.created_at, user.updated_at))

    def get_user(self, account: str, user_id: str) -> User | None:
        row = self.db.fetchone(
            "SELECT id, name, email, metadata, created_at, updated_at FROM users "
            "WHERE account = ? AND id = ?", (account, user_id))
        if row is None:
            return None
        return User(id=row[0], name=row[1], email=row[2], metadata=json.loads(row[3]),
                    created_at=row[4], updated_at=row[5])

    def delete_user(self, account: str, user_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(self.db.sql("DELETE FROM presence WHERE account = ? AND user_id = ?"),
                        (account, user_id))
            cur.execute(self.db.sql("DELETE FROM users WHERE account = ? AND id = ?"),
                        (account, user_id))

    def join(self, account: str, room_id: str, user_id: str, at: float) -> None:
        # A second join keeps the first time, as presence means "here since".
        self.db.execute(
            """INSERT INTO presence (account, room_id, user_id, joined_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (account, room_id, user_id) DO NOTHING""",
            (account, room_id, user_id, at))

    def leave(self, account: str, room_id: str, user_id: str) -> None:
        self.db.execute(
            "DELETE FROM presence WHERE account = ? AND room_id = ? AND user_id = ?",
            (account, room_id, user_id))

    def presence(self, account: str, room_id: str) -> list[Presence]:
        rows = self.db.fetchall(
            "SELECT user_id, joined_at FROM presence WHERE account = ? AND room_id = ? "
            "ORDER BY joined_at, user_id", (account, room_id))
        return [Presence(user_id=r[0], joined_at=float(r[1])) for r in rows]
