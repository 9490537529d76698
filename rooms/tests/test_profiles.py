"""Every user has a profile, however they were made."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import call_command

from rooms.models import Profile


def test_it_gives_a_new_user_a_profile(db: None) -> None:
    user = get_user_model().objects.create_user(username="ann", email="ann@example.com", password="x")
    assert Profile.objects.get(user=user).hear_language == "en"
    assert user.profile.is_guest is False


def test_it_gives_a_superuser_a_profile(db: None) -> None:
    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    assert Profile.objects.filter(user__username="root").exists()


def test_it_names_a_person_by_their_email_until_they_choose_a_name(db: None) -> None:
    user = get_user_model().objects.create_user(username="ann@example.com", email="ann@example.com")
    assert user.profile.name == "ann"
