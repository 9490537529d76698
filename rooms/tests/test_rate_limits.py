"""Rate limits on invite links and invite creation (sign-up and login: see test_accounts)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rooms import services
from rooms.models import Invite, Room

pytestmark = pytest.mark.django_db


def test_it_stops_an_address_trying_invite_links_too_fast(client: Client, settings: Any) -> None:
    settings.INVITE_OPEN_RATE = "5/m"
    responses = [client.get(f"/i/not-a-real-token-{i}/") for i in range(7)]
    assert [r.status_code for r in responses] == [404] * 5 + [429] * 2
    assert "Too many attempts with invite links" in responses[-1].content.decode()


def test_it_counts_guest_joins_against_the_same_limit(
    client: Client, settings: Any, room: Room, owner: Any
) -> None:
    settings.INVITE_OPEN_RATE = "2/m"
    issued = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None)
    assert client.get(f"/i/{issued.token}/").status_code == 200
    assert client.get(f"/i/{issued.token}/").status_code == 200
    refused = client.post(f"/i/{issued.token}/", {"display_name": "Mallory", "language": "en"})
    assert refused.status_code == 429
    assert not room.memberships.filter(role="guest").exists()


def test_it_limits_how_many_invites_an_owner_creates(
    client_for: Any, settings: Any, room: Room, owner: Any
) -> None:
    settings.INVITE_CREATE_RATE = "3/h"
    client = client_for(owner)
    before = Invite.objects.filter(room=room).count()
    statuses = [
        client.post(f"/r/{room.public_id}/invites/", {"expires_in_days": 7}).status_code for _ in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert Invite.objects.filter(room=room).count() == before + 3


# --- Whose address: X-Forwarded-For counts only as far as TRUSTED_PROXY_HOPS says -------------


def test_it_ignores_a_forged_forwarded_for_without_a_proxy(client: Client, settings: Any) -> None:
    settings.INVITE_OPEN_RATE = "5/m"
    settings.TRUSTED_PROXY_HOPS = 0
    statuses = [
        client.get(f"/i/guess-{i}/", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(7)
    ]
    assert statuses == [404] * 5 + [429] * 2


def test_it_takes_the_address_our_proxy_saw_not_what_the_client_wrote(client: Client, settings: Any) -> None:
    settings.INVITE_OPEN_RATE = "5/m"
    settings.TRUSTED_PROXY_HOPS = 1
    # The client writes anything it likes on the left; our proxy appends the address it saw.
    statuses = [
        client.get(f"/i/guess-{i}/", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7").status_code
        for i in range(7)
    ]
    assert statuses == [404] * 5 + [429] * 2
    # Someone else behind the same proxy has a count of their own.
    other = client.get("/i/guess-x/", HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 404


def test_it_counts_log_ins_by_the_real_address(client: Client, settings: Any) -> None:
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "3/m/ip"}
    settings.TRUSTED_PROXY_HOPS = 0
    statuses = [
        client.post(
            "/accounts/login/",
            {"login": f"user{i}@example.com", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200] * 3 + [429] * 2
