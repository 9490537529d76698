from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms.models import Room


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/admin/rooms/room/", "Kitchen table"),
        ("/admin/rooms/membership/", "Kitchen table"),
        ("/admin/rooms/invite/", "Kitchen table"),
        ("/admin/rooms/profile/", "Greta"),
    ],
)
def test_it_lists_every_model(
    url: str,
    expected: str,
    staff: AbstractUser,
    member: AbstractUser,
    guest: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    response = client_for(staff).get(url)
    assert response.status_code == 200
    assert expected in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/rooms/room/?q=Kitchen&allow_guests__exact=1",
        "/admin/rooms/membership/?q=mateo&role__exact=member",
        "/admin/rooms/invite/?q=Kitchen",
        "/admin/rooms/profile/?q=Greta&is_guest__exact=1",
        "/admin/auth/user/?q=guest&profile__is_guest__exact=1",
    ],
)
def test_it_searches_and_filters(
    url: str,
    staff: AbstractUser,
    member: AbstractUser,
    guest: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    response = client_for(staff).get(url)
    assert response.status_code == 200
    assert "0 results" not in response.content.decode()


def test_it_shows_a_room_with_its_members_and_invites(
    staff: AbstractUser, member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    body = client_for(staff).get(f"/admin/rooms/room/{room.pk}/change/").content.decode()
    assert "Memberships" in body
    assert "Invites" in body


def test_it_edits_a_profile_inside_the_user(
    staff: AbstractUser, member: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    body = client_for(staff).get(f"/admin/auth/user/{member.pk}/change/").content.decode()
    assert 'name="profile-0-display_name"' in body
    assert 'value="Mateo"' in body


def test_it_keeps_people_without_staff_rights_out(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).get("/admin/rooms/room/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
