"""Which language the pages speak: a visitor's browser, a signed-in person's own choice (by
default the language they hear), a guest's language once chosen; the footer's switcher."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.contrib.auth.models import AbstractUser
from django.core.mail import EmailMessage
from django.test import Client

from rooms import services
from rooms.languages import page_language
from rooms.models import Room


def html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)"', body)
    assert match, body[:300]
    return match.group(1)


def test_it_greets_a_visitor_in_their_browsers_language(client: Client, db: None) -> None:
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9,en;q=0.5").content.decode()
    assert html_lang(body) == "es"
    assert "Habla con quien quieras, cada uno en su idioma." in body


def test_it_maps_a_chinese_browser_to_simplified_chinese(client: Client, db: None) -> None:
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert html_lang(body) == "zh-hans"


def test_it_falls_back_to_english_for_a_language_it_does_not_have(client: Client, db: None) -> None:
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="nl-NL").content.decode()
    assert html_lang(body) == "en"
    assert "Talk with anyone, each in your own language." in body


def test_it_shows_a_signed_in_person_the_language_they_hear(
    member: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    # Mateo hears Spanish and chose no other page language; his browser asking for French
    # does not change his pages.
    services.profile_set_page_language(profile=member.profile, page_language="")
    body = client_for(member).get("/rooms/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert html_lang(body) == "es"
    assert "Mis salas" in body


def test_it_lets_a_signed_in_person_choose_another_language_in_the_footer(
    member: AbstractUser, client_for: Callable[[AbstractUser], Client]
) -> None:
    client = client_for(member)
    response = client.post("/language/", {"language": "ja", "next": "/rooms/"})
    assert response.status_code == 302 and response["Location"] == "/rooms/"
    member.profile.refresh_from_db()
    assert member.profile.page_language == "ja"
    # The choice is the person's, on every device: a fresh browser without the cookie has it too.
    other_device = client_for(member)
    other_device.cookies.clear()
    other_device.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    assert html_lang(other_device.get("/rooms/").content.decode()) == "ja"


def test_it_lets_a_visitor_switch_with_the_footer(client: Client, db: None) -> None:
    client.post("/language/", {"language": "hi", "next": "/"}, HTTP_ACCEPT_LANGUAGE="en")
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html_lang(body) == "hi"


def test_it_refuses_a_language_it_does_not_offer(client: Client, db: None) -> None:
    response = client.post("/language/", {"language": "xx", "next": "/"})
    assert response.status_code == 400
    assert html_lang(client.get("/").content.decode()) == "en"


def test_it_checks_the_switchers_csrf_token(db: None) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/language/", {"language": "fr", "next": "/"}).status_code == 403


def test_it_offers_the_switcher_on_every_page_in_each_languages_own_name(client: Client, db: None) -> None:
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'action="/language/"' in body
    for name in ("Español", "Deutsch", "日本語", "हिन्दी", "中文（简体）", "Tiếng Việt"):
        assert name in body


def test_it_shows_a_visitor_the_invite_page_in_their_language_with_it_preselected(
    client: Client, room: Room, token: str
) -> None:
    body = client.get(f"/i/{token}/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9").content.decode()
    assert html_lang(body) == "es"
    assert "Entrar como invitado" in body
    assert '<option value="es" selected>' in body


def test_it_speaks_a_guests_chosen_language_once_they_join(client: Client, room: Room, token: str) -> None:
    # Bruno's browser says Spanish, but he picks Japanese on the invite page.
    page = client.post(
        f"/i/{token}/", {"display_name": "Bruno", "language": "ja"}, HTTP_ACCEPT_LANGUAGE="es", follow=True
    )
    assert html_lang(page.content.decode()) == "ja"


def test_it_serves_the_scripts_strings_in_the_pages_language(client: Client, db: None) -> None:
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="es")
    catalog = json.loads(response.content)["catalog"]
    assert catalog["Join call"] == "Unirse a la llamada"


def test_it_writes_allauths_emails_in_the_readers_language(
    client: Client, owner: AbstractUser, mailoutbox: list[EmailMessage]
) -> None:
    # allauth ships no Hindi: locale_allauth/ does, down to the password reset e-mail.
    client.post("/accounts/password/reset/", {"email": owner.email}, HTTP_ACCEPT_LANGUAGE="hi")
    (mail,) = mailoutbox
    assert "पासवर्ड रीसेट ईमेल" in mail.subject
    assert "आपको यह ईमेल इसलिए मिला है" in mail.body


def test_it_gives_a_listener_language_without_pages_english_pages() -> None:
    assert page_language(chosen="", hears="tr") == "en"
    assert page_language(chosen="", hears="zh") == "zh-hans"
    assert page_language(chosen="ko", hears="zh") == "ko"
