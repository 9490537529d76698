"""The site in WebKit, Safari's engine (WebKitGTK): everything up to the call itself.

This engine has no RTCPeerConnection, so the room page must say it can't make calls, exactly
as an iPhone's in-app browser or an old iOS would; the microphone check, Safari's tap-to-start
rule for sound and the layout at phone width are the same as on an iPhone.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import Select

from media_workers.devtools.stack import Stack
from rooms import services
from tests.support.people import PASSWORD, Person, user_for
from tests.support.rooms import make_room

from .conftest import IPHONE_UA, PHONE_WIDTH, Launch, Phone

pytestmark = [pytest.mark.webkit, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
BRUNO = Person("bruno@example.com", "Bruno", "es")


def assert_fits_a_phone(phone: Phone) -> None:
    width = phone.driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{phone.path()} is {width} px wide at {PHONE_WIDTH} px"


def log_in(phone: Phone, person: Person) -> None:
    phone.open("/accounts/login/")
    phone.field("Email").send_keys(person.email)
    phone.field("Password").send_keys(PASSWORD)
    phone.button("Sign in").click()
    phone.wait_for_page("/rooms/")


def test_it_takes_a_new_person_from_sign_up_to_a_room_and_a_guest_to_its_lobby(webkit: Launch) -> None:
    alice = webkit()
    alice.open("/accounts/signup/")
    alice.field("Email").send_keys(ALICE.email)
    alice.field("Password").send_keys(PASSWORD)
    alice.field("Password (again)").send_keys(PASSWORD)
    alice.screenshot("webkit-signup-390.png")
    alice.button("Sign up").click()
    alice.wait_for_page("/rooms/")
    alice.open("/profile/")
    alice.field("Display name").send_keys("Alice")
    Select(alice.field("I speak")).select_by_value("en")
    Select(alice.field("I want to hear")).select_by_value("en")
    alice.button("Save").click()
    alice.wait(lambda: "Your profile is saved." in alice.text_of("main"))
    alice.open("/rooms/")
    alice.field("Room name").send_keys("Kitchen table")
    alice.button("Create room").click()
    alice.wait_for_page("/r/")
    assert_fits_a_phone(alice)
    alice.screenshot("webkit-room-owner-390.png")
    invite_link = alice.text_of(".invite-link code").strip()
    assert invite_link.startswith(alice.base_url)

    bruno = webkit(user_agent=IPHONE_UA)
    bruno.open(invite_link.removeprefix(bruno.base_url))
    bruno.field("Your name").send_keys("Bruno")
    Select(bruno.field("Your language")).select_by_value("es")
    bruno.button("Join as a guest").click()
    bruno.wait_for_page("/r/")
    bruno.wait(lambda: bruno.text_of("h1").strip() == "Kitchen table")
    # The lobby: the call explains itself instead of offering a Join button that can't work,
    # in the Spanish Bruno chose.
    bruno.wait(lambda: "no puede hacer llamadas" in bruno.text_of("[data-call-alert]"))
    assert not bruno.find("[data-call-join]").is_enabled()
    assert_fits_a_phone(bruno)
    bruno.screenshot("webkit-guest-lobby-390.png")
    assert alice.errors() == [] and bruno.errors() == []


def test_it_loads_every_page_without_errors(stack: Stack, webkit: Launch) -> None:
    room = make_room(ALICE, BRUNO)
    phone = webkit()
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        phone.open(path)
        assert_fits_a_phone(phone)
    log_in(phone, ALICE)
    for path in ("/rooms/", "/profile/", f"/r/{room.public_id}/", f"/r/{room.public_id}/rename/"):
        phone.open(path)
        assert_fits_a_phone(phone)
    # The room page's modules ran under the CSP: they connected the socket and said hello.
    phone.open(f"/r/{room.public_id}/")
    phone.wait(lambda: phone.text_of("[data-call-state]") == "Not in the call")
    assert phone.errors() == []
    # And the watch on errors works: one thrown in the page is seen.
    phone.driver.execute_script("setTimeout(() => { throw new Error('seen by the test'); })")
    phone.wait(lambda: any("seen by the test" in error for error in phone.errors()))


def test_it_explains_it_cant_make_calls_and_offers_the_link_for_safari(stack: Stack, webkit: Launch) -> None:
    room = make_room(ALICE)
    phone = webkit()
    log_in(phone, ALICE)
    phone.open(f"/r/{room.public_id}/")
    phone.wait(lambda: phone.text_of("[data-call-alert]").startswith("This browser can't make calls"))
    assert not phone.find("[data-call-join]").is_enabled()
    phone.button("Open in Safari").click()
    link = phone.find("[data-call-link]")
    phone.wait(link.is_displayed)
    assert link.get_attribute("value") == f"{stack.base_url}/r/{room.public_id}/"
    assert "paste it into the address bar" in phone.text_of("[data-call-link-note]")
    phone.screenshot("webkit-cant-call-390.png")
    assert phone.errors() == []


def test_it_checks_the_microphone_with_the_mock_device(stack: Stack, webkit: Launch) -> None:
    room = make_room(ALICE)
    phone = webkit()
    log_in(phone, ALICE)
    phone.open(f"/r/{room.public_id}/")
    phone.button("Check my microphone").click()
    phone.wait(lambda: phone.text_of("[data-call-check-status]") == "We can hear you. Your microphone works.")
    bar = phone.find("[data-call-check-meter]")
    assert bar.value_of_css_property("transform") != "none", "the meter did not move"
    # The explanation of why this browser can't call stays.
    assert phone.text_of("[data-call-alert]").startswith("This browser can't make calls")
    phone.screenshot("webkit-microphone-check-390.png")
    assert phone.errors() == []


# Plays a stream through the call's Playback, as the room page plays the call, and wires the
# page's own "Tap to hear the others" button to it. The stream is made by Web Audio, not the
# microphone: Safari lets a page that is capturing start sound without a tap (as in a call with
# the microphone on); the tap is for when it is not (after an interruption took the microphone).
START_PLAYBACK_JS = """
const done = arguments[arguments.length - 1];
(async () => {
  const { Playback } = await import("/static/js/call/playback.js");
  const tap = document.querySelector("[data-call-tap]");
  const playback = new Playback(document.querySelector("[data-call-audio]"), {
    onNeedsTap: (needed) => { tap.hidden = !needed; },
  });
  tap.addEventListener("click", () => playback.unlock());
  const context = new AudioContext();
  playback.use(context);
  const remote = new AudioContext();
  const oscillator = remote.createOscillator();
  const destination = remote.createMediaStreamDestination();
  oscillator.connect(destination);
  oscillator.start();
  playback.play(destination.stream);
  window.__playback = playback;
  done(context.state);
})().catch((error) => done(`failed: ${error}`));
"""


def test_it_starts_the_sound_only_from_a_tap(stack: Stack, webkit: Launch) -> None:
    room = make_room(ALICE)
    phone = webkit()
    log_in(phone, ALICE)
    phone.open(f"/r/{room.public_id}/")
    assert phone.driver.execute_async_script(START_PLAYBACK_JS) == "suspended"
    tap = phone.find("[data-call-tap]")
    phone.wait(tap.is_displayed)
    # Without a tap the sound stays off, however long the page waits (Safari's rule).
    phone.driver.execute_async_script("setTimeout(arguments[0], 1000)")
    assert phone.driver.execute_script("return window.__playback.context.state") == "suspended"
    phone.screenshot("webkit-tap-to-hear-390.png")
    tap.click()
    phone.wait(lambda: phone.driver.execute_script("return window.__playback.context.state") == "running")
    phone.wait(lambda: not tap.is_displayed())
    assert phone.errors() == []


def test_it_tells_a_guest_the_call_is_transcribed_before_they_join(stack: Stack, webkit: Launch) -> None:
    room, issued = services.room_create(owner=user_for(ALICE), name="Kitchen table")
    services.room_set_keep_transcripts(room=room, keep=True)
    bruno = webkit(user_agent=IPHONE_UA)
    bruno.open(f"/i/{issued.token}/")
    notice = bruno.find("[data-transcribed-notice]")
    assert notice.is_displayed() and "This call is transcribed" in notice.text
    assert "If you don't agree, don't join" in notice.text
    # Told before the button that lets them in: leaving now keeps nothing of theirs.
    join = bruno.button("Join as a guest")
    assert notice.location["y"] < join.location["y"]
    assert_fits_a_phone(bruno)
    bruno.screenshot("webkit-guest-transcribed-390.png")
    bruno.field("Your name").send_keys("Bruno")
    Select(bruno.field("Your language")).select_by_value("en")
    join.click()
    bruno.wait_for_page("/r/")
    # And again in the room's lobby, where the call is joined.
    bruno.wait(lambda: "This call is transcribed" in bruno.text_of("[data-transcribed-notice]"))
    assert bruno.find("[data-transcribed-notice]").is_displayed()
    assert bruno.errors() == []


def test_it_offers_the_turn_based_languages_in_a_marked_group_to_a_guest(webkit: Launch) -> None:
    _room, issued = services.room_create(owner=user_for(ALICE), name="Kitchen table")
    tarik = webkit(user_agent=IPHONE_UA)
    tarik.open(f"/i/{issued.token}/")
    label = tarik.driver.execute_script(
        "return document.querySelector('#id_language option[value=tr]').parentElement.label"
    )
    assert label == "Turn-based: you hear each sentence after it ends"
    tarik.field("Your name").send_keys("Tarık")
    Select(tarik.field("Your language")).select_by_value("tr")
    assert_fits_a_phone(tarik)
    tarik.screenshot("webkit-guest-turn-based-390.png")
    tarik.button("Join as a guest").click()
    tarik.wait_for_page("/r/")
    # No page language for Turkish: the lobby is in English.
    tarik.wait(lambda: "can't make calls" in tarik.text_of("[data-call-alert]"))
    assert_fits_a_phone(tarik)
    assert tarik.errors() == []
