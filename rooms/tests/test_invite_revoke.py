from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import services
from rooms.models import Invite, Room


def test_it_revokes_an_invite_and_forgets_its_link(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    client.post("/rooms/new/", {"name": "Revocable"})
    invite = Invite.objects.get(room__name="Revocable")
    token = client.session["invite_tokens"][str(invite.pk)]

    response = client.post(f"/r/{invite.room.public_id}/invites/{invite.pk}/revoke/", follow=True)
    body = response.content.decode()
    assert "Invite revoked. Its link no longer lets anyone in." in body
    assert token not in body
    assert str(invite.pk) not in client.session["invite_tokens"]
    invite.refresh_from_db()
    assert invite.revoked_at is not None
    assert Client().get(f"/i/{token}/").status_code == 410


def test_it_only_revokes_invites_of_this_room(
    owner: AbstractUser, room: Room, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    _, other = services.room_create(owner=outsider, name="Otto's room")
    response = client_for(owner).post(f"/r/{room.public_id}/invites/{other.invite.pk}/revoke/")
    assert response.status_code == 404
    other.invite.refresh_from_db()
    assert other.invite.revoked_at is None


def test_it_refuses_a_member_who_is_not_the_owner(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    invite = room.invites.get()
    assert client_for(member).post(f"/r/{room.public_id}/invites/{invite.pk}/revoke/").status_code == 403
    invite.refresh_from_db()
    assert invite.revoked_at is None


def test_it_hides_the_room_from_outsiders(
    outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    invite = room.invites.get()
    assert client_for(outsider).post(f"/r/{room.public_id}/invites/{invite.pk}/revoke/").status_code == 404
    invite.refresh_from_db()
    assert invite.revoked_at is None


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    invite = room.invites.get()
    response = client_for(guest).post(f"/r/{room.public_id}/invites/{invite.pk}/revoke/")
    assert response["Location"] == f"/r/{room.public_id}/"
    invite.refresh_from_db()
    assert invite.revoked_at is None
