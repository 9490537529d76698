"""ICE configuration from settings: which servers aiortc uses and which host addresses it offers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer
from django.conf import settings


def ice_servers() -> list[RTCIceServer]:
    """The configured ICE servers; an empty list, never aiortc's default public STUN server."""
    return [
        RTCIceServer(
            urls=server["urls"],
            username=server.get("username"),
            credential=server.get("credential"),
        )
        for server in settings.ICE_SERVERS
    ]


def rtc_configuration() -> RTCConfiguration:
    return RTCConfiguration(iceServers=ice_servers())


def restrict_host_addresses(addresses: list[str]) -> None:
    """Make aioice offer exactly `addresses` as host candidates.

    aioice enumerates the machine's interfaces and always leaves out 127.0.0.1, so a
    loopback-only deployment (tests, benchmarks, a laptop demo) must replace the list.
    """
    allowed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


def configure_from_settings() -> None:
    if settings.ICE_HOST_ADDRESSES:
        restrict_host_addresses(settings.ICE_HOST_ADDRESSES)


def turn_credentials(*, secret: str, user_id: object, ttl: int, now: float | None = None) -> tuple[str, str]:
    """A time-limited TURN username and password (TURN REST API, coturn's `use-auth-secret`).

    coturn recomputes the password from the username with the shared secret and refuses
    it once the expiry time in the username has passed; nothing is stored anywhere.
    """
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def browser_ice_servers(user_id: object) -> list[dict[str, Any]]:
    """The servers a browser's RTCPeerConnection takes: ICE_SERVERS, plus TURN for this user."""
    servers = [dict(server) for server in settings.ICE_SERVERS]
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials(
            secret=settings.TURN_SECRET, user_id=user_id, ttl=settings.TURN_TTL_SECONDS
        )
        servers.append({"urls": list(settings.TURN_URLS), "username": username, "credential": credential})
    return servers
