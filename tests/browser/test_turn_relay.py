"""A call relayed through a real coturn, as for a phone on a cellular network.

coturn runs on loopback with docker-compose.yml's flags (media_workers.devtools.stack.Coturn), the web
tier hands each page its own TURN credentials (TURN_URLS, TURN_SECRET), and both Chromiums
are held to relay candidates only (iceTransportPolicy "relay"), so no audio can reach the
media worker except through coturn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Coturn, Stack
from tests.support.people import Person
from tests.support.rooms import make_room
from tests.support.stack import running_stack

from .conftest import HEARS, Launch, join_call, log_in, new_page, until_hears

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")

# Every RTCPeerConnection the page makes takes relay candidates only, whatever the page asks.
RELAY_ONLY_JS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.__peers = [];
  window.RTCPeerConnection = function (config, ...rest) {
    const peer = new Native({ ...(config || {}), iceTransportPolicy: "relay" }, ...rest);
    window.__peers.push(peer);
    return peer;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""

# The local and remote candidate types of the pair the page's call uses now.
SELECTED_PAIR_JS = """
async () => {
  const peer = window.__peers[window.__peers.length - 1];
  const stats = [...(await peer.getStats()).values()];
  const transport = stats.find((s) => s.type === "transport");
  const pair = stats.find((s) => s.id === transport.selectedCandidatePairId);
  const local = stats.find((s) => s.id === pair.localCandidateId);
  const remote = stats.find((s) => s.id === pair.remoteCandidateId);
  return { local: local.candidateType, localAddress: local.address, remote: remote.candidateType,
           servers: peer.getConfiguration().iceServers.map((s) => s.urls).flat() };
}
"""


@pytest.fixture(scope="module")
def stack(django_db_setup: None, coturn: Coturn) -> Iterator[Stack]:
    env = {"TURN_URLS": coturn.url, "TURN_SECRET": coturn.secret, "TURN_TTL_SECONDS": "600"}
    with running_stack(fake_mode="tone", extra_env=env) as running:
        yield running


@pytest.fixture
def room_path() -> str:
    return f"/r/{make_room(ALICE, BRUNO).public_id}/"


def relayed_page(chromium: Launch, tone_hz: float, stack: Stack, person: Person, room_path: str) -> Page:
    page = new_page(chromium(tone_hz))
    page.context.add_init_script(RELAY_ONLY_JS)
    log_in(page, stack.base_url, person.email)
    page.goto(f"{stack.base_url}{room_path}")
    return page


def test_it_relays_a_call_through_coturn_and_both_people_hear_each_other(
    stack: Stack, coturn: Coturn, room_path: str, chromium: Launch
) -> None:
    alice = relayed_page(chromium, 400, stack, ALICE, room_path)
    bruno = relayed_page(chromium, 1000, stack, BRUNO, room_path)
    join_call(alice)
    join_call(bruno)

    alice_hears = until_hears(alice, 1000 * TONE_FACTORS["en"])
    bruno_hears = until_hears(bruno, 400 * TONE_FACTORS["es"])
    assert alice_hears > HEARS and bruno_hears > HEARS, (alice_hears, bruno_hears)
    for page in (alice, bruno):
        pair = page.evaluate(SELECTED_PAIR_JS)
        # The page's side of the pair is coturn's relay address; the worker's is its own host one.
        assert pair["local"] == "relay" and pair["localAddress"] == "127.0.0.1", pair
        assert pair["remote"] == "host", pair
        assert pair["servers"] == [coturn.url], pair
