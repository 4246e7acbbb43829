"""`room`: rooms, users and presence, kept current by platform events."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import run_with
from test_store import NoFiles

import bindings
from bindings import MemoryDirectory, MemoryKV, Room, Sources, apply_event, make_event
from sandbox import Engine


@pytest.fixture
def directory() -> MemoryDirectory:
    d = MemoryDirectory()
    d.put_room("acme", Room("r1", "Lobby", {"floor": 2}, created_at=1.0, updated_at=2.0))
    d.put_room("acme", Room("r2", "Back office"))
    for i, (kind, data) in enumerate([
        ("user.created", {"userId": "ann", "name": "Ann", "email": "ann@example.com"}),
        ("user.created", {"userId": "bob", "name": "Bob", "metadata": {"role": "admin"}}),
        ("user.created", {"userId": "cy", "name": "Cy"}),
        ("participant.joined", {"userId": "bob", "roomId": "r1"}),
        ("participant.joined", {"userId": "ann", "roomId": "r1"}),
        ("participant.joined", {"userId": "cy", "roomId": "r1"}),
        ("participant.left", {"userId": "cy", "roomId": "r1"}),
        ("user.updated", {"userId": "ann", "name": "Ann B."}),
        ("participant.joined", {"userId": "ann", "roomId": "r2"}),
    ]):
        apply_event(d, "acme", make_event("acme", kind, data, at=1000.0 + i))
    return d


def js(engine: Engine, directory: MemoryDirectory, body: str, room: str | None = "r1") -> Any:
    data = {"userId": "ann", **({"roomId": room} if room else {})}
    event = make_event("acme", "participant.joined", data)
    bundle = bindings.build(Sources(MemoryKV(), directory, NoFiles()), account="acme", event=event)
    result = run_with(engine, "export default async function(event, { room }) {\n" + body + "\n}",
                      bundle)
    assert result.error is None, result.error
    return result.value


def test_the_events_room_with_who_is_present(engine: Engine, directory: MemoryDirectory) -> None:
    assert js(engine, directory, "return await room.get();") == {
        "id": "r1", "name": "Lobby", "metadata": {"floor": 2},
        "createdAt": "1970-01-01T00:00:01.000Z", "updatedAt": "1970-01-01T00:00:02.000Z",
        "participants": ["bob", "ann"]}


def test_users_of_a_room_in_join_order(engine: Engine, directory: MemoryDirectory) -> None:
    users = js(engine, directory, "return [await room.users(), await room.users('r2')];")
    assert [u["id"] for u in users[0]] == ["bob", "ann"]
    assert users[0][0]["metadata"] == {"role": "admin"}
    assert users[0][0]["joinedAt"] == "1970-01-01T00:16:43.000Z"
    assert [u["id"] for u in users[1]] == ["ann"]


def test_a_user_by_id_follows_updates_and_deletes(engine: Engine,
                                                  directory: MemoryDirectory) -> None:
    ann = js(engine, directory, "return await room.getUser('ann');")
    assert (ann["name"], ann["email"]) == ("Ann B.", "ann@example.com")  # update kept the email
    assert ann["createdAt"] < ann["updatedAt"]
    apply_event(directory, "acme", make_event("acme", "user.deleted", {"userId": "ann"}))
    assert js(engine, directory, """
      return [await room.getUser('ann'), (await room.get()).participants, await room.getUser('zed')];""") == [
        None, ["bob"], None]


def test_without_a_room_in_the_event(engine: Engine, directory: MemoryDirectory) -> None:
    assert js(engine, directory, "return [await room.get(), await room.users(), (await room.get('r2')).name];",
              room=None) == [None, [], "Back office"]


def test_bad_ids_are_catchable_type_errors(engine: Engine, directory: MemoryDirectory) -> None:
    assert js(engine, directory, """
      const out = [];
      for (const t of [() => room.getUser(), () => room.get(42), () => room.users(""), () => room.getUser("x".repeat(300)),
                       () => room.set("x")]) {
        try { await t(); out.push("ok") } catch (e) { out.push(`${e.name}: ${e.message}`) }
      }
      return out;""") == [
        "TypeError: room: userId must be a non-empty string",
        "TypeError: room: roomId must be a non-empty string",
        "TypeError: room: roomId must be a non-empty string",
        "TypeError: room: userId is longer than 256 characters",
        "TypeError: not a function"]  # QuickJS says no more


def test_events_that_lack_ids_change_nothing(directory: MemoryDirectory) -> None:
    apply_event(directory, "acme", make_event("acme", "participant.left", {"roomId": "r1"}))
    apply_event(directory, "acme", make_event("acme", "user.deleted", {}))
    assert [p.user_id for p in directory.presence("acme", "r1")] == ["bob", "ann"]
    assert directory.get_user("acme", "bob") is not None


def test_make_event_validates_and_names_the_field() -> None:
    event = make_event("acme", "participant.joined", {"roomId": "r1", "userId": "u"}, at=0.5)
    assert {k: event[k] for k in ("type", "timestamp", "accountId", "roomId")} == {
        "type": "participant.joined", "timestamp": "1970-01-01T00:00:00.500Z",
        "accountId": "acme", "roomId": "r1"}
    assert event["id"].startswith("evt_")
    for kind, data, field in [("room.exploded", {}, "type"), ("user.created", [], "data"),
                              ("user.created", {"userId": 5}, "data.userId"),
                              ("participant.joined", {"roomId": ""}, "data.roomId")]:
        with pytest.raises(bindings.InvalidEvent) as info:
            make_event("acme", kind, data)
        assert info.value.field == field
