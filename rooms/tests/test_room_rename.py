from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms.models import Room


def test_it_renames_the_room(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    form = client.get(f"/r/{room.public_id}/rename/")
    assert 'value="Kitchen table"' in form.content.decode()
    response = client.post(f"/r/{room.public_id}/rename/", {"name": "Living room"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/r/{room.public_id}/"
    assert "<h1>Living room</h1>" in response.content.decode()
    room.refresh_from_db()
    assert room.name == "Living room"


def test_it_requires_a_name(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).post(f"/r/{room.public_id}/rename/", {"name": ""})
    assert "This field is required." in response.content.decode()
    room.refresh_from_db()
    assert room.name == "Kitchen table"


def test_it_refuses_a_member_who_is_not_the_owner(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(member).post(f"/r/{room.public_id}/rename/", {"name": "Mine now"})
    assert response.status_code == 403
    assert "Only the room&#x27;s owner can do that." in response.content.decode()
    room.refresh_from_db()
    assert room.name == "Kitchen table"


def test_it_hides_the_room_from_outsiders(
    outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(outsider).post(f"/r/{room.public_id}/rename/", {"name": "x"}).status_code == 404
    room.refresh_from_db()
    assert room.name == "Kitchen table"


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).post(f"/r/{room.public_id}/rename/", {"name": "x"})
    assert response["Location"] == f"/r/{room.public_id}/"
    room.refresh_from_db()
    assert room.name == "Kitchen table"
