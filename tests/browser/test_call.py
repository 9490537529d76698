"""The room page's live call in real browsers: two people, two Chromiums, real servers.

Each browser's microphone is a steady tone. The fake translator turns a tone f into
f x TONE_FACTORS[listener language], so what a page plays tells whose voice it is and in
which language it was translated.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from media_workers.devtools.stack import Stack
from tests.support.people import PASSWORD, Person
from tests.support.rooms import make_room

from .conftest import (
    ABSENT,
    ALICE,
    ALICE_IN_GERMAN,
    ALICE_IN_SPANISH,
    ALICE_TONE,
    BRUNO,
    BRUNO_IN_ENGLISH,
    BRUNO_TONE,
    Launch,
    assert_hears,
    caption_tones,
    join_call,
    listen,
    log_in,
    new_page,
    screenshot,
    until_hears,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def hears_tone_in_captions(page: Page, freq: float) -> bool:
    return any(abs(found - freq) <= 0.03 * freq for found in caption_tones(page))


def assert_silent(page: Page, freq: float) -> None:
    share = until_hears(page, freq, audible=False)
    assert share < ABSENT, f"{page.url} still plays {freq:.0f} Hz ({share:.3f} of its sound)"


def test_it_takes_two_strangers_from_sign_up_to_hearing_each_other_translated(
    stack: Stack, chromium: Launch
) -> None:
    alice = new_page(chromium(ALICE_TONE))
    bruno = new_page(chromium(BRUNO_TONE), width=375, height=812)

    alice.goto(f"{stack.base_url}/accounts/signup/")
    alice.get_by_label("Email").fill("alice@example.com")
    alice.get_by_label("Password:", exact=True).fill(PASSWORD)
    alice.get_by_label("Password (again)").fill(PASSWORD)
    alice.get_by_role("button", name="Sign up").click()
    alice.get_by_role("link", name="Account").click()
    alice.get_by_label("Display name").fill("Alice")
    alice.get_by_label("I want to hear").select_option("en")
    alice.get_by_label("I speak").select_option("en")
    alice.get_by_role("button", name="Save").click()
    expect(alice.get_by_text("Your profile is saved.")).to_be_visible()
    alice.get_by_role("link", name="My rooms").click()
    alice.get_by_label("Room name").fill("Kitchen table")
    alice.get_by_role("button", name="Create room").click()
    invite_link = alice.locator(".invite-link code").inner_text().strip()

    bruno.goto(invite_link)
    bruno.get_by_label("Your name").fill("Bruno")
    bruno.get_by_label("Your language").select_option("es")
    bruno.get_by_role("button", name="Join as a guest").click()
    expect(bruno.get_by_role("heading", name="Kitchen table")).to_be_visible()

    screenshot(alice, "room-before-joining-390x844.png")
    expect(alice.get_by_text("Demo translation — you'll hear the others' own voices")).to_be_visible()
    join_call(alice)
    expect(alice.get_by_role("button", name="Mute")).to_be_visible()
    # Bruno chose Spanish on the invite page, so his pages speak it (tests/browser/test_languages.py).
    expect(bruno.get_by_text("Traducción de demostración: oirás las voces")).to_be_visible()
    bruno.get_by_role("button", name="Unirse a la llamada").click()
    expect(bruno.locator("[data-call-state]")).to_have_text("En la llamada")

    assert_hears(bruno, ALICE_IN_SPANISH)
    assert_hears(alice, BRUNO_IN_ENGLISH)
    # Nobody hears their own voice translated.
    assert listen(alice).share(ALICE_IN_SPANISH) < ABSENT
    assert listen(bruno).share(BRUNO_IN_ENGLISH) < ABSENT

    for page, other, heard in ((alice, "Bruno", BRUNO_IN_ENGLISH), (bruno, "Alice", ALICE_IN_SPANISH)):
        expect(page.locator(".caption-name").first).to_have_text(other)
        expect(page.locator(".caption-translation").first).to_contain_text(" Hz")
        assert hears_tone_in_captions(page, heard), caption_tones(page)
    expect(alice.locator("[data-call-people]")).to_contain_text("Alice (you)")
    expect(alice.locator("[data-call-people]")).to_contain_text("Bruno")
    expect(bruno.locator("[data-call-people]")).to_contain_text("escucha en Español")

    # A phone held upright, and Alice's turned sideways: nothing wider than the screen.
    assert bruno.evaluate("document.documentElement.scrollWidth") <= 375
    alice.locator("#call").scroll_into_view_if_needed()
    screenshot(alice, "room-call-390x844.png")
    alice.set_viewport_size({"width": 844, "height": 390})
    assert alice.evaluate("document.documentElement.scrollWidth") <= 844
    alice.locator("[data-call-captions]").scroll_into_view_if_needed()
    screenshot(alice, "room-call-844x390.png")


@pytest.fixture
def room_path() -> str:
    """A room Alice owns and Bruno joined, made before any browser starts (see conftest)."""
    return f"/r/{make_room(ALICE, BRUNO).public_id}/"


def open_room(page: Page, stack: Stack, person: Person, room_path: str) -> None:
    log_in(page, stack.base_url, person.email)
    page.goto(f"{stack.base_url}{room_path}")


def test_it_mutes_switches_language_leaves_and_rejoins_also_after_a_reload(
    stack: Stack, room_path: str, chromium: Launch
) -> None:
    alice = new_page(chromium(ALICE_TONE))
    bruno = new_page(chromium(BRUNO_TONE))
    for page, person in ((alice, ALICE), (bruno, BRUNO)):
        open_room(page, stack, person, room_path)
        join_call(page)
    assert_hears(bruno, ALICE_IN_SPANISH)

    alice.get_by_role("button", name="Mute").click()
    expect(alice.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    assert_silent(bruno, ALICE_IN_SPANISH)
    expect(bruno.locator(".person", has_text="Alice")).to_contain_text("muted")
    alice.get_by_role("button", name="Unmute").click()
    assert_hears(bruno, ALICE_IN_SPANISH)

    bruno.get_by_label("I want to hear", exact=True).select_option("de")
    assert_hears(bruno, ALICE_IN_GERMAN)
    assert_silent(bruno, ALICE_IN_SPANISH)
    expect(alice.locator(".person", has_text="Bruno")).to_contain_text("hears Deutsch")

    bruno.get_by_role("button", name="Leave").click()
    expect(bruno.get_by_role("button", name="Join call")).to_be_visible()
    assert_silent(alice, BRUNO_IN_ENGLISH)
    expect(alice.locator("[data-call-people]")).not_to_contain_text("Bruno")
    join_call(bruno)
    assert_hears(alice, BRUNO_IN_ENGLISH)
    assert_hears(bruno, ALICE_IN_GERMAN)

    alice.reload()
    expect(alice.get_by_role("button", name="Join call")).to_be_visible()
    assert_silent(bruno, ALICE_IN_GERMAN)
    join_call(alice)
    assert_hears(bruno, ALICE_IN_GERMAN)
    assert_hears(alice, BRUNO_IN_ENGLISH)


def test_it_hands_the_call_to_the_tab_that_joined_last(
    stack: Stack, room_path: str, chromium: Launch
) -> None:
    first = new_page(chromium(ALICE_TONE))
    open_room(first, stack, ALICE, room_path)
    second = first.context.new_page()
    second.goto(first.url)
    join_call(first)
    join_call(second)

    expect(first.get_by_role("alert")).to_contain_text("You joined this call from another tab or device")
    expect(first.locator("[data-call-state]")).to_have_text("Not in the call")
    first.get_by_role("button", name="Join here instead").click()
    expect(first.locator("[data-call-state]")).to_have_text("In the call")
    expect(second.get_by_role("alert")).to_contain_text("You joined this call from another tab or device")
