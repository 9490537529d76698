"""The account page: display name and languages."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms.models import Room


def test_it_shows_languages_by_their_native_names(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    body = client_for(owner).get("/profile/").content.decode()
    assert '<label for="id_hear_language">I want to hear:</label>' in body
    assert '<label for="id_speak_language">I speak:</label>' in body
    for name in ("English", "Español", "Deutsch", "日本語", "हिन्दी", "Tiếng Việt", "Bahasa Indonesia"):
        assert f">{name}</option>" in body
    assert body.count('<option value="zh"') == 2


def test_it_saves_name_and_languages(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).post(
        "/profile/", {"display_name": "Liv", "hear_language": "ja", "speak_language": "fr"}, follow=True
    )
    assert "Your profile is saved." in response.content.decode()
    owner.profile.refresh_from_db()
    assert (owner.profile.display_name, owner.profile.hear_language, owner.profile.speak_language) == (
        "Liv",
        "ja",
        "fr",
    )


def test_it_refuses_a_language_that_is_not_offered(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).post(
        "/profile/", {"display_name": "Liv", "hear_language": "xx", "speak_language": "en"}
    )
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    owner.profile.refresh_from_db()
    assert owner.profile.hear_language == "en"


def test_it_sends_a_guest_back_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).post(
        "/profile/", {"display_name": "Hacker", "hear_language": "en", "speak_language": "en"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/r/{room.public_id}/"
    guest.profile.refresh_from_db()
    assert guest.profile.display_name == "Greta"


def test_it_asks_visitors_to_log_in(client: Client, db: None) -> None:
    assert client.get("/profile/")["Location"] == "/accounts/login/?next=/profile/"
