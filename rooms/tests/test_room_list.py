from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import services
from rooms.models import Room


def test_it_lists_rooms_i_own_and_rooms_i_joined(
    owner: AbstractUser, member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    mine, _ = services.room_create(owner=member, name="Mateo's study")
    body = client_for(member).get("/rooms/").content.decode()
    assert "Kitchen table" in body
    assert "Owner: Olivia" in body
    assert "Mateo&#x27;s study" in body
    assert "You own it" in body
    assert f'href="/r/{mine.public_id}/"' in body


def test_it_leaves_out_rooms_of_other_people(
    room: Room, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    body = client_for(outsider).get("/rooms/").content.decode()
    assert "Kitchen table" not in body
    assert "You have no rooms yet." in body


def test_it_marks_closed_rooms(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    services.room_close(room=room)
    body = client_for(owner).get("/rooms/").content.decode()
    assert 'class="badge badge-closed">Closed' in body


def test_it_asks_visitors_to_log_in(client: Client, db: None) -> None:
    response = client.get("/rooms/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/rooms/"


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).get("/rooms/")
    assert response.status_code == 302
    assert response["Location"] == f"/r/{room.public_id}/"


def test_it_tells_a_guest_whose_room_is_gone_to_log_out(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    services.room_delete(room=room)
    response = client_for(guest).get("/rooms/")
    assert response.status_code == 410
    assert "Your guest access has ended" in response.content.decode()
