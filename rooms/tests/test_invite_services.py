"""The invite services on their own: hashing, use counting and the race for the last use."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AbstractUser

from rooms import services
from rooms.models import Invite, Membership, Room
from rooms.selectors import InviteFailure, invite_problem
from tests.support.people import make_user


def check_passes_once_on_stale_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request read the invite before another one changed it: its first check passes."""
    calls: list[Invite] = []

    def stale_then_real(invite: Invite) -> InviteFailure | None:
        calls.append(invite)
        return None if len(calls) == 1 else invite_problem(invite)

    monkeypatch.setattr(services, "invite_problem", stale_then_real)


def test_it_makes_long_unguessable_tokens(room: Room, owner: AbstractUser) -> None:
    tokens = {
        services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None).token
        for _ in range(5)
    }
    assert len(tokens) == 5
    assert all(len(token) == 32 for token in tokens)  # 24 random bytes = 192 bits


def test_it_refuses_the_last_use_to_whoever_comes_second(
    room: Room, owner: AbstractUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=1)
    services.invite_accept(token=issued.token, user=make_user("first@example.com", "First"))
    # Only the conditional UPDATE stands between the late request and a use too many.
    check_passes_once_on_stale_data(monkeypatch)
    late = make_user("late@example.com", "Late")
    with pytest.raises(services.InviteError) as error:
        services.invite_accept(token=issued.token, user=late)
    assert error.value.reason is InviteFailure.USED_UP
    assert not Membership.objects.filter(user=late).exists()
    assert Invite.objects.get(pk=issued.invite.pk).uses == 1


def test_it_refuses_a_room_closed_after_the_check(
    room: Room, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.room_close(room=room)
    check_passes_once_on_stale_data(monkeypatch)
    with pytest.raises(services.InviteError) as error:
        services.guest_join(token=token, display_name="Late", language="en")
    assert error.value.reason is InviteFailure.ROOM_CLOSED
    assert not Membership.objects.filter(room=room, role="guest").exists()


def test_it_refuses_unknown_languages(room: Room, token: str) -> None:
    with pytest.raises(ValueError, match="Unknown language 'xx'"):
        services.guest_join(token=token, display_name="X", language="xx")
