"""Keeps a Profile beside every user, however the user was made (signup, createsuperuser, admin)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="rooms.profile_for_new_user")
def profile_for_new_user(
    sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    # Fixtures load users and profiles separately; creating one here would collide.
    if created and not raw:
        Profile.objects.get_or_create(user=instance)
