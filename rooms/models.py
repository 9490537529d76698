"""People, rooms, memberships and invites; the metering of calls and translations."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .languages import DEFAULT_LANGUAGE, LANGUAGE_CHOICES, SPEAK_CHOICES


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


class Profile(models.Model):
    """A person's display name and languages; guests have one too, marked `is_guest`."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=60, blank=True)
    hear_language = models.CharField(
        _("I want to hear"), max_length=8, choices=LANGUAGE_CHOICES, default=DEFAULT_LANGUAGE
    )
    speak_language = models.CharField(
        _("I speak"), max_length=8, choices=SPEAK_CHOICES, default=DEFAULT_LANGUAGE
    )
    # The language of the pages; empty means the one they hear (guests choose that when they join).
    page_language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True)
    is_guest = models.BooleanField(default=False)
    monthly_minutes_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Translation minutes a month for this person's rooms; empty means the site default.",
    )
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
    # Off by default: while on, what is said in its calls is kept (and everyone is told).
    keep_transcripts = models.BooleanField(default=False)
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
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")
        GUEST = "guest", _("Guest")

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


class TranslationUsage(models.Model):
    """One translation session's metered totals, as last reported by its media worker.

    Charged to the room's owner at the first report; room, owner and speaker survive
    deletion as NULLs so billing history stays whole.
    """

    session_id = models.CharField(max_length=32, unique=True)
    room = models.ForeignKey(Room, null=True, on_delete=models.SET_NULL, related_name="usage")
    room_public_id = models.CharField(max_length=16)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="translation_usage"
    )
    speaker = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    source_language = models.CharField(max_length=8, blank=True)
    language = models.CharField(max_length=8)
    model = models.CharField(max_length=64)
    worker_id = models.CharField(max_length=128, blank=True)
    started_at = models.DateTimeField()
    # The UTC day of started_at, stored so per-day sums group on a column (SQLite would
    # otherwise convert every row's timestamp in Python).
    day = models.DateField()
    first_audio_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    seconds_sent = models.FloatField(default=0.0)
    seconds_received = models.FloatField(default=0.0)
    errors = models.PositiveIntegerField(default=0)
    reconnects = models.PositiveIntegerField(default=0)
    # Token-billed models (the interpreter): tokens used by class (contract.UsageReport.tokens),
    # and their sum, which only grows (so a late report never replaces a later one's classes).
    tokens = models.JSONField(default=dict, blank=True)
    tokens_total = models.PositiveBigIntegerField(default=0)
    # Estimated at the price per minute (or per token) in force when the session was reported.
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    final = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="usage_started"),
            models.Index(fields=["owner", "started_at"], name="usage_owner_started"),
            models.Index(fields=["room", "started_at"], name="usage_room_started"),
            # Which days changed since their roll-up (see UsageRollup).
            models.Index(fields=["day", "updated_at"], name="usage_day_updated"),
        ]

    def __str__(self) -> str:
        return f"Session {self.session_id} in {self.room_public_id} ({self.language})"

    @property
    def minutes(self) -> float:
        return self.seconds_sent / 60


class Call(models.Model):
    """A period with people in a room: from the first one's joining to the last one's leaving."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="calls")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["room", "ended_at"], name="call_room_ended")]

    def __str__(self) -> str:
        return f"Call in {self.room} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def seconds(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


class CallParticipation(models.Model):
    """One person's time in one call: from their offer to their leaving."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participations")
    # Null for participations recorded before calls were.
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.CASCADE, related_name="participations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-joined_at"]
        indexes = [
            models.Index(fields=["joined_at"], name="participation_joined"),
            models.Index(fields=["left_at"], name="participation_left"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room} at {self.joined_at:%Y-%m-%d %H:%M}"


class Utterance(models.Model):
    """One thing someone said in a transcribed call: their words and each translation delivered."""

    # The media worker's id for it: a repeated delivery of the same utterance changes nothing.
    utterance_id = models.CharField(max_length=32, unique=True)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="utterances")
    speaker = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL, related_name="+")
    # As the call showed it: the transcript stays readable once the speaker is gone.
    speaker_name = models.CharField(max_length=60)
    source_language = models.CharField(max_length=8, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    original = models.TextField(blank=True)
    # Language code -> the translation delivered in it.
    translations = models.JSONField(default=dict)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [models.Index(fields=["call", "started_at"], name="utterance_call_started")]

    def __str__(self) -> str:
        return f"{self.speaker_name} at {self.started_at:%H:%M:%S}"


class DailyUsage(models.Model):
    """Translation usage rolled up per day, owner, room and language pair (the compact history)."""

    day = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    room = models.ForeignKey(Room, null=True, on_delete=models.SET_NULL, related_name="+")
    room_public_id = models.CharField(max_length=16)
    source_language = models.CharField(max_length=8, blank=True)
    language = models.CharField(max_length=8)
    sessions = models.PositiveIntegerField(default=0)
    minutes = models.FloatField(default=0.0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    errors = models.PositiveIntegerField(default=0)
    reconnects = models.PositiveIntegerField(default=0)
    # Sessions with at least one error or reconnect.
    failed_sessions = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "daily usage"
        indexes = [models.Index(fields=["day"], name="daily_usage_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.room_public_id} {self.source_language}->{self.language}"


class UsageRollup(models.Model):
    """When a day's DailyUsage rows were last recomputed; a day without one is not rolled up.

    The rows hold every session of the day as it stood at `rolled_up_at`: a session of that
    day updated later (a late report, a call across midnight) makes the day stale until the
    next roll-up.
    """

    day = models.DateField(unique=True)
    rolled_up_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.day} rolled up at {self.rolled_up_at:%Y-%m-%d %H:%M:%S}"


class UsageDashboard(TranslationUsage):
    """The staff usage dashboard's place in the admin (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "usage dashboard"
        verbose_name_plural = "usage dashboard"
