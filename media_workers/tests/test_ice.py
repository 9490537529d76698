"""Which remote ICE candidates the worker accepts, and which offers (no packets are sent here)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from media_workers.runtime.ice import BadOffer, parse_peer_networks, screen_offer

GLOBAL = parse_peer_networks([])


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("203.0.113.7", False),  # documentation range: not global
        ("8.8.8.8", True),
        ("2a00:1450:4001:80b::200e", True),
        ("10.1.2.3", False),
        ("172.17.0.1", False),  # docker0
        ("192.168.1.20", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),  # cloud metadata
        ("127.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::5", False),
        ("224.0.0.251", False),  # multicast
        ("::ffff:10.0.0.7", False),
        ("::ffff:8.8.8.8", True),
        ("0.0.0.0", False),
        ("a1b2c3d4-0000-4000-8000-000000000000.local", False),  # mDNS: a lookup on the LAN
    ],
)
def test_it_allows_only_global_unicast_addresses_by_default(host: str, allowed: bool) -> None:
    assert GLOBAL.allows(host) is allowed


def test_it_allows_the_networks_a_deployment_lists() -> None:
    lan = parse_peer_networks(["loopback", "192.168.1.0/24"])
    assert lan.allows("127.0.0.1") and lan.allows("::1") and lan.allows("192.168.1.20")
    assert not lan.allows("192.168.2.20") and not lan.allows("8.8.8.8") and not lan.allows("10.0.0.1")
    both = parse_peer_networks(["global", "private"])
    assert both.allows("8.8.8.8") and both.allows("10.0.0.1") and not both.allows("127.0.0.1")


def test_it_refuses_a_setting_that_is_not_a_network() -> None:
    with pytest.raises(ImproperlyConfigured, match="ICE_ALLOWED_PEER_NETWORKS"):
        parse_peer_networks(["192.168.1.0/33"])


def offer(*sections: str, candidates: tuple[str, ...] = ()) -> str:
    lines = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    for section in sections:
        lines += [f"m={section} 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0"]
        lines += [f"a=candidate:1 1 udp 2122260223 {host} 50000 typ host" for host in candidates]
    return "\r\n".join(lines) + "\r\n"


def test_it_keeps_only_allowed_candidates_of_an_offer() -> None:
    screened = screen_offer(
        offer("audio", candidates=("10.0.0.7", "8.8.8.8", "192.168.1.20", "x.local")),
        policy=GLOBAL,
        max_candidates=32,
    )
    assert (screened.candidates, screened.dropped) == (1, 3)
    assert "8.8.8.8" in screened.sdp
    assert "10.0.0.7" not in screened.sdp and "192.168.1.20" not in screened.sdp
    assert "x.local" not in screened.sdp


def test_it_keeps_at_most_the_cap_of_candidates() -> None:
    many = tuple(f"8.8.8.{n}" for n in range(1, 41))
    screened = screen_offer(offer("audio", candidates=many), policy=GLOBAL, max_candidates=32)
    assert (screened.candidates, screened.dropped) == (32, 8)


@pytest.mark.parametrize(
    "sections", [(), ("video",), ("audio", "audio"), ("audio", "video"), ("audio", "application")]
)
def test_it_refuses_an_offer_without_exactly_one_audio_section(sections: tuple[str, ...]) -> None:
    with pytest.raises(BadOffer, match="exactly one audio section"):
        screen_offer(offer(*sections), policy=GLOBAL, max_candidates=32)
