"""The owner removes people from the room page: one person, or everyone who came through one link."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client

from rooms import services
from rooms.models import Invite, Membership, Room
from tests.support.people import make_user


def test_it_lets_the_owner_remove_a_member_and_a_guest(
    room: Room,
    owner: AbstractUser,
    member: AbstractUser,
    guest: AbstractUser,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    client = client_for(owner)
    page = client.get(f"/r/{room.public_id}/").content.decode()
    assert 'aria-label="Remove Mateo"' in page and 'aria-label="Remove Greta"' in page
    assert 'aria-label="Remove Olivia"' not in page
    for person, name in ((member, "Mateo"), (guest, "Greta")):
        membership = Membership.objects.get(room=room, user=person)
        response = client.post(f"/r/{room.public_id}/members/{membership.pk}/remove/", follow=True)
        assert f"{name} was removed from the room." in response.content.decode()
    assert list(room.memberships.values_list("role", flat=True)) == ["owner"]
    # The removed can no longer see the room; the guest's pass is over.
    assert client_for(member).get(f"/r/{room.public_id}/").status_code == 404
    assert client_for(guest).get("/rooms/").status_code == 410


def test_it_never_removes_the_owner(
    room: Room, owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    own = Membership.objects.get(room=room, user=owner)
    assert client_for(owner).post(f"/r/{room.public_id}/members/{own.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=own.pk).exists()


def test_it_lets_only_the_owner_remove_people(
    room: Room, member: AbstractUser, guest: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    target = Membership.objects.get(room=room, user=guest)
    assert client_for(member).post(f"/r/{room.public_id}/members/{target.pk}/remove/").status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()


def test_it_removes_only_people_of_this_room(
    room: Room, owner: AbstractUser, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    _, issued = services.room_create(owner=outsider, name="Otto's room")
    stranger = make_user("sara@example.com", "Sara")
    theirs = services.invite_accept(token=issued.token, user=stranger)
    assert client_for(owner).post(f"/r/{room.public_id}/members/{theirs.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_it_revokes_a_link_and_removes_everyone_who_joined_through_it(
    room: Room, owner: AbstractUser, token: str, client_for: Callable[[AbstractUser], Client]
) -> None:
    leaked = room.invites.get()
    services.invite_accept(token=token, user=make_user("a@example.com", "A"))
    services.guest_join(token=token, display_name="Crasher", language="en")
    kept_link = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None)
    kept = services.invite_accept(token=kept_link.token, user=make_user("b@example.com", "B"))

    response = client_for(owner).post(
        f"/r/{room.public_id}/invites/{leaked.pk}/revoke-and-remove/", follow=True
    )
    assert "Invite revoked, and the 2 people who joined through it removed." in response.content.decode()
    assert set(room.memberships.values_list("role", flat=True)) == {"owner", "member"}
    assert Membership.objects.filter(pk=kept.pk).exists()
    assert Invite.objects.get(pk=leaked.pk).revoked_at is not None
    assert Client().get(f"/i/{token}/").status_code == 410


def test_it_shows_a_new_invite_link_once_and_then_forgets_it(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(owner)
    client.post("/rooms/new/", {"name": "Once"})
    room = Room.objects.get(name="Once")
    invite = Invite.objects.get(room=room)
    token = client.session["invite_tokens"][str(invite.pk)]
    first = client.get(f"/r/{room.public_id}/").content.decode()
    assert f"/i/{token}/" in first
    assert "this link is shown only once" in first
    assert token not in str(dict(client.session))
    again = client.get(f"/r/{room.public_id}/").content.decode()
    assert token not in again
    assert "Other active invites" in again
