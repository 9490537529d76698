from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class RoomConsumer(AsyncJsonWebsocketConsumer):
    """Signalling for one participant of one room (filled in by the live-call work)."""
