from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms.models import Invite, Membership, Room


def test_it_asks_before_deleting(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).get(f"/r/{room.public_id}/delete/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Delete “Kitchen table”?" in body
    assert "Delete room" in body
    assert Room.objects.filter(pk=room.pk).exists()


def test_it_deletes_the_room_with_its_members_and_invites(
    owner: AbstractUser, member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).post(f"/r/{room.public_id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/rooms/"
    assert "Room “Kitchen table” deleted." in response.content.decode()
    assert not Room.objects.filter(pk=room.pk).exists()
    assert not Membership.objects.filter(room_id=room.pk).exists()
    assert not Invite.objects.filter(room_id=room.pk).exists()


def test_it_refuses_a_member_who_is_not_the_owner(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(member)
    assert client.get(f"/r/{room.public_id}/delete/").status_code == 403
    assert client.post(f"/r/{room.public_id}/delete/").status_code == 403
    assert Room.objects.filter(pk=room.pk).exists()


def test_it_hides_the_room_from_outsiders(
    outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(outsider).post(f"/r/{room.public_id}/delete/").status_code == 404
    assert Room.objects.filter(pk=room.pk).exists()


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).post(f"/r/{room.public_id}/delete/")
    assert response["Location"] == f"/r/{room.public_id}/"
    assert Room.objects.filter(pk=room.pk).exists()


def test_it_asks_visitors_to_log_in(client: Client, room: Room) -> None:
    assert client.post(f"/r/{room.public_id}/delete/")["Location"].startswith("/accounts/login/")
    assert Room.objects.filter(pk=room.pk).exists()
