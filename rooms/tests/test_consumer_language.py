"""What the signalling server says to a page arrives in that person's page language."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.utils import translation

from rooms import services
from rooms.consumers import translated
from tests.support.people import room_socket

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def closed_room_with_a_member(page_language: str) -> tuple[Any, Any]:
    users = get_user_model().objects
    owner = users.create_user(username="owner@example.com", email="owner@example.com", password="x")
    member = users.create_user(username="ana@example.com", email="ana@example.com", password="x")
    services.profile_update(
        profile=member.profile, display_name="Ana", hear_language="es", speak_language="es"
    )
    services.profile_set_page_language(profile=member.profile, page_language=page_language)
    room, issued = services.room_create(owner=owner, name="Room")
    services.invite_accept(token=issued.token, user=member)
    services.room_close(room=room)
    return room, member


@pytest.mark.parametrize(
    ("page_language", "sentence"), [("", "Esta sala está cerrada."), ("ja", "このルームは閉じられています。")]
)
async def test_it_explains_a_refusal_in_the_persons_page_language(page_language: str, sentence: str) -> None:
    room, member = await closed_room_with_a_member(page_language)
    comm = await database_sync_to_async(room_socket)(room.public_id, member)
    await comm.connect()
    error = json.loads(await comm.receive_from(timeout=5))
    assert (error["code"], error["message"]) == ("room_closed", sentence)
    await comm.disconnect()


def test_it_translates_a_sentence_with_its_number_in_place() -> None:
    with translation.override("es"):
        assert translated("This call is full: at most 12 people can be in it.") == (
            "Esta llamada está completa: caben como máximo 12 personas."
        )
        # Unknown sentences stay as they came.
        assert (
            translated("Nothing like this 7 is in the catalog.") == "Nothing like this 7 is in the catalog."
        )
