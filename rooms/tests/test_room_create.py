from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms.models import Invite, Membership, Room


def test_it_creates_a_room_with_the_owner_in_it_and_a_first_invite(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).post("/rooms/new/", {"name": "Grandma's birthday"}, follow=True)
    room = Room.objects.get(name="Grandma's birthday")
    assert response.redirect_chain[-1][0] == f"/r/{room.public_id}/"
    assert room.owner == owner
    assert Membership.objects.get(room=room, user=owner).role == "owner"
    invite = Invite.objects.get(room=room)
    assert invite.max_uses is None
    body = response.content.decode()
    assert "Room created." in body
    assert "/i/" in body


def test_it_stores_only_the_hash_of_the_invite_token(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    client.post("/rooms/new/", {"name": "Hashes"})
    invite = Invite.objects.get(room__name="Hashes")
    token = client.session["invite_tokens"][str(invite.pk)]
    assert len(token) >= 32  # 24 random bytes, url-safe base64
    assert invite.token_hash == Invite.hash_token(token)
    assert token not in invite.token_hash


def test_it_requires_a_name(owner: AbstractUser, client_for: Callable[[AbstractUser], Client]) -> None:
    response = client_for(owner).post("/rooms/new/", {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Room.objects.exists()


def test_it_refuses_guests(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).post("/rooms/new/", {"name": "Guest's own room"})
    assert response.status_code == 302
    assert response["Location"] == f"/r/{room.public_id}/"
    assert not Room.objects.filter(name="Guest's own room").exists()


def test_it_asks_visitors_to_log_in(client: Client, db: None) -> None:
    response = client.post("/rooms/new/", {"name": "Anonymous"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Room.objects.exists()
