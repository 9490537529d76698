"""ICE configuration from settings: which servers aiortc uses and which host addresses it offers."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCIceCandidate, RTCIceServer
from aiortc.sdp import candidate_from_sdp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from media_workers.runtime.aiortc_overrides import restrict_host_addresses

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Names ICE_ALLOWED_PEER_NETWORKS accepts besides networks (`global` is checked, not listed).
NAMED_NETWORKS: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
}


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


def configure_from_settings() -> None:
    peer_policy()  # a mistyped ICE_ALLOWED_PEER_NETWORKS stops the worker at start, not mid-call
    if settings.ICE_HOST_ADDRESSES:
        restrict_host_addresses(settings.ICE_HOST_ADDRESSES)


class BadOffer(ValueError):
    """An offer the worker will not apply (the browser is told `bad_offer`)."""


@dataclass(frozen=True)
class PeerPolicy:
    """Which remote ICE candidates the worker may send connectivity checks to.

    A browser can put any address in its candidates; without this, the worker would probe
    hosts on its own private networks for whoever asks (a request-forgery scanner).
    """

    global_unicast: bool
    networks: tuple[Network, ...]

    def allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            # A hostname (a browser's mDNS `.local` name) would need a lookup on the local network.
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if self.global_unicast and address.is_global and not address.is_multicast:
            return True
        return any(address in network for network in self.networks)


def parse_peer_networks(values: list[str]) -> PeerPolicy:
    """ICE_ALLOWED_PEER_NETWORKS: empty means global unicast addresses only."""
    if not values:
        return PeerPolicy(global_unicast=True, networks=())
    networks: list[Network] = []
    for value in values:
        if value == "global":
            continue
        try:
            networks.extend(ipaddress.ip_network(n) for n in NAMED_NETWORKS.get(value, (value,)))
        except ValueError:
            raise ImproperlyConfigured(
                f"ICE_ALLOWED_PEER_NETWORKS: {value!r} is not a network (10.1.0.0/16), "
                f"global, {' or '.join(NAMED_NETWORKS)}"
            ) from None
    return PeerPolicy(global_unicast="global" in values, networks=tuple(networks))


def peer_policy() -> PeerPolicy:
    return parse_peer_networks(settings.ICE_ALLOWED_PEER_NETWORKS)


def parse_candidate(text: str) -> RTCIceCandidate | None:
    """A candidate line (`candidate:...`, with or without `a=`); None when it is malformed."""
    try:
        return candidate_from_sdp(text.removeprefix("a=").removeprefix("candidate:"))
    except (AssertionError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ScreenedOffer:
    """An offer with the candidates the worker may use; `candidates` is how many it kept."""

    sdp: str
    candidates: int
    dropped: int


def screen_offer(sdp: str, *, policy: PeerPolicy, max_candidates: int) -> ScreenedOffer:
    """Refuse anything but one audio section, and keep only candidates the policy allows."""
    sections = [line.split()[0] for line in sdp.splitlines() if line.startswith("m=")]
    if sections != ["m=audio"]:
        raise BadOffer(f"an offer must have exactly one audio section, not {sections}")
    lines: list[str] = []
    kept = dropped = 0
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            candidate = parse_candidate(line)
            if candidate is None or not policy.allows(candidate.ip) or kept >= max_candidates:
                dropped += 1
                continue
            kept += 1
        lines.append(line)
    return ScreenedOffer(sdp="\r\n".join(lines) + "\r\n", candidates=kept, dropped=dropped)
