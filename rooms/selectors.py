"""Reads: which rooms a person may see, who is in them, what an invite token points at, and quotas."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, DecimalField, F, FloatField, Q, QuerySet, Sum, When
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from .models import Call, CallParticipation, Invite, Membership, Profile, Room, TranslationUsage


class InviteFailure(enum.StrEnum):
    """Why an invite cannot be used; each one gets its own page."""

    UNKNOWN = "unknown"
    ROOM_CLOSED = "room_closed"
    REVOKED = "revoked"
    EXPIRED = "expired"
    USED_UP = "used_up"
    GUESTS_NOT_ALLOWED = "guests_not_allowed"
    GUEST_ELSEWHERE = "guest_elsewhere"
    INVITE_GUESTS_FULL = "invite_guests_full"
    ROOM_GUESTS_FULL = "room_guests_full"


def is_guest(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and getattr(user, "profile", None) and user.profile.is_guest)


def rooms_for_user(user: AbstractBaseUser) -> QuerySet[Room]:
    """Rooms the person owns or belongs to, newest first."""
    return Room.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct().select_related("owner")


def room_for_viewer(*, public_id: str, user: AbstractBaseUser | AnonymousUser) -> Room:
    """The room if the person is a member or staff; a 404 otherwise, so outsiders learn nothing."""
    room = Room.objects.filter(public_id=public_id).select_related("owner").first()
    if room is None or not user.is_authenticated:
        raise Http404("No such room")
    if user.is_staff or room.memberships.filter(user=user).exists():
        return room
    raise Http404("No such room")


def room_for_owner(*, public_id: str, user: AbstractBaseUser | AnonymousUser) -> Room:
    """The room if the person owns it; members who are not the owner are refused."""
    room = room_for_viewer(public_id=public_id, user=user)
    if room.owner_id != user.pk:
        raise PermissionDenied("Only the room's owner can do that.")
    return room


def membership_for(*, room: Room, user: AbstractBaseUser) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).select_related("user__profile").first()


def room_members(room: Room) -> QuerySet[Membership]:
    return room.memberships.select_related("user__profile").order_by("joined_at")


@dataclass(frozen=True)
class PastCall:
    """A call that ended, as its room page lists it."""

    call: Call
    people: list[str]
    utterances: int


def past_calls(*, room: Room, user: AbstractBaseUser) -> list[PastCall]:
    """The room's ended calls this person may read: all of them for the owner, else those they were in."""
    calls = Call.objects.filter(room=room, ended_at__isnull=False)
    if room.owner_id != user.pk:
        calls = calls.filter(participations__user=user)
    calls = calls.distinct().annotate(n=Count("utterances", distinct=True)).order_by("-started_at")[:50]
    return [PastCall(call=call, people=call_people(call), utterances=call.n) for call in calls]


def call_people(call: Call) -> list[str]:
    """The names of the people who were in the call, in the order they came."""
    names: dict[int, str] = {}
    for participation in call.participations.select_related("user__profile").order_by("joined_at"):
        names.setdefault(participation.user_id, participation.user.profile.name)
    return list(names.values())


def call_for_reader(*, public_id: str, call_id: int, user: AbstractBaseUser | AnonymousUser) -> Call:
    """The call if the person was in it or owns its room; a 404 for anyone else (staff included)."""
    room = room_for_viewer(public_id=public_id, user=user)
    call = Call.objects.filter(room=room, pk=call_id).select_related("room").first()
    if call is None:
        raise Http404("No such call")
    if room.owner_id == user.pk or (
        room.memberships.filter(user=user).exists() and call.participations.filter(user=user).exists()
    ):
        return call
    raise Http404("No such call")


def guest_room(user: AbstractBaseUser) -> Room | None:
    """The one room a guest account was made for (None once that room is gone)."""
    membership = Membership.objects.filter(user=user).select_related("room").first()
    return membership.room if membership else None


# The invite a visitor opened (its id, never its token), so signing up or logging in can bring
# them back to join it (`rooms:join`), and so SIGNUP_MODE=invite lets them make an account.
SESSION_PENDING_INVITE = "pending_invite"


def pending_invite(session: Any) -> Invite | None:
    """The invite this browser session opened last, if it still exists."""
    invite_id = session.get(SESSION_PENDING_INVITE)
    if not isinstance(invite_id, int):
        return None
    return Invite.objects.filter(pk=invite_id).select_related("room__owner").first()


def invite_lookup(token: str) -> Invite | None:
    return Invite.objects.filter(token_hash=Invite.hash_token(token)).select_related("room").first()


def invite_problem(invite: Invite) -> InviteFailure | None:
    """What stops this invite from letting someone in right now, if anything."""
    if invite.room.is_closed:
        return InviteFailure.ROOM_CLOSED
    if invite.is_revoked:
        return InviteFailure.REVOKED
    if invite.is_expired:
        return InviteFailure.EXPIRED
    if invite.is_used_up:
        return InviteFailure.USED_UP
    return None


def usable_invites() -> QuerySet[Invite]:
    """Invites that are neither revoked, expired nor used up (the room's state is checked apart)."""
    return Invite.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()).filter(
        Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))
    )


def active_invites(room: Room) -> QuerySet[Invite]:
    return usable_invites().filter(room=room).order_by("-created_at")


def invite_link(token: str) -> str:
    """The absolute link, on the address other devices on the network use to reach us."""
    return settings.PUBLIC_BASE_URL + reverse("rooms:invite", args=[token])


@dataclass(frozen=True)
class QuotaStatus:
    """A person's translation minutes this calendar month (UTC), charged for the rooms they own."""

    used_minutes: float
    quota_minutes: int

    @property
    def remaining_minutes(self) -> float:
        return max(0.0, self.quota_minutes - self.used_minutes)

    @property
    def exhausted(self) -> bool:
        return self.used_minutes >= self.quota_minutes


def month_start(now: datetime | None = None) -> datetime:
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quota_seconds() -> Any:
    """The seconds a usage row takes from its owner's quota, as a query expression.

    Minute-billed sessions take the seconds of audio they sent. A token-billed session (the
    interpreter) takes as many seconds as its cost would buy of the translation model, so a
    quota of minutes stays a quota of money whichever model translated.
    """
    rate = settings.MODEL_PRICES_PER_MINUTE.get(settings.OPENAI_TRANSLATION_MODEL)
    if not rate:
        return F("seconds_sent")
    return Case(
        When(tokens_total__gt=0, then=Cast("cost", FloatField()) * (60.0 / float(rate))),
        default=F("seconds_sent"),
        output_field=FloatField(),
    )


def quota_status(user_id: int) -> QuotaStatus:
    override = Profile.objects.filter(user_id=user_id).values_list("monthly_minutes_quota", flat=True).first()
    seconds = TranslationUsage.objects.filter(owner_id=user_id, started_at__gte=month_start()).aggregate(
        seconds=Coalesce(Sum(quota_seconds()), 0.0, output_field=FloatField())
    )["seconds"]
    quota = settings.MONTHLY_MINUTES_QUOTA if override is None else override
    return QuotaStatus(used_minutes=seconds / 60, quota_minutes=quota)


@dataclass(frozen=True)
class SiteSpend:
    """What the whole site spent on translation this calendar month (UTC), against its limit."""

    spent: Decimal
    limit: Decimal | None

    @property
    def reached(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


def site_spend() -> SiteSpend:
    spent = TranslationUsage.objects.filter(started_at__gte=month_start()).aggregate(
        spent=Coalesce(Sum("cost"), Decimal(0), output_field=DecimalField())
    )["spent"]
    limit = settings.GLOBAL_MONTHLY_SPEND_LIMIT
    return SiteSpend(spent=spent, limit=None if limit is None else Decimal(str(limit)))


SITE_LIMIT_REACHED = gettext_noop(
    "Translation is off on this whole site: this month's spending limit for translation has been "
    "reached. The call goes on without translation."
)


def _owner_block_reason(owner_id: int) -> str | None:
    status = quota_status(owner_id)
    if not status.exhausted:
        return None
    if status.quota_minutes == 0:
        return gettext_noop(
            "Translation is off: this room's owner has no translation minutes this month (the "
            "site's staff grant them). The call goes on without translation."
        )
    return gettext_noop(
        "Translation is off: this room's owner has used this month's %(n)s translation minutes. "
        "The call goes on without translation."
    ) % {"n": status.quota_minutes}


def _live_payer_ids(room_public_ids: list[str]) -> dict[str, set[int]]:
    """Per room, who its running translations are charged to: the owner when each started (an
    earlier owner, after a handover), as their reports say. A session that stopped reporting
    (its worker died) no longer counts after a few report intervals."""
    since = timezone.now() - timedelta(seconds=3 * settings.USAGE_REPORT_SECONDS)
    rows = TranslationUsage.objects.filter(
        room_public_id__in=room_public_ids, final=False, updated_at__gte=since, owner__isnull=False
    ).values_list("room_public_id", "owner_id")
    payers: dict[str, set[int]] = {}
    for room_public_id, owner_id in rows.distinct().order_by():
        payers.setdefault(room_public_id, set()).add(owner_id)
    return payers


def translation_block_reason(room: Room) -> str | None:
    """Why translation is off in this room, in a sentence for the people in it; None when it is on."""
    return translation_block_reasons(room_public_ids=[room.public_id]).get(room.public_id)


def translation_block_reasons(*, room_public_ids: list[str]) -> dict[str, str | None]:
    """`translation_block_reason` for each of these rooms that still exists, one quota read per payer.

    Off when the site's limit is reached, or when the room's owner or anyone its running
    translations are still charged to is over quota: the block follows who pays.
    """
    site_reached = site_spend().reached
    live_payers = _live_payer_ids(room_public_ids)
    payer_block_reason = functools.cache(_owner_block_reason)
    reasons: dict[str, str | None] = {}
    for room in Room.objects.filter(public_id__in=room_public_ids).order_by():
        payers = sorted({room.owner_id} | live_payers.get(room.public_id, set()))
        reasons[room.public_id] = (
            SITE_LIMIT_REACHED if site_reached else next(filter(None, map(payer_block_reason, payers)), None)
        )
    return reasons


def room_owner_ids(*, room_public_ids: list[str]) -> dict[str, int]:
    """The owner of each of these rooms that still exists, by the room's public id."""
    return dict(Room.objects.filter(public_id__in=room_public_ids).values_list("public_id", "owner_id"))


def open_participation_rooms() -> list[str]:
    """Public ids of rooms where someone is metered as in a call right now."""
    return list(
        CallParticipation.objects.filter(left_at__isnull=True)
        .values_list("room__public_id", flat=True)
        .distinct()
        .order_by()
    )
