"""The pages in the reader's language, in a real browser: a Spanish guest from the first click,
and the call page on a phone in three scripts (Latin, Devanagari, CJK) without overflow.

Chromium's `locale` sets both its Accept-Language and `navigator.language`, as a phone set to
that language would.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import Stack
from rooms import services
from tests.support.people import Person, user_for

from .conftest import UI_TIMEOUT_MS, Launch, join_call, log_in, new_page, screenshot, until_hears

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALICE = Person("alice@example.com", "Alice", "en")
ALICE_TONE = 400
BRUNO_TONE = 1000


@pytest.fixture
def invite_path() -> str:
    """A room Alice owns and its invite link, made before any browser starts (see conftest)."""
    _room, issued = services.room_create(owner=user_for(ALICE), name="Mesa de la cocina")
    return f"/i/{issued.token}/"


def phone(browser: Browser, locale: str) -> Page:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale)
    context.set_default_timeout(UI_TIMEOUT_MS)
    return context.new_page()


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def test_it_shows_a_spanish_guest_his_language_from_the_first_click(
    stack: Stack, invite_path: str, chromium: Launch
) -> None:
    alice = new_page(chromium(ALICE_TONE))
    log_in(alice, stack.base_url, ALICE.email)
    alice.goto(f"{stack.base_url}/rooms/")
    alice.get_by_role("link", name="Mesa de la cocina").click()
    join_call(alice)

    bruno = phone(chromium(BRUNO_TONE), "es-ES")
    bruno.goto(f"{stack.base_url}{invite_path}")
    expect(bruno.locator("html")).to_have_attribute("lang", "es")
    expect(bruno.get_by_text("Te han invitado a")).to_be_visible()
    expect(bruno.get_by_role("heading", name="Entrar como invitado")).to_be_visible()
    expect(
        bruno.get_by_text("No necesitas cuenta. Tu pase de invitado sirve solo para esta sala.")
    ).to_be_visible()
    # His language is already chosen: the browser said Spanish.
    expect(bruno.get_by_label("Tu idioma")).to_have_value("es")
    bruno.get_by_label("Tu nombre").fill("Bruno")
    bruno.get_by_role("button", name="Entrar como invitado").click()

    expect(bruno.get_by_role("heading", name="Mesa de la cocina")).to_be_visible()
    expect(bruno.get_by_text("Invitado: Bruno")).to_be_visible()
    expect(bruno.get_by_role("heading", name="Llamada en directo")).to_be_visible()
    expect(bruno.get_by_text("Tu navegador te pedirá acceso al micrófono.")).to_be_visible()
    bruno.get_by_role("button", name="Unirse a la llamada").click()
    # From here on the call page's script writes the text, from the Spanish JSON catalog.
    expect(bruno.locator("[data-call-state]")).to_have_text("En la llamada")
    expect(bruno.locator("[data-call-people]")).to_contain_text("Bruno (tú)")
    expect(bruno.locator("[data-call-people]")).to_contain_text("escucha en Español")
    expect(bruno.get_by_role("heading", name="Subtítulos")).to_be_visible()
    assert until_hears(bruno, ALICE_TONE * TONE_FACTORS["es"]) > 0.4
    expect(bruno.locator(".caption-name").first).to_have_text("Alice")

    mute = bruno.get_by_role("button", name="Silenciar")
    mute.click()
    expect(bruno.get_by_role("button", name="Activar micrófono")).to_be_visible()
    assert fits_the_screen(bruno)
    bruno.locator("#call").scroll_into_view_if_needed()
    screenshot(bruno, "call-es-390x844.png")

    bruno.get_by_role("button", name="Salir").click()
    expect(bruno.locator("[data-call-state]")).to_have_text("Has salido de la llamada")
    expect(bruno.get_by_role("button", name="Unirse a la llamada")).to_be_visible()
    # The footer offers the other languages; he may read the pages in English after all.
    bruno.get_by_label("Idioma de la página").select_option("en")
    bruno.get_by_role("button", name="Cambiar").click()
    expect(bruno.locator("html")).to_have_attribute("lang", "en")
    expect(bruno.get_by_role("button", name="Join call")).to_be_visible()


@pytest.mark.parametrize(
    ("locale", "language", "join_as_guest", "join", "in_the_call", "script"),
    [
        ("hi-IN", "hi", "मेहमान के रूप में जुड़ें", "कॉल से जुड़ें", "कॉल में", "devanagari"),
        ("zh-CN", "zh-hans", "以访客身份加入", "加入通话", "通话中", "cjk"),
    ],
)
def test_it_fits_the_call_page_on_a_phone_in_other_scripts(
    stack: Stack,
    invite_path: str,
    chromium: Launch,
    locale: str,
    language: str,
    join_as_guest: str,
    join: str,
    in_the_call: str,
    script: str,
) -> None:
    guest = phone(chromium(BRUNO_TONE), locale)
    guest.goto(f"{stack.base_url}{invite_path}")
    expect(guest.locator("html")).to_have_attribute("lang", language)
    expect(guest.locator("html")).to_have_attribute("dir", "ltr")
    guest.locator("#id_display_name").fill("Guest")
    guest.get_by_role("button", name=join_as_guest).click()
    guest.get_by_role("button", name=join).click()
    expect(guest.locator("[data-call-state]")).to_have_text(in_the_call)
    assert fits_the_screen(guest)
    guest.locator("#call").scroll_into_view_if_needed()
    screenshot(guest, f"call-{language}-{script}-390x844.png")


def test_it_offers_the_turn_based_languages_marked_and_shows_right_to_left_names_whole(
    stack: Stack, invite_path: str, chromium: Launch
) -> None:
    guest = phone(chromium(BRUNO_TONE), "en-US")
    guest.goto(f"{stack.base_url}{invite_path}")
    # The invite page: Turkish is there, in the group that says how it sounds.
    marked = guest.locator('#id_language optgroup[label="Turn-based: you hear each sentence after it ends"]')
    expect(marked.locator("option")).to_have_count(16)
    expect(marked.locator('option[value="tr"]')).to_have_text("Türkçe")
    expect(guest.locator('#id_language > option[value="es"]')).to_have_text("Español")
    guest.locator("#id_display_name").fill("Tarık")
    guest.get_by_label("Your language").select_option("tr")
    guest.get_by_role("button", name="Join as a guest").click()

    guest.get_by_role("button", name="Join call").click()
    expect(guest.locator("[data-call-state]")).to_have_text("In the call")
    # The call page's own list, drawn by its script, marks them the same way.
    language = guest.locator("[data-call-language]")
    expect(language).to_have_value("tr")
    group = language.locator("optgroup")
    expect(group).to_have_attribute("label", "Turn-based: you hear each sentence after it ends")
    expect(group.locator("option")).to_have_count(16)
    expect(group.locator('option[value="ar"]')).to_have_text("العربية")
    expect(guest.locator("[data-call-people]")).to_contain_text("hears Türkçe")

    # An Arabic name inside an English sentence keeps its own direction, and the page still fits.
    language.select_option("ar")
    people = guest.locator("[data-call-people]")
    expect(people).to_contain_text("hears العربية")
    name = people.locator('[lang="ar"]')
    expect(name).to_have_attribute("dir", "auto")
    assert name.evaluate("element => getComputedStyle(element).unicodeBidi") == "isolate"
    assert fits_the_screen(guest)
    guest.locator("#call").scroll_into_view_if_needed()
    screenshot(guest, "call-en-arabic-listener-390x844.png")
