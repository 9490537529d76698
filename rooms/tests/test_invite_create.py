from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from rooms.models import Invite, Room


def test_it_creates_an_invite_and_shows_its_link(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    response = client.post(
        f"/r/{room.public_id}/invites/", {"expires_in_days": "2", "max_uses": "3"}, follow=True
    )
    invite = room.invites.latest("created_at")
    assert invite.max_uses == 3
    assert timezone.now() + timedelta(days=2) - invite.expires_at < timedelta(minutes=1)
    body = response.content.decode()
    assert "New invite created." in body
    shown = re.search(r"/i/([\w-]+)/</code>", body)
    assert shown is not None and Invite.hash_token(shown.group(1)) == invite.token_hash
    assert "used 0 of 3 times" in body


def test_it_offers_the_configured_default_expiry(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client], settings: Settings
) -> None:
    settings.INVITE_DEFAULT_EXPIRY_DAYS = 11
    body = client_for(owner).get(f"/r/{room.public_id}/").content.decode()
    assert 'name="expires_in_days" value="11"' in body


def test_it_allows_unlimited_uses(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client_for(owner).post(f"/r/{room.public_id}/invites/", {"expires_in_days": "1", "max_uses": ""})
    assert room.invites.latest("created_at").max_uses is None


def test_it_refuses_nonsense_numbers(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).post(
        f"/r/{room.public_id}/invites/", {"expires_in_days": "0", "max_uses": "-1"}, follow=True
    )
    assert "The invite was not created" in response.content.decode()
    assert room.invites.count() == 1


def test_it_refuses_a_member_who_is_not_the_owner(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(member).post(f"/r/{room.public_id}/invites/", {"expires_in_days": "1"})
    assert response.status_code == 403
    assert Invite.objects.filter(room=room).count() == 1


def test_it_hides_the_room_from_outsiders(
    outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(outsider).post(f"/r/{room.public_id}/invites/", {"expires_in_days": "1"})
    assert response.status_code == 404
    assert Invite.objects.filter(room=room).count() == 1


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).post(f"/r/{room.public_id}/invites/", {"expires_in_days": "1"})
    assert response["Location"] == f"/r/{room.public_id}/"
    assert Invite.objects.filter(room=room).count() == 1
