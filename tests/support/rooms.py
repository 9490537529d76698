"""Rooms with people in them."""

from __future__ import annotations

from rooms import services
from rooms.models import Room
from tests.support.people import Person, user_for


def make_room(owner: Person, *members: Person) -> Room:
    """A room owned by `owner` that `members` joined through its invite."""
    room, issued = services.room_create(owner=user_for(owner), name="Kitchen table")
    for member in members:
        services.invite_accept(token=issued.token, user=user_for(member))
    return room
