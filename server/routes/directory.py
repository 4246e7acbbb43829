"""Rooms and users the `room` binding reads: `PUT`/`GET`/`DELETE`
`/v1/accounts/{accountId}/rooms/{roomId}` and `…/users/{userId}`, and
`GET …/rooms` and `GET …/users` to list them (by id, with a cursor). Events
keep presence and users current as well (bindings.apply_event)."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bindings import Room, User, iso_time
from bindings.room import MAX_ID_CHARS, room_dict, user_dict

from ..envelope import ok
from ..errors import InvalidRequest, NotFound
from ..inputs import decode_cursor, encode_cursor, page_limit, unknown_fields
from ..service import Service
from . import call, json_body

BASE = "/v1/accounts/{accountId}"


def check_id(value: str, field: str) -> str:
    if len(value) > MAX_ID_CHARS:
        raise InvalidRequest(f"{field} is longer than {MAX_ID_CHARS} characters", field)
    return value


def check_record(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A room's or user's writable fields: strings (or null) and a metadata object."""
    unknown_fields(body, fields)
    for name, value in body.items():
        if name == "metadata":
            if not isinstance(value, dict):
                raise InvalidRequest("metadata must be an object", name)
        elif value is not None and not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string or null", name)
    return body


def _room(service: Service, account: str, room_id: str) -> Room:
    room = service.directory.get_room(account, room_id)
    if room is None:
        raise NotFound(f"no room {room_id!r} in this account", "roomId")
    return room


def _user(service: Service, account: str, user_id: str) -> User:
    user = service.directory.get_user(account, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r} in this account", "userId")
    return user


def _room_wire(service: Service, account: str, room: Room) -> dict[str, Any]:
    present = service.directory.presence(account, room.id)
    return {**room_dict(room), "participants": [
        {"userId": p.user_id, "joinedAt": iso_time(p.joined_at)} for p in present]}


async def put_room(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        room_id = check_id(request.path_params["roomId"], "roomId")
        fields = check_record(body, ("name", "metadata"))
        old = service.directory.get_room(account, room_id)
        now = time.time()
        room = Room(id=room_id, name=fields.get("name"), metadata=fields.get("metadata", {}),
                    created_at=old.created_at if old else now, updated_at=now)
        service.directory.put_room(account, room)
        return ok("Room saved", {"room": _room_wire(service, account, room)},
                  200 if old else 201)

    return await call(request, "write", work, rate="write", read=json_body)


async def get_room(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        room = _room(service, account, request.path_params["roomId"])
        return ok("Room", {"room": _room_wire(service, account, room)})

    return await call(request, "read", work)


async def delete_room(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        room = _room(service, account, request.path_params["roomId"])
        service.directory.delete_room(account, room.id)
        return ok("Room deleted", {"room": {"id": room.id}})

    return await call(request, "write", work, rate="write")


async def put_user(request: Request) -> Response:
    def work(service: Service, account: str, body: dict[str, Any]) -> Response:
        user_id = check_id(request.path_params["userId"], "userId")
        fields = check_record(body, ("name", "email", "metadata"))
        old = service.directory.get_user(account, user_id)
        now = time.time()
        user = User(id=user_id, name=fields.get("name"), email=fields.get("email"),
                    metadata=fields.get("metadata", {}),
                    created_at=old.created_at if old else now, updated_at=now)
        service.directory.put_user(account, user)
        return ok("User saved", {"user": user_dict(user)}, 200 if old else 201)

    return await call(request, "write", work, rate="write", read=json_body)


async def get_user(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        user = _user(service, account, request.path_params["userId"])
        return ok("User", {"user": user_dict(user)})

    return await call(request, "read", work)


async def delete_user(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        user = _user(service, account, request.path_params["userId"])
        service.directory.delete_user(account, user.id)
        return ok("User deleted", {"user": {"id": user.id}})

    return await call(request, "write", work, rate="write")


def _page(request: Request) -> tuple[str | None, int]:
    after = decode_cursor(request.query_params.get("cursor"))
    return (after[1] if after else None), page_limit(request.query_params.get("limit"))


def _listed(kind: str, items: list[dict[str, Any]], more: bool) -> Response:
    cursor = encode_cursor((0.0, items[-1]["id"])) if more and items else None
    return ok(kind.capitalize(), {kind: items, "next_cursor": cursor})


async def list_rooms(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        rooms, more = service.directory.rooms(account, *_page(request))
        return _listed("rooms", [room_dict(r) for r in rooms], more)

    return await call(request, "read", work)


async def list_users(request: Request) -> Response:
    def work(service: Service, account: str, _: None) -> Response:
        users, more = service.directory.users(account, *_page(request))
        return _listed("users", [user_dict(u) for u in users], more)

    return await call(request, "read", work)


routes = [
    Route(BASE + "/rooms", list_rooms, methods=["GET"]),
    Route(BASE + "/users", list_users, methods=["GET"]),
    Route(BASE + "/rooms/{roomId}", put_room, methods=["PUT"]),
    Route(BASE + "/rooms/{roomId}", get_room, methods=["GET"]),
    Route(BASE + "/rooms/{roomId}", delete_room, methods=["DELETE"]),
    Route(BASE + "/users/{userId}", put_user, methods=["PUT"]),
    Route(BASE + "/users/{userId}", get_user, methods=["GET"]),
    Route(BASE + "/users/{userId}", delete_user, methods=["DELETE"]),
]
