"""TURN credentials for browsers: coturn's use-auth-secret (TURN REST API) scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.test import override_settings

from media_workers.shared.ice import browser_ice_servers, turn_credentials

SECRET = "shared-with-coturn"
TURN = {"TURN_URLS": ["turn:turn.example.org:3478", "turn:turn.example.org:3478?transport=tcp"]}


def turn_entry(servers: list[dict[str, object]]) -> dict[str, object]:
    [entry] = [s for s in servers if "username" in s]
    return entry


@override_settings(**TURN, TURN_SECRET=SECRET, TURN_TTL_SECONDS=600, ICE_SERVERS=[])
def test_it_gives_credentials_coturn_can_verify_with_the_shared_secret() -> None:
    entry = turn_entry(browser_ice_servers(42))
    assert entry["urls"] == TURN["TURN_URLS"]
    username = str(entry["username"])
    expected = base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()
    assert entry["credential"] == expected
    expiry, user_id = username.split(":")
    assert user_id == "42"
    assert time.time() < int(expiry) <= time.time() + 600 + 1


def test_it_makes_credentials_that_expire_after_the_ttl() -> None:
    username, _ = turn_credentials(secret=SECRET, user_id=7, ttl=3600, now=1_000_000)
    assert username == "1003600:7"
    # A credential from an hour ago with a shorter lifetime has already expired.
    old, _ = turn_credentials(secret=SECRET, user_id=7, ttl=60, now=time.time() - 3600)
    assert int(old.split(":")[0]) < time.time()


def test_it_gives_each_user_their_own_credentials() -> None:
    alice = turn_credentials(secret=SECRET, user_id=1, ttl=600, now=1_000_000)
    bruno = turn_credentials(secret=SECRET, user_id=2, ttl=600, now=1_000_000)
    assert alice[0] != bruno[0] and alice[1] != bruno[1]
    assert turn_credentials(secret="another", user_id=1, ttl=600, now=1_000_000)[1] != alice[1]


@override_settings(ICE_SERVERS=[{"urls": "stun:example.org:3478"}], TURN_URLS=[], TURN_SECRET=SECRET)
def test_it_gives_no_turn_credentials_without_turn_urls() -> None:
    assert browser_ice_servers(1) == [{"urls": "stun:example.org:3478"}]


@override_settings(**TURN, TURN_SECRET="", ICE_SERVERS=[])
def test_it_gives_no_turn_credentials_without_a_secret() -> None:
    assert browser_ice_servers(1) == []
