"""Signing up, logging in and out, and resetting a password (django-allauth, in the site's clothes)."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.support.people import PASSWORD


def test_it_signs_up_with_email_and_password(client: Client, db: None) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/rooms/"
    assert "My rooms" in response.content.decode()
    user = get_user_model().objects.get(email="new@example.com")
    assert user.profile.is_guest is False


def test_it_wears_the_site_layout_on_the_signup_page(client: Client, db: None) -> None:
    body = client.get("/accounts/signup/").content.decode()
    assert 'class="site-header"' in body
    assert "/static/css/site.css" in body
    assert '<label for="id_email">' in body


def test_it_logs_in_and_out(client: Client, owner: object) -> None:
    response = client.post(
        "/accounts/login/", {"login": "olivia@example.com", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/rooms/"
    assert "Log out" in response.content.decode()

    response = client.post("/accounts/logout/", follow=True)
    assert "Log in" in response.content.decode()
    assert client.get("/rooms/").status_code == 302


def test_it_refuses_a_wrong_password(client: Client, owner: object) -> None:
    response = client.post("/accounts/login/", {"login": "olivia@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.content.decode()


def test_it_stops_guessing_after_five_failed_logins(client: Client, owner: object) -> None:
    for _ in range(5):
        client.post("/accounts/login/", {"login": "olivia@example.com", "password": "nope"})
    # Even the right password is refused for now: the account is being guessed at.
    response = client.post("/accounts/login/", {"login": "olivia@example.com", "password": PASSWORD})
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_still_lets_the_owner_in_below_the_limit(client: Client, owner: object) -> None:
    for _ in range(4):
        client.post("/accounts/login/", {"login": "olivia@example.com", "password": "nope"})
    response = client.post("/accounts/login/", {"login": "olivia@example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_it_resets_a_forgotten_password_by_email(client: Client, owner: object) -> None:
    response = client.post("/accounts/password/reset/", {"email": "olivia@example.com"}, follow=True)
    assert response.status_code == 200
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["olivia@example.com"]
    link = re.search(r"http://\S+(/accounts/password/reset/key/\S+/)", message.body)
    assert link is not None

    # The key URL redirects once to a form that keeps the key in the session.
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    new_password = "a brand new passphrase 42"
    response = client.post(
        form_page.redirect_chain[-1][0], {"password1": new_password, "password2": new_password}, follow=True
    )
    assert "Your password is now changed." in response.content.decode()

    fresh = Client()
    login = fresh.post("/accounts/login/", {"login": "olivia@example.com", "password": new_password})
    assert login.status_code == 302
