"""Closing and reopening a room."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import services
from rooms.models import Room


def test_it_closes_and_reopens_the_room(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    response = client.post(f"/r/{room.public_id}/close/", follow=True)
    assert "Room closed. Nobody can join until you reopen it." in response.content.decode()
    room.refresh_from_db()
    assert room.is_closed

    response = client.post(f"/r/{room.public_id}/reopen/", follow=True)
    assert "Room reopened." in response.content.decode()
    room.refresh_from_db()
    assert not room.is_closed


def test_it_keeps_the_first_closing_time(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    services.room_close(room=room)
    closed_at = room.closed_at
    client_for(owner).post(f"/r/{room.public_id}/close/")
    room.refresh_from_db()
    assert room.closed_at == closed_at


def test_it_only_accepts_posts(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(owner).get(f"/r/{room.public_id}/close/").status_code == 405
    room.refresh_from_db()
    assert not room.is_closed


@pytest.mark.parametrize("action", ["close", "reopen"])
def test_it_refuses_a_member_who_is_not_the_owner(
    action: str, member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(member).post(f"/r/{room.public_id}/{action}/").status_code == 403
    room.refresh_from_db()
    assert not room.is_closed


@pytest.mark.parametrize("action", ["close", "reopen"])
def test_it_hides_the_room_from_outsiders(
    action: str, outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(outsider).post(f"/r/{room.public_id}/{action}/").status_code == 404


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).post(f"/r/{room.public_id}/close/")
    assert response["Location"] == f"/r/{room.public_id}/"
    room.refresh_from_db()
    assert not room.is_closed
