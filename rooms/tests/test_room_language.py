"""A member's "I want to hear" for one room."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms.models import Membership, Room


def test_it_overrides_the_profile_language_in_this_room(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(member)
    response = client.post(f"/r/{room.public_id}/language/", {"hear_language": "ko"}, follow=True)
    body = response.content.decode()
    assert "Your language for this room is saved." in body
    assert "한국어" in body
    membership = Membership.objects.get(room=room, user=member)
    assert membership.listener_language == "ko"
    member.profile.refresh_from_db()
    assert member.profile.hear_language == "es"


def test_it_goes_back_to_the_profile_language(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(member)
    client.post(f"/r/{room.public_id}/language/", {"hear_language": "ko"})
    client.post(f"/r/{room.public_id}/language/", {"hear_language": ""})
    assert Membership.objects.get(room=room, user=member).listener_language == "es"
    assert "Same as my profile (Español)" in client.get(f"/r/{room.public_id}/").content.decode()


def test_it_lets_a_guest_choose_too(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    client_for(guest).post(f"/r/{room.public_id}/language/", {"hear_language": "it"})
    assert Membership.objects.get(room=room, user=guest).listener_language == "it"


def test_it_refuses_an_unknown_language(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(member).post(f"/r/{room.public_id}/language/", {"hear_language": "xx"}, follow=True)
    assert "Please choose one of the listed languages." in response.content.decode()
    assert Membership.objects.get(room=room, user=member).hear_language == ""


def test_it_hides_the_room_from_outsiders(
    outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(outsider).post(f"/r/{room.public_id}/language/", {"hear_language": "ko"})
    assert response.status_code == 404
    assert not Membership.objects.filter(user=outsider).exists()


def test_it_has_nothing_to_set_for_staff_who_are_not_members(
    staff: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(staff).post(f"/r/{room.public_id}/language/", {"hear_language": "ko"})
    assert response.status_code == 404


def test_it_only_accepts_posts(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(member).get(f"/r/{room.public_id}/language/").status_code == 405
