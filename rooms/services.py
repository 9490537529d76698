"""Writes: rooms, invites, memberships and profiles change only through these functions."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from media_workers.shared.contract import AccessCheck, Message, RoomClosed, TranscriptsNotice, room_group

from . import live
from .languages import LISTENER_LANGUAGES
from .models import CallParticipation, Invite, Membership, Profile, Room
from .selectors import InviteFailure, invite_lookup, invite_problem, is_guest, usable_invites

logger = logging.getLogger(__name__)


class InviteError(Exception):
    """An invite could not be used; `reason` says why."""

    def __init__(self, reason: InviteFailure) -> None:
        super().__init__(reason.value)
        self.reason = reason


class IssuedInvite(NamedTuple):
    """A new invite and its plain token, which exists only at this moment."""

    invite: Invite
    token: str


def _check_language(code: str) -> None:
    if code not in LISTENER_LANGUAGES:
        raise ValueError(f"Unknown language {code!r}")


@transaction.atomic
def room_create(*, owner: AbstractBaseUser, name: str) -> tuple[Room, IssuedInvite]:
    """Create a room owned by `owner`, with the owner's membership and a first invite."""
    room = Room.objects.create(owner=owner, name=name)
    Membership.objects.create(room=room, user=owner, role=Membership.Role.OWNER)
    issued = invite_create(
        room=room, created_by=owner, expires_in_days=settings.INVITE_DEFAULT_EXPIRY_DAYS, max_uses=None
    )
    logger.info("room %s created by user %s", room.public_id, owner.pk)
    return room, issued


@transaction.atomic
def room_rename(*, room: Room, name: str) -> Room:
    """Give the room a new name."""
    room.name = name
    room.save(update_fields=["name"])
    return room


@transaction.atomic
def room_close(*, room: Room) -> Room:
    """Close the room: nobody can join it until it is reopened."""
    if room.closed_at is None:
        room.closed_at = timezone.now()
        room.save(update_fields=["closed_at"])
        logger.info("room %s closed", room.public_id)
        public_id = room.public_id
        transaction.on_commit(lambda: _end_call(public_id, gettext_noop("The owner closed this room.")))
    return room


def _tell_room(public_id: str, message: Message) -> None:
    """Send every open page of a room a message (through the channel layer)."""

    try:
        async_to_sync(get_channel_layer().group_send)(room_group(public_id), message.to_dict())
    except Exception:
        # The room is closed either way; pages learn it at their next message.
        logger.warning("room %s: could not tell its pages", public_id, exc_info=True)


def _end_call(public_id: str, message: str) -> None:
    """End the room's call: every open page is told and leaves, its media worker hangs up."""
    _tell_room(public_id, RoomClosed(message=message))
    try:
        live.end_call(room_id=public_id)
    except Exception:
        # Its pages leave the call by themselves (they were told just now).
        logger.warning("room %s: could not tell its media worker", public_id, exc_info=True)


@transaction.atomic
def room_set_keep_transcripts(*, room: Room, keep: bool) -> Room:
    """Turn the room's transcripts on or off; a call under way keeps (or stops keeping) from now."""
    if room.keep_transcripts != keep:
        room.keep_transcripts = keep
        room.save(update_fields=["keep_transcripts"])
        logger.info("room %s: transcripts %s", room.public_id, "on" if keep else "off")
        public_id = room.public_id
        transaction.on_commit(lambda: _tell_transcripts(public_id, keep))
    return room


def _tell_transcripts(public_id: str, keep: bool) -> None:
    """Every open page shows or hides its notice; the call's media worker starts or stops keeping."""
    _tell_room(public_id, TranscriptsNotice(keep=keep))
    try:
        live.tell_worker_keep_transcripts(room_id=public_id, keep=keep)
    except Exception:
        # Utterances reaching the web tier are kept only while the room's setting is on.
        logger.warning("room %s: could not tell its media worker about transcripts", public_id, exc_info=True)


@transaction.atomic
def room_reopen(*, room: Room) -> Room:
    """Open a closed room again."""
    if room.closed_at is not None:
        room.closed_at = None
        room.save(update_fields=["closed_at"])
        logger.info("room %s reopened", room.public_id)
    return room


@transaction.atomic
def room_delete(*, room: Room) -> None:
    """Delete the room with its memberships and invites; a call in it ends at once."""
    logger.info("room %s deleted", room.public_id)
    public_id = room.public_id
    room.delete()
    transaction.on_commit(lambda: _end_call(public_id, gettext_noop("The owner deleted this room.")))


@transaction.atomic
def invite_create(
    *, room: Room, created_by: AbstractBaseUser, expires_in_days: int, max_uses: int | None
) -> IssuedInvite:
    """Make an invite; only the SHA-256 of its token is stored."""
    token = secrets.token_urlsafe(24)
    invite = Invite.objects.create(
        room=room,
        created_by=created_by,
        token_hash=Invite.hash_token(token),
        expires_at=timezone.now() + timedelta(days=expires_in_days),
        max_uses=max_uses,
    )
    logger.info("invite %s created for room %s", invite.pk, room.public_id)
    return IssuedInvite(invite, token)


@transaction.atomic
def invite_revoke(*, invite: Invite) -> Invite:
    """Stop the invite from letting anyone else in; people already in stay."""
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        logger.info("invite %s revoked in room %s", invite.pk, invite.room.public_id)
    return invite


def _find_invite(token: str) -> Invite:
    invite = invite_lookup(token)
    if invite is None:
        raise InviteError(InviteFailure.UNKNOWN)
    return invite


def _raise_if_unusable(invite: Invite) -> None:
    problem = invite_problem(invite)
    if problem is not None:
        raise InviteError(problem)


def _join(*, invite: Invite, user: AbstractBaseUser, role: Membership.Role) -> Membership:
    """Add the person to the invite's room and count one use; the caller's transaction undoes both."""
    try:
        with transaction.atomic():
            membership = Membership.objects.create(room=invite.room, user=user, role=role, invite=invite)
    except IntegrityError:
        # The same person's other request got in first: they are a member, and it counted the use.
        return Membership.objects.get(room=invite.room, user=user)
    # One conditional UPDATE: of two people racing for the last use, exactly one gets a row.
    consumed = usable_invites().filter(pk=invite.pk, room__closed_at__isnull=True).update(uses=F("uses") + 1)
    if not consumed:
        invite.refresh_from_db()
        invite.room.refresh_from_db()
        raise InviteError(invite_problem(invite) or InviteFailure.USED_UP)
    logger.info("user %s joined room %s as %s by invite %s", user.pk, invite.room.public_id, role, invite.pk)
    return membership


@transaction.atomic
def invite_revoke_and_remove(*, invite: Invite) -> int:
    """Revoke the invite and remove everyone who joined through it; returns how many were removed."""
    invite_revoke(invite=invite)
    joined = Membership.objects.filter(invite=invite).exclude(role=Membership.Role.OWNER)
    removed = [membership_remove(membership=membership) for membership in joined.select_related("room")]
    return len(removed)


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Take a member or guest out of the room; their open pages and their call end at once."""
    if membership.role == Membership.Role.OWNER:
        raise ValueError("The owner cannot be removed from their own room.")
    public_id, membership_id = membership.room.public_id, membership.pk
    membership.delete()
    logger.info("room %s: membership %s removed", public_id, membership_id)
    transaction.on_commit(lambda: _end_access(public_id, membership_id))


def _end_access(public_id: str, membership_id: int) -> None:
    """Close the removed person's sockets (they re-check and leave) and drop them from the call."""
    _tell_room(public_id, AccessCheck(membership_id=membership_id))
    # Also straight to the media worker, in case their page is already gone but their peer is not.
    try:
        live.tell_worker_participant_left(room_id=public_id, participant_id=str(membership_id))
    except Exception:
        logger.warning(
            "room %s: could not tell its worker membership %s left", public_id, membership_id, exc_info=True
        )


@transaction.atomic
def invite_accept(*, token: str, user: AbstractBaseUser) -> Membership:
    """Let a signed-in person into the room of the invite with this token."""
    return member_join(invite=_find_invite(token), user=user)


@transaction.atomic
def member_join(*, invite: Invite, user: AbstractBaseUser) -> Membership:
    """Let a signed-in person into the invite's room (a member already just stays one)."""
    existing = Membership.objects.filter(room=invite.room, user=user).first()
    if existing is not None:
        return existing
    if is_guest(user):
        raise InviteError(InviteFailure.GUEST_ELSEWHERE)
    _raise_if_unusable(invite)
    return _join(invite=invite, user=user, role=Membership.Role.MEMBER)


@transaction.atomic
def guest_join(*, token: str, display_name: str, language: str) -> AbstractBaseUser:
    """Make an account-less guest for the invite's room and let them in."""
    _check_language(language)
    # Locked, so two guests racing for the last place cannot both get in.
    invite = Invite.objects.select_for_update().select_related("room").get(pk=_find_invite(token).pk)
    _raise_if_unusable(invite)
    if not invite.room.allow_guests:
        raise InviteError(InviteFailure.GUESTS_NOT_ALLOWED)
    guests = Membership.objects.filter(room=invite.room, role=Membership.Role.GUEST)
    if guests.filter(invite=invite).count() >= settings.MAX_GUESTS_PER_INVITE:
        raise InviteError(InviteFailure.INVITE_GUESTS_FULL)
    if guests.count() >= settings.MAX_GUESTS_PER_ROOM:
        raise InviteError(InviteFailure.ROOM_GUESTS_FULL)
    user = get_user_model().objects.create_user(username=f"guest-{secrets.token_hex(8)}", password=None)
    Profile.objects.update_or_create(
        user=user,
        defaults={
            "display_name": display_name,
            "hear_language": language,
            "speak_language": language,
            "is_guest": True,
        },
    )
    _join(invite=invite, user=user, role=Membership.Role.GUEST)
    return user


@transaction.atomic
def profile_set_page_language(*, profile: Profile, page_language: str) -> Profile:
    """Set the language of a person's pages ("" follows the language they hear)."""
    if page_language and page_language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unknown page language {page_language!r}")
    profile.page_language = page_language
    profile.save(update_fields=["page_language"])
    return profile


def profile_update(
    *,
    profile: Profile,
    display_name: str,
    hear_language: str,
    speak_language: str,
    page_language: str | None = None,
) -> Profile:
    """Change a person's name and languages (the page language only when given)."""
    _check_language(hear_language)
    _check_language(speak_language)
    profile.display_name = display_name
    profile.hear_language = hear_language
    profile.speak_language = speak_language
    profile.save(update_fields=["display_name", "hear_language", "speak_language"])
    if page_language is not None:
        profile_set_page_language(profile=profile, page_language=page_language)
    return profile


@transaction.atomic
def membership_set_language(*, membership: Membership, hear_language: str) -> Membership:
    """Set what this person hears in this room; an empty string goes back to their profile's choice."""
    if hear_language:
        _check_language(hear_language)
    membership.hear_language = hear_language
    membership.save(update_fields=["hear_language"])
    return membership


@transaction.atomic
def invites_expire(*, grace_days: int) -> int:
    """Delete invites that expired or were revoked more than `grace_days` ago; returns how many."""
    cutoff = timezone.now() - timedelta(days=grace_days)
    deleted, _ = Invite.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)).delete()
    if deleted:
        logger.info("deleted %d invites that stopped working before %s", deleted, cutoff)
    return deleted


@transaction.atomic
def guests_purge(*, retention_days: int) -> int:
    """Delete guest accounts idle for `retention_days` (no sign-in, no call), with their data."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    recent_calls = CallParticipation.objects.filter(
        Q(joined_at__gte=cutoff) | Q(left_at__gte=cutoff) | Q(left_at__isnull=True)
    )
    idle = (
        get_user_model()
        .objects.filter(profile__is_guest=True, profile__created_at__lt=cutoff)
        .filter(Q(last_login__isnull=True) | Q(last_login__lt=cutoff))
        .exclude(pk__in=recent_calls.values("user_id"))
    )
    ids = list(idle.values_list("pk", flat=True))
    if ids:
        # Their memberships and call records go with them; usage stays, charged to the owners.
        get_user_model().objects.filter(pk__in=ids).delete()
        logger.info("purged %d guest accounts idle since %s", len(ids), cutoff)
    return len(ids)
