"""The invite link /i/<token>/: joining with an account, as a guest, and every way it can fail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from rooms import services
from rooms.models import Invite, Membership, Room
from tests.support.people import PASSWORD, make_user


def break_invite(room: Room, how: str) -> None:
    invite = room.invites.get()
    if how == "expired":
        invite.expires_at = timezone.now() - timedelta(seconds=1)
        invite.save()
    elif how == "revoked":
        services.invite_revoke(invite=invite)
    elif how == "used_up":
        invite.max_uses = 2
        invite.uses = 2
        invite.save()
    elif how == "closed":
        services.room_close(room=room)


FAILURES = [
    ("expired", "This invite has expired"),
    ("revoked", "This invite was withdrawn"),
    ("used_up", "This invite has been used up"),
    ("closed", "This room is closed"),
]


# --- With an account ---------------------------------------------------------------------------


def test_it_lets_a_signed_in_person_join_after_confirming(
    room: Room, token: str, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(outsider)
    page = client.get(f"/i/{token}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<h1>Kitchen table</h1>" in body
    assert "A room of <strong>Olivia</strong>" in body
    assert "Join Kitchen table</button>" in body
    assert not Membership.objects.filter(room=room, user=outsider).exists()

    response = client.post(f"/i/{token}/", follow=True)
    assert response.redirect_chain[-1][0] == f"/r/{room.public_id}/"
    membership = Membership.objects.get(room=room, user=outsider)
    assert membership.role == "member"
    assert room.invites.get().uses == 1


def test_it_never_makes_a_member_from_a_get_or_another_sites_post(
    room: Room, token: str, outsider: AbstractUser
) -> None:
    """A page elsewhere embedding the link, or posting to it, cannot pull a signed-in person in."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(outsider, backend="django.contrib.auth.backends.ModelBackend")
    for _ in range(3):
        browser.get(f"/i/{token}/", follow=True)
    forged = browser.post(
        f"/i/{token}/", HTTP_ORIGIN="https://evil.example", HTTP_REFERER="https://evil.example/"
    )
    assert forged.status_code == 403
    assert not Membership.objects.filter(room=room, user=outsider).exists()
    assert room.invites.get().uses == 0


def test_it_does_not_count_a_member_opening_the_link_again(
    room: Room,
    token: str,
    member: AbstractUser,
    owner: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    assert client_for(member).get(f"/i/{token}/")["Location"] == f"/r/{room.public_id}/"
    assert client_for(owner).get(f"/i/{token}/")["Location"] == f"/r/{room.public_id}/"
    assert room.invites.get().uses == 1
    assert Membership.objects.get(room=room, user=owner).role == "owner"


def test_it_lets_no_more_people_in_than_max_uses(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    issued = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=1)
    first = make_user("first@example.com", "First")
    second = make_user("second@example.com", "Second")
    assert client_for(first).post(f"/i/{issued.token}/").status_code == 302
    response = client_for(second).get(f"/i/{issued.token}/")
    assert response.status_code == 410
    assert "This invite has been used up" in response.content.decode()
    assert not Membership.objects.filter(user=second).exists()


@pytest.mark.parametrize(("how", "message"), FAILURES)
def test_it_explains_why_a_broken_invite_does_not_let_a_person_in(
    how: str,
    message: str,
    room: Room,
    token: str,
    outsider: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    break_invite(room, how)
    response = client_for(outsider).get(f"/i/{token}/")
    assert response.status_code == 410
    assert message in response.content.decode()
    assert not Membership.objects.filter(user=outsider).exists()


def test_it_says_an_unknown_link_does_not_work(
    room: Room, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(outsider).get("/i/not-a-real-token/")
    assert response.status_code == 404
    assert "This invite link doesn&#x27;t work" in response.content.decode()


def test_it_lets_a_member_of_a_closed_room_see_it(
    room: Room, token: str, member: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    services.room_close(room=room)
    response = client_for(member).get(f"/i/{token}/", follow=True)
    assert "This room is closed: no calls" in response.content.decode()


# --- Without an account ------------------------------------------------------------------------


def test_it_offers_a_visitor_three_ways_in(client: Client, room: Room, token: str) -> None:
    response = client.get(f"/i/{token}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Kitchen table</h1>" in body
    assert 'href="/accounts/signup/?next=/join/"' in body
    assert 'href="/accounts/login/?next=/join/"' in body
    assert "Join as a guest" in body
    assert '<label for="id_display_name">Your name:</label>' in body
    assert room.invites.get().uses == 0


def test_it_keeps_the_token_out_of_referrers_next_links_and_the_session(
    client: Client,
    room: Room,
    token: str,
    outsider: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    for response in (
        client.get(f"/i/{token}/"),
        client_for(outsider).get(f"/i/{token}/"),
        client.get("/join/"),
    ):
        assert response["Referrer-Policy"] == "strict-origin"
        assert f"next=/i/{token}" not in response.content.decode()
    assert token not in str(dict(client.session))
    broken = Client().get("/i/not-a-real-token/")
    assert broken["Referrer-Policy"] == "strict-origin"


@pytest.mark.parametrize(("how", "message"), FAILURES)
def test_it_explains_why_a_broken_invite_does_not_let_a_visitor_in(
    how: str, message: str, client: Client, room: Room, token: str
) -> None:
    break_invite(room, how)
    response = client.get(f"/i/{token}/")
    assert response.status_code == 410
    body = response.content.decode()
    assert message in body
    assert "Join as a guest" not in body


def test_it_says_an_unknown_link_does_not_work_for_visitors(client: Client, db: None) -> None:
    response = client.get("/i/not-a-real-token/")
    assert response.status_code == 404
    assert "There is no invite with this link." in response.content.decode()


def test_it_lets_a_visitor_join_as_a_guest(client: Client, room: Room, token: str) -> None:
    response = client.post(f"/i/{token}/", {"display_name": " Greta ", "language": "de"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/r/{room.public_id}/"
    body = response.content.decode()
    assert "Gast: Greta" in body  # she chose German, so her pages are in German
    assert '<section id="call"' in body

    guest = get_user_model().objects.get(profile__display_name="Greta")
    assert guest.username.startswith("guest-")
    assert guest.email == ""
    assert not guest.has_usable_password()
    assert guest.profile.is_guest
    assert (guest.profile.hear_language, guest.profile.speak_language) == ("de", "de")
    assert Membership.objects.get(room=room, user=guest).role == "guest"
    assert room.invites.get().uses == 1


def test_it_lets_a_guest_hear_a_turn_based_language_and_read_the_pages_in_english(
    client: Client, room: Room, token: str
) -> None:
    page = client.get(f"/i/{token}/").content.decode()
    assert '<optgroup label="Turn-based: you hear each sentence after it ends">' in page
    assert '<option value="tr">Türkçe</option>' in page
    response = client.post(f"/i/{token}/", {"display_name": "Tarık", "language": "tr"}, follow=True)
    assert "Guest: Tarık" in response.content.decode()  # no Turkish pages: English
    guest = get_user_model().objects.get(profile__display_name="Tarık")
    assert (guest.profile.hear_language, guest.profile.speak_language) == ("tr", "tr")


def test_it_asks_a_guest_for_a_name(client: Client, room: Room, token: str) -> None:
    response = client.post(f"/i/{token}/", {"display_name": "   ", "language": "de"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not get_user_model().objects.filter(username__startswith="guest-").exists()


def test_it_counts_guests_against_max_uses(client: Client, room: Room, owner: AbstractUser) -> None:
    issued = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=1)
    Client().post(f"/i/{issued.token}/", {"display_name": "One", "language": "en"})
    response = client.post(f"/i/{issued.token}/", {"display_name": "Two", "language": "en"})
    assert response.status_code == 410
    assert "This invite has been used up" in response.content.decode()
    assert not get_user_model().objects.filter(profile__display_name="Two").exists()


def test_it_keeps_guests_out_of_a_room_for_account_holders(client: Client, room: Room, token: str) -> None:
    room.allow_guests = False
    room.save()
    page = client.get(f"/i/{token}/").content.decode()
    assert "This room is for people with an account." in page
    assert "Join as a guest" not in page
    client.post(f"/i/{token}/", {"display_name": "Sneaky", "language": "en"})
    assert not get_user_model().objects.filter(profile__display_name="Sneaky").exists()
    assert "_auth_user_id" not in client.session


def test_it_brings_a_new_account_into_the_room_after_sign_up(client: Client, room: Room, token: str) -> None:
    client.get(f"/i/{token}/")
    response = client.post(
        "/accounts/signup/",
        {"email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD, "next": "/join/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/join/"
    assert "Join Kitchen table</button>" in response.content.decode()
    response = client.post("/join/", follow=True)
    assert response.redirect_chain[-1][0] == f"/r/{room.public_id}/"
    assert Membership.objects.get(room=room, user__email="newbie@example.com").role == "member"
    assert "pending_invite" not in client.session


def test_it_brings_an_account_into_the_room_after_log_in(
    client: Client, room: Room, token: str, outsider: AbstractUser
) -> None:
    client.get(f"/i/{token}/")
    response = client.post(
        "/accounts/login/", {"login": "otto@example.com", "password": PASSWORD, "next": "/join/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/join/"
    assert not Membership.objects.filter(room=room, user=outsider).exists()
    client.post("/join/")
    assert Membership.objects.filter(room=room, user=outsider).exists()


def test_it_says_there_is_nothing_to_join_without_an_invite_opened_first(
    outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(outsider).post("/join/")
    assert response.status_code == 404
    assert not Membership.objects.filter(user=outsider).exists()


# --- Guest limits --------------------------------------------------------------------------------


def test_it_lets_an_invite_bring_in_only_so_many_guests(
    room: Room, owner: AbstractUser, settings: Any
) -> None:
    settings.MAX_GUESTS_PER_INVITE = 2
    issued = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None)
    statuses = [
        Client().post(f"/i/{issued.token}/", {"display_name": f"G{i}", "language": "en"}).status_code
        for i in range(3)
    ]
    assert statuses == [302, 302, 403]
    refused = Client().post(f"/i/{issued.token}/", {"display_name": "Late", "language": "en"})
    assert "This invite has let in all the guests it may" in refused.content.decode()
    assert room.memberships.filter(role="guest").count() == 2
    # Another link still works, up to the room's own limit.
    other = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None)
    assert Client().post(f"/i/{other.token}/", {"display_name": "New", "language": "en"}).status_code == 302


def test_it_lets_a_room_hold_only_so_many_guests(room: Room, owner: AbstractUser, settings: Any) -> None:
    settings.MAX_GUESTS_PER_ROOM = 2
    tokens = [
        services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None).token
        for _ in range(3)
    ]
    statuses = [
        Client().post(f"/i/{t}/", {"display_name": f"G{i}", "language": "en"}).status_code
        for i, t in enumerate(tokens)
    ]
    assert statuses == [302, 302, 403]
    refused = Client().post(f"/i/{tokens[2]}/", {"display_name": "Late", "language": "en"})
    assert "This room has as many guests as it may" in refused.content.decode()
    assert room.memberships.filter(role="guest").count() == 2


# --- Guests and other rooms --------------------------------------------------------------------


def test_it_sends_a_guest_opening_their_own_invite_to_their_room(
    guest: AbstractUser, room: Room, token: str, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(guest).get(f"/i/{token}/")["Location"] == f"/r/{room.public_id}/"
    assert room.invites.get().uses == 1


def test_it_tells_a_guest_that_another_rooms_invite_needs_a_new_guest_pass(
    guest: AbstractUser, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    other_room, issued = services.room_create(owner=outsider, name="Otto's room")
    client = client_for(guest)
    response = client.get(f"/i/{issued.token}/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "You are a guest in another room" in body
    assert "Log out and use this invite" in body
    assert not Membership.objects.filter(room=other_room, user=guest).exists()
    assert Invite.objects.get(pk=issued.invite.pk).uses == 0

    # Logging out from that page leads back to the invite, where a new guest can join.
    response = client.post("/accounts/logout/", {"next": f"/i/{issued.token}/"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/i/{issued.token}/"
    response = client.post(f"/i/{issued.token}/", {"display_name": "Greta again", "language": "de"})
    assert response["Location"] == f"/r/{other_room.public_id}/"
    assert Membership.objects.get(room=other_room, user__profile__display_name="Greta again").role == "guest"
