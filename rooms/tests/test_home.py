from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client
from pytest_django.fixtures import Settings

from rooms.models import Room


def test_it_explains_the_service_to_visitors(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "each in your own language" in body
    assert 'href="/accounts/signup/"' in body
    assert 'href="/accounts/login/"' in body


def test_it_sends_people_with_an_account_to_their_rooms(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(owner).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/rooms/"


def test_it_sends_a_guest_to_their_room(
    guest: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(guest).get("/", follow=True)
    assert response.redirect_chain[-1][0] == f"/r/{room.public_id}/"
    assert response.status_code == 200


def test_it_shows_the_demo_badge_in_demo_mode(client: Client, db: None, settings: Settings) -> None:
    settings.DEMO_MODE = True
    assert "Demo translation" in client.get("/").content.decode()


def test_it_hides_the_demo_badge_with_a_real_key(client: Client, db: None, settings: Settings) -> None:
    settings.DEMO_MODE = False
    assert "Demo translation" not in client.get("/").content.decode()


def test_it_links_only_the_stylesheet_and_no_outside_resources(client: Client, db: None) -> None:
    body = client.get("/").content.decode()
    assert '<link rel="stylesheet" href="/static/css/site.css">' in body
    assert not re.search(r'(src|href)="(https?:)?//', body)
    assert "<script>" not in body
