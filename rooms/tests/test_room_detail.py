from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.test import Client
from pytest_django.fixtures import Settings

from rooms import services
from rooms.models import Invite, Room


def created_room(client: Client, name: str = "Video night") -> Room:
    """A room made through the page, so the owner's session holds its invite link."""
    client.post("/rooms/new/", {"name": name})
    return Room.objects.get(name=name)


def test_it_shows_members_with_names_roles_and_languages(
    owner: AbstractUser,
    member: AbstractUser,
    guest: AbstractUser,
    room: Room,
    client_for: Callable[[AbstractUser], Client],
) -> None:
    response = client_for(member).get(f"/r/{room.public_id}/")
    assert response.status_code == 200
    members = re.findall(r'<li class="member">(.*?)</li>', response.content.decode(), re.S)
    assert len(members) == 3
    assert "Olivia" in members[0] and "Owner" in members[0] and "English" in members[0]
    assert "Mateo" in members[1] and "(you)" in members[1] and "Español" in members[1]
    assert "Greta" in members[2] and "Guest" in members[2] and "Deutsch" in members[2]


def test_it_gives_the_call_what_it_needs(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(member).get(f"/r/{room.public_id}/")
    assert response.context["room"] == room
    assert response.context["membership"].user == member
    assert response.context["ws_path"] == f"/ws/rooms/{room.public_id}/"
    body = response.content.decode()
    assert f'<section id="call" class="card call" data-ws-path="/ws/rooms/{room.public_id}/"' in body
    assert ">Join call</button>" in body
    assert "js/call/main.js" in body


def test_it_shows_a_closed_room_as_closed_without_a_call(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    services.room_close(room=room)
    body = client_for(owner).get(f"/r/{room.public_id}/").content.decode()
    assert "This room is closed" in body
    assert '<section id="call"' not in body
    assert "Reopen room" in body


def test_it_hides_the_room_from_outsiders(
    outsider: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(outsider).get(f"/r/{room.public_id}/")
    assert response.status_code == 404
    assert "Kitchen table" not in response.content.decode()


def test_it_answers_an_unknown_room_like_a_hidden_one(
    outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    assert client_for(outsider).get("/r/no-such-room/").status_code == 404


def test_it_asks_visitors_to_log_in(client: Client, room: Room) -> None:
    response = client.get(f"/r/{room.public_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/r/{room.public_id}/"


def test_it_lets_staff_look_in_without_membership(
    staff: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    response = client_for(staff).get(f"/r/{room.public_id}/")
    assert response.status_code == 200
    assert response.context["membership"] is None
    assert "Invite people" not in response.content.decode()


def test_it_keeps_a_guest_to_their_own_room(
    guest: AbstractUser, room: Room, outsider: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    other, _ = services.room_create(owner=outsider, name="Otto's room")
    client = client_for(guest)
    assert client.get(f"/r/{room.public_id}/").status_code == 200
    assert client.get(f"/r/{other.public_id}/").status_code == 404


def test_it_shows_the_owner_the_invite_link_with_a_qr_code(
    owner: AbstractUser, client_for: Callable[[AbstractUser], Client], settings: Settings
) -> None:
    settings.PUBLIC_BASE_URL = "http://192.168.1.20:8000"
    client = client_for(owner)
    room = created_room(client)
    invite = Invite.objects.get(room=room)
    token = client.session["invite_tokens"][str(invite.pk)]
    link = f"http://192.168.1.20:8000/i/{token}/"

    body = client.get(f"/r/{room.public_id}/").content.decode()
    assert f"<code>{link}</code>" in body
    assert re.search(r'<svg viewBox="[^"]+" class="qr"><title>QR code of the invite link</title>', body)
    assert f'data-copy="{link}"' in body
    assert f'data-share="{link}"' in body
    assert '<script type="module" src="/static/js/invite.js"></script>' in body


def test_it_lists_invites_made_elsewhere_without_their_link(
    owner: AbstractUser, room: Room, token: str, client_for: Callable[[AbstractUser], Client]
) -> None:
    body = client_for(owner).get(f"/r/{room.public_id}/").content.decode()
    assert "Other active invites" in body
    assert token not in body
    assert 'class="qr"' not in body
    assert "used 0" in body
    assert "Revoke" in body


def test_it_leaves_out_invites_that_no_longer_work(
    owner: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    invite = Invite.objects.get(room=room)
    services.invite_revoke(invite=invite)
    body = client_for(owner).get(f"/r/{room.public_id}/").content.decode()
    assert "Other active invites" not in body
    assert "No active invites. Create one below." in body


def test_it_shows_members_no_invite_or_room_management(
    member: AbstractUser, room: Room, client_for: Callable[[AbstractUser], Client]
) -> None:
    body = client_for(member).get(f"/r/{room.public_id}/").content.decode()
    assert "Invite people" not in body
    assert "Room settings" not in body
    assert "In this room I want to hear" in body
