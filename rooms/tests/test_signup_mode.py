"""SIGNUP_MODE: who may make an account. A stranger under `invite` is the attacker here."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from rooms.models import Membership, Room
from tests.support.people import PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = {"email": "stranger@example.com", "password1": PASSWORD, "password2": PASSWORD}


def accounts() -> int:
    return get_user_model().objects.filter(email="stranger@example.com").count()


def test_it_refuses_a_stranger_without_an_invite_under_invite_mode(client: Client, settings: Any) -> None:
    settings.SIGNUP_MODE = "invite"
    page = client.get("/accounts/signup/")
    assert "Sign-up is by invitation" in page.content.decode()
    assert "only from a room's invite link" in page.content.decode()
    client.post("/accounts/signup/", SIGNUP)
    # Posting straight to allauth, or claiming to come from the join page, changes nothing.
    client.post("/accounts/signup/", {**SIGNUP, "next": "/join/"})
    assert accounts() == 0


def test_it_refuses_a_stranger_whose_invite_no_longer_works(
    client: Client, settings: Any, room: Room, token: str
) -> None:
    settings.SIGNUP_MODE = "invite"
    client.get(f"/i/{token}/")
    invite = room.invites.get()
    invite.expires_at = timezone.now() - timedelta(seconds=1)
    invite.save()
    client.post("/accounts/signup/", SIGNUP)
    assert accounts() == 0


def test_it_lets_someone_with_an_invite_link_sign_up_and_join(
    client: Client, settings: Any, room: Room, token: str
) -> None:
    settings.SIGNUP_MODE = "invite"
    client.get(f"/i/{token}/")
    response = client.post("/accounts/signup/", {**SIGNUP, "next": "/join/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/join/"
    assert accounts() == 1
    client.post("/join/")
    assert Membership.objects.filter(room=room, user__email="stranger@example.com", role="member").exists()


def test_it_lets_nobody_sign_up_when_closed(client: Client, settings: Any, room: Room, token: str) -> None:
    settings.SIGNUP_MODE = "closed"
    client.get(f"/i/{token}/")
    body = client.get("/accounts/signup/").content.decode()
    assert "This site doesn't take new sign-ups. Ask its staff for an account." in body
    client.post("/accounts/signup/", SIGNUP)
    assert accounts() == 0


def test_it_lets_anyone_sign_up_when_open(client: Client, settings: Any) -> None:
    settings.SIGNUP_MODE = "open"
    client.post("/accounts/signup/", SIGNUP)
    assert accounts() == 1


def test_it_still_lets_a_guest_in_under_invite_mode(
    client: Client, settings: Any, room: Room, token: str
) -> None:
    settings.SIGNUP_MODE = "invite"
    response = client.post(f"/i/{token}/", {"display_name": "Greta", "language": "de"})
    assert response["Location"] == f"/r/{room.public_id}/"


def test_it_leads_an_invited_person_back_to_the_room_after_confirming_their_email(
    client: Client, settings: Any, room: Room, token: str
) -> None:
    settings.SIGNUP_MODE = "invite"
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client.get(f"/i/{token}/")
    client.post("/accounts/signup/", {**SIGNUP, "next": "/join/"})
    assert accounts() == 1
    assert "_auth_user_id" not in client.session
    link = re.search(r"http://\S+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body)
    assert link is not None
    client.post(link.group(1))
    response = client.post("/accounts/login/", {"login": SIGNUP["email"], "password": PASSWORD}, follow=True)
    body = response.content.decode()
    assert "You were invited to <strong>Kitchen table</strong>" in body, body[-3000:]
    client.post("/join/")
    assert Membership.objects.filter(room=room, user__email="stranger@example.com").exists()
