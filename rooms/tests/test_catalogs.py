"""The translations: every catalog complete and compiled, every page free of English in every language.

The compiled catalogs (.mo) are committed, so a fresh clone and the Docker image need no gettext;
these tests (with gettext's own tools) make sure they match their .po files.
"""

from __future__ import annotations

import gettext
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils.translation import to_locale

from rooms import services
from rooms.models import Room

LOCALE = Path(settings.BASE_DIR) / "locale"
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != "en"]
# Ours, and allauth's strings in the languages allauth has no catalog for under our code.
ALLAUTH = sorted(Path(settings.BASE_DIR, "locale_allauth").glob("*/LC_MESSAGES/django.po"))


def po_path(code: str, domain: str) -> Path:
    return LOCALE / to_locale(code) / "LC_MESSAGES" / f"{domain}.po"


ALL_PO = [po_path(code, domain) for code in TRANSLATED for domain in ("django", "djangojs")] + ALLAUTH


def msgattrib(*args: str) -> str:
    return subprocess.run(
        ["msgattrib", "--no-obsolete", *args], capture_output=True, text=True, check=True
    ).stdout


def catalog(mo: Path) -> dict[object, str]:
    with open(mo, "rb") as f:
        strings: dict[object, str] = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    return {key: value for key, value in strings.items() if key != ""}


def short(po: Path) -> str:
    return str(po.relative_to(settings.BASE_DIR))


@pytest.mark.parametrize("po", ALL_PO, ids=short)
def test_it_translates_every_string_with_nothing_fuzzy(po: Path) -> None:
    assert msgattrib("--untranslated", str(po)) == ""
    assert msgattrib("--only-fuzzy", str(po)) == ""


def test_it_has_a_catalog_for_every_language_and_both_domains() -> None:
    assert len(ALL_PO) == 12 * 2 + 3
    assert all(po.exists() for po in ALL_PO)


@pytest.mark.parametrize("po", ALL_PO, ids=short)
def test_it_ships_the_compiled_catalog_of_the_current_po(po: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.mo"
    # --check: placeholders and plural forms agree with the English (a broken one fails here).
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(po)], check=True)
    # The header (msgid "") carries dates that every makemessages run changes; the strings matter.
    assert catalog(po.with_suffix(".mo")) == catalog(fresh), (
        f"{po.with_suffix('.mo')} is out of date: run ./scripts/messages compile"
    )


JS_MARKED = re.compile(r"\bgettext(?:_noop)?\(\s*\"((?:[^\"\\]|\\.)*)\"\s*,?\s*\)")


def test_it_has_every_script_string_in_the_script_catalogs() -> None:
    marked = {
        json.loads(f'"{match.group(1)}"')
        for path in Path(settings.BASE_DIR, "static", "js").rglob("*.js")
        for match in JS_MARKED.finditer(path.read_text())
    }
    assert len(marked) > 40
    for code in TRANSLATED:
        assert marked - set(catalog(po_path(code, "djangojs").with_suffix(".mo"))) == set(), code


# English text a reader of another language must never meet: the page would be half translated.
ENGLISH = [
    "Join call",
    "Join as a guest",
    "Tap to hear the others",
    "Loading the call…",
    "Your microphone",
    "I want to hear",
    "Volume and captions",
    "Show captions",
    "In the call",
    "Log in",
    "Log out",
    "Sign up",
    "My rooms",
    "Page language",
    "Invite people",
    "Copy link",
    "Create room",
    "Room settings",
    "People in this room",
    "Your name",
    "Your language",
    "You're invited to",
    "No account needed",
    "This invite has expired",
    "This invite link doesn't work",
    "Go to the home page",
    "Talk with anyone",
    "Translation this month",
    "Not found",
    "Forgot your password",
    "This field is required",
    "Demo translation",
    "Captions of what the others say",
    "Check my microphone",
    "Volume boost on this device",
]


@pytest.mark.parametrize("code", TRANSLATED)
def test_it_shows_no_english_on_any_page(
    code: str, owner: AbstractUser, room: Room, token: str, client_for: Callable[[AbstractUser], Client]
) -> None:
    services.profile_set_page_language(profile=owner.profile, page_language=code)
    signed_in = client_for(owner)
    visitor = Client(HTTP_ACCEPT_LANGUAGE=code)
    expired = services.invite_create(room=room, created_by=owner, expires_in_days=1, max_uses=None)
    expired.invite.expires_at = expired.invite.created_at
    expired.invite.save()
    rendered = {
        "home": visitor.get("/"),
        "log in": visitor.get("/accounts/login/"),
        "log in, failed": visitor.post("/accounts/login/", {"login": "", "password": ""}),
        "sign up": visitor.get("/accounts/signup/"),
        "password reset": visitor.get("/accounts/password/reset/"),
        "invite": visitor.get(f"/i/{token}/"),
        "invite, no name": visitor.post(f"/i/{token}/", {"display_name": "", "language": "es"}),
        "invite, expired": visitor.get(f"/i/{expired.token}/"),
        "invite, unknown": visitor.get("/i/nonsense/"),
        "not found": visitor.get("/nowhere/"),
        "room list": signed_in.get("/rooms/"),
        "new room": signed_in.get("/rooms/new/"),
        "room and call": signed_in.get(f"/r/{room.public_id}/"),
        "rename": signed_in.get(f"/r/{room.public_id}/rename/"),
        "delete": signed_in.get(f"/r/{room.public_id}/delete/"),
        "account": signed_in.get("/profile/"),
        "password change": signed_in.get("/accounts/password/change/"),
    }
    for page, response in rendered.items():
        body = response.content.decode()
        assert f'<html lang="{code}"' in body, page
        found = [text for text in ENGLISH if text in body]
        assert found == [], f"{page} in {code}"
