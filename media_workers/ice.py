"""ICE configuration from settings: which servers aiortc uses and which host addresses it offers."""

from __future__ import annotations

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
