"""People, rooms, memberships and invites."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from .languages import DEFAULT_LANGUAGE, LANGUAGE_CHOICES


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


class Profile(models.Model):
    """A person's display name and languages; guests have one too, marked `is_guest`."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=60, blank=True)
    hear_language = models.CharField(
        "I want to hear", max_length=8, choices=LANGUAGE_CHOICES, default=DEFAULT_LANGUAGE
    )
    speak_language = models.CharField(
        "I speak", max_length=8, choices=LANGUAGE_CHOICES, default=DEFAULT_LANGUAGE
    )
    is_guest = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_username().split("@")[0]


class Room(models.Model):
    """A place where people meet for a translated call."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_rooms")
    allow_guests = models.BooleanField(
        default=True, help_text="People with an invite may join without an account."
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Membership(models.Model):
    """A person's place in a room: owner, member or guest."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"
        GUEST = "guest", "Guest"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    # Overrides the profile's "I want to hear" in this room when set.
    hear_language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)
    invite = models.ForeignKey("Invite", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["joined_at"]
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_membership_per_room")]

    def __str__(self) -> str:
        return f"{self.user} in {self.room}"

    @property
    def listener_language(self) -> str:
        return self.hear_language or self.user.profile.hear_language


class Invite(models.Model):
    """A link that lets people into a room. Only the token's SHA-256 is stored."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invite to {self.room} ({self.pk})"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_used_up(self) -> bool:
        return self.max_uses is not None and self.uses >= self.max_uses
