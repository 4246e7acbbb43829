"""`room`: read-only room and user metadata, and how platform events keep
it current.

Methods (no adapter: the raw host methods are the API):
  get([roomId])       the room with who is present now, or null; defaults
                      to the event's room
  getUser(userId)     a user, or null
  users([roomId])     the users present in the room now, in join order
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgument
from .event import iso_time
from .storage import Directory, DirectoryStore, Room, User

MAX_ID_CHARS = 256


class RoomBinding:
    """The `room` capability of one account; `room_id` is the event's room."""

    methods = ("get", "getUser", "users")
    adapter = None

    def __init__(self, directory: Directory, account: str, room_id: str | None) -> None:
        self.directory = directory
        self.account = account
        self.room_id = room_id

    def call(self, method: str, args: list[Any]) -> Any:
        if method == "getUser":
            user = self.directory.get_user(self.account, _id("userId", args[0] if args else None))
            return user_dict(user) if user else None
        room_id = self._room(method, args)
        if room_id is None:
            return None if method == "get" else []
        if method == "get":
            room = self.directory.get_room(self.account, room_id)
            if room is None:
                return None
            present = self.directory.presence(self.account, room_id)
            return {**room_dict(room), "participants": [p.user_id for p in present]}
        users = []
        for p in self.directory.presence(self.account, room_id):
            user = self.directory.get_user(self.account, p.user_id)
            if user is not None:
                users.append({**user_dict(user), "joinedAt": _iso(p.joined_at)})
        return users

    def _room(self, method: str, args: list[Any]) -> str | None:
        if not args or args[0] is None:
            return self.room_id
        return _id("roomId", args[0])


def _id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"room: {what} must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise InvalidArgument(f"room: {what} is longer than {MAX_ID_CHARS} characters")
    return value


def room_dict(room: Room) -> dict[str, Any]:
    return {"id": room.id, "name": room.name, "metadata": room.metadata,
            "createdAt": _iso(room.created_at), "updatedAt": _iso(room.updated_at)}


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "metadata": user.metadata,
            "createdAt": _iso(user.created_at), "updatedAt": _iso(user.updated_at)}


def _iso(t: float) -> str | None:
    return iso_time(t) if t else None


def apply_event(directory: DirectoryStore, account: str, event: dict[str, Any]) -> None:
    """Updates presence and users from one platform event (see event.py):
    participant.joined / participant.left move a user in or out of a room;
    user.created / user.updated / user.deleted keep the user record."""
    kind, data = event.get("type"), event.get("data") or {}
    user_id, room_id = data.get("userId"), data.get("roomId")
    at = float(event.get("time") or 0.0)
    if kind in ("participant.joined", "participant.left"):
        if not (isinstance(user_id, str) and isinstance(room_id, str)):
            return
        if kind == "participant.joined":
            directory.join(account, room_id, user_id, at)
        else:
            directory.leave(account, room_id, user_id)
    elif kind in ("user.created", "user.updated") and isinstance(user_id, str):
        old = directory.get_user(account, user_id) or User(id=user_id, created_at=at)
        name, email, metadata = data.get("name"), data.get("email"), data.get("metadata")
        directory.put_user(account, User(
            id=user_id,
            name=name if isinstance(name, str) else old.name,
            email=email if isinstance(email, str) else old.email,
            metadata=metadata if isinstance(metadata, dict) else old.metadata,
            created_at=old.created_at, updated_at=at))
    elif kind == "user.deleted" and isinstance(user_id, str):
        directory.delete_user(account, user_id)
