"""Keeps a Profile beside every user, however the user was made (signup, createsuperuser, admin),
and ends a user's open call pages when they log out or change their password."""

from __future__ import annotations

import logging
from typing import Any

from allauth.account.signals import password_changed, password_reset
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from media_workers.shared.contract import AccessCheck

from .models import Profile

logger = logging.getLogger(__name__)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="rooms.profile_for_new_user")
def profile_for_new_user(
    sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    # Fixtures load users and profiles separately; creating one here would collide.
    if created and not raw:
        Profile.objects.get_or_create(user=instance)


def user_group(user_id: object) -> str:
    """The channel-layer group of every open room page of one user."""
    return f"user.{user_id}"


def _check_user_sockets(user: Any, ended_session: str | None = None) -> None:
    if user is None or user.pk is None:
        return
    message = AccessCheck(ended_session=ended_session).to_dict()
    try:
        async_to_sync(get_channel_layer().group_send)(user_group(user.pk), message)
    except Exception:
        # Their pages still re-check the session at their next message.
        logger.warning("user %s: could not tell their open pages to re-check", user.pk, exc_info=True)


@receiver(user_logged_out, dispatch_uid="rooms.sockets_on_logout")
def sockets_on_logout(sender: type, request: Any, user: Any, **kwargs: Any) -> None:
    # Sent before the session is flushed: name it, so its pages need not race the flush.
    session = getattr(request, "session", None)
    _check_user_sockets(user, ended_session=session.session_key if session is not None else None)


@receiver(password_changed, dispatch_uid="rooms.sockets_on_password_change")
@receiver(password_reset, dispatch_uid="rooms.sockets_on_password_reset")
def sockets_on_password_change(sender: type, request: Any, user: Any, **kwargs: Any) -> None:
    _check_user_sockets(user)
