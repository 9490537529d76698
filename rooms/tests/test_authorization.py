"""Walks the table of entry points in docs/authorization.md: every persona, every entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import get_resolver

from rooms import services, usage
from rooms.models import CallParticipation, Invite, Membership, Room
from tests.support.people import make_user, room_socket

pytestmark = pytest.mark.django_db(transaction=True)

TABLE = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"
PERSONAS = ["anonymous", "outsider", "other guest", "removed member", "guest", "member", "owner", "staff"]


def documented_rows() -> list[list[str]]:
    rows = []
    for line in TABLE.read_text().splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) == len(PERSONAS) + 2 and re.match(r"^(GET|POST|WS) ", cells[0] + " "):
            rows.append(cells)
    return rows


def people(n: int) -> tuple[Room, dict[str, Any], Invite]:
    """A room with one of each persona (emails made unique by `n`)."""
    owner = make_user(f"owner{n}@example.com", "Owner")
    room, issued = services.room_create(owner=owner, name="Walked")
    _, other_issued = services.room_create(owner=make_user(f"other{n}@example.com", "Other"), name="Else")
    member = make_user(f"member{n}@example.com", "Member")
    services.invite_accept(token=issued.token, user=member)
    removed = make_user(f"removed{n}@example.com", "Removed")
    Membership.objects.filter(pk=services.invite_accept(token=issued.token, user=removed).pk).delete()
    guest = services.guest_join(token=issued.token, display_name="Guest", language="es")
    other_guest = services.guest_join(token=other_issued.token, display_name="Far", language="fr")
    staff = make_user(f"staff{n}@example.com", "Staff", is_staff=True, is_superuser=True)
    # A call that the owner, the member, the guest and (before their removal) the removed member were in.
    for person in (owner, member, guest, removed):
        participation = usage.participation_join(room=room, user=person, participation_id=None)
    assert participation.call is not None
    usage.participations_close_in_rooms(room_public_ids=[room.public_id])
    personas = {
        "anonymous": None,
        "outsider": make_user(f"outsider{n}@example.com", "Outsider"),
        "other guest": other_guest,
        "removed member": removed,
        "guest": guest,
        "member": member,
        "owner": owner,
        "staff": staff,
    }
    return room, personas, issued.invite


def http_outcome(user: Any, method: str, path: str) -> str:
    client = Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(path, {"name": "Renamed"}) if method == "POST" else client.get(path)
    if response.status_code == 302:
        target = response["Location"]
        return "302 login" if "/accounts/login/" in target else "302"
    return str(response.status_code)


async def ws_outcome(user: Any, room: Room) -> str:
    comm = await database_sync_to_async(room_socket)(room.public_id, user or AnonymousUser())
    await comm.connect()
    first = json.loads(await comm.receive_from(timeout=5))
    outcome = "accept" if first["type"] == "hello" else str((await comm.receive_output(timeout=5))["code"])
    # Always end the consumer cleanly: one left waiting on the channel layer when the event
    # loop closes can hang its shutdown.
    await comm.disconnect()
    return outcome


def test_it_documents_every_url_of_the_site() -> None:
    documented = {row[1] for row in documented_rows()}
    names = {f"rooms:{name}" for name in get_resolver("rooms.urls").reverse_dict if isinstance(name, str)}
    assert names <= documented, names - documented


def test_it_lets_in_exactly_whom_the_table_says() -> None:
    rows = documented_rows()
    assert len(rows) >= 14
    wrong = []
    for number, (entry, _name, *expected) in enumerate(rows):
        if expected[0] == "see below":
            continue
        method, template = entry.split(" ", 1)
        for index, (persona, want) in enumerate(zip(PERSONAS, expected, strict=True)):
            # Fresh people for every try: rows such as delete or revoke change what they touch.
            room, personas, invite = people(number * 100 + index)
            user = personas[persona]
            if method == "WS":
                got = async_to_sync(ws_outcome)(user, room)
            else:
                member = Membership.objects.get(room=room, user=personas["member"])
                path = (
                    template.replace("<room>", room.public_id)
                    .replace("<invite>", str(invite.pk))
                    .replace("<member>", str(member.pk))
                    .replace("<call>", str(CallParticipation.objects.filter(room=room).first().call_id))
                )
                got = http_outcome(user, method, path)
            if got != want:
                wrong.append(f"{persona} {entry}: got {got}, the table says {want}")
    assert wrong == []
