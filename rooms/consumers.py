"""Signalling for the live call: one websocket per participant per room page.

The consumer checks who may connect, validates every message, and relays the call's
signalling to the media worker that hosts the room. Replies from the worker arrive on
this consumer's channel; room-wide state arrives through the room's group.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop

from media_workers.shared import contract
from media_workers.shared.contract import room_group
from media_workers.shared.ice import browser_ice_servers
from media_workers.shared.registry import Registry, WorkerInfo
from translator_site import metrics

from . import usage
from .languages import LISTENER_LANGUAGES, TURN_BASED_LANGUAGES, page_language
from .models import Membership
from .selectors import translation_block_reason
from .signalling import SignalError, TokenBucket, parse
from .signals import user_group

logger = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's): the page shows the reason.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_ROOM_CLOSED = 4410
CLOSE_RATE_LIMITED = 4429
CLOSE_REPLACED = 4409

# Consecutive refused messages after which a flooding client is disconnected.
MAX_REFUSED_IN_A_ROW = 200

# A Redis connection pool belongs to one event loop.
_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Registry] = weakref.WeakKeyDictionary()


def registry() -> Registry:
    loop = asyncio.get_running_loop()
    if loop not in _registries:
        _registries[loop] = Registry()
    return _registries[loop]


def membership_in(*, public_id: str, user_id: int) -> Membership | None:
    return (
        Membership.objects.select_related("room", "user__profile")
        .filter(room__public_id=public_id, user_id=user_id)
        .first()
    )


load_membership = database_sync_to_async(membership_in)


def session_is_for(session_key: str | None, user_id: int) -> bool:
    """The Django session still exists and still logs in this user with their current password."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    if str(data.get(SESSION_KEY)) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    # A password change elsewhere changes the hash, so every other session stops working.
    return user is not None and constant_time_compare(
        data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    )


@database_sync_to_async
def current_access(*, session_key: str | None, user_id: int, public_id: str) -> Membership | str:
    """The person's membership if they may still be in the call; otherwise why not (a close reason)."""
    if not session_is_for(session_key, user_id):
        return "session_ended"
    membership = membership_in(public_id=public_id, user_id=user_id)
    if membership is None:
        return "removed"
    if membership.room.is_closed:
        return "room_closed"
    return membership


# Each reason `current_access` gives, as the socket's close code and a sentence for the page.
ACCESS_ENDED: dict[str, tuple[int, str]] = {
    "session_ended": (
        CLOSE_UNAUTHENTICATED,
        gettext_noop("You were logged out on this device. Log in again to rejoin."),
    ),
    "removed": (CLOSE_FORBIDDEN, gettext_noop("The room's owner removed you from this room.")),
    "room_closed": (CLOSE_ROOM_CLOSED, gettext_noop("This room is closed.")),
}


def translated(sentence: str) -> str:
    """`sentence` in the active language. A sentence with one number in it is in the catalog with
    %(n)s in the number's place (marked so where it is written, and formatted there)."""
    found = translation.gettext(sentence)
    numbers = re.findall(r"\d+", sentence)
    if found != sentence or len(numbers) != 1:
        return found
    template = re.sub(r"\d+", "%(n)s", sentence)
    found = translation.gettext(template)
    return sentence if found == template else found % {"n": numbers[0]}


@database_sync_to_async
def join_call(*, membership: Membership, participation_id: int | None) -> tuple[int, str | None, bool]:
    """Meter the person's time in the call; why translation is off here, if it is; and whether
    the room keeps transcripts now."""
    participation = usage.participation_join(
        room=membership.room, user=membership.user, participation_id=participation_id
    )
    membership.room.refresh_from_db(fields=["keep_transcripts"])
    return participation.pk, translation_block_reason(membership.room), membership.room.keep_transcripts


@database_sync_to_async
def leave_call(*, participation_id: int) -> None:
    usage.participation_leave(participation_id=participation_id)


@database_sync_to_async
def save_listener_language(*, membership_id: int, language: str) -> None:
    Membership.objects.filter(pk=membership_id).update(hear_language=language)


def origin_allowed(headers: dict[bytes, bytes]) -> bool:
    """Browsers always send Origin on websockets: it must be this site (cross-site hijacking)."""
    origin = headers.get(b"origin", b"").decode("latin-1")
    if not origin:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    return urlsplit(origin).netloc == host


class RoomConsumer(AsyncWebsocketConsumer):
    """One participant's signalling connection to one room."""

    membership: Membership | None = None
    worker_channel: str | None = None
    worker_id: str | None = None
    watcher: asyncio.Task[None] | None = None
    # Set by the worker's answer to a liveness ping.
    pong: asyncio.Event
    participation_id: int | None = None
    session_key: str | None = None
    in_groups = False
    # The page language of the person on this socket, once known.
    language = settings.LANGUAGE_CODE

    @property
    def room_id(self) -> str:
        return str(self.scope["url_route"]["kwargs"]["public_id"])

    async def connect(self) -> None:
        self.bucket = TokenBucket(
            rate=settings.SIGNALLING_RATE_PER_SECOND, burst=settings.SIGNALLING_RATE_BURST
        )
        self.refused_in_a_row = 0
        self.original_volume = settings.DEFAULT_ORIGINAL_VOLUME
        self.translation_volume = 1.0
        self.muted = False
        self.background = False
        self.pong = asyncio.Event()
        await self.accept()
        metrics.websocket_opened()
        headers = dict(self.scope.get("headers", []))
        user = self.scope.get("user")
        if not origin_allowed(headers):
            await self._refuse(
                CLOSE_FORBIDDEN,
                "forbidden_origin",
                gettext_noop("This page may not connect from another site."),
            )
            return
        if user is None or not user.is_authenticated:
            await self._refuse(
                CLOSE_UNAUTHENTICATED,
                "unauthenticated",
                gettext_noop("Log in or open your invite link again."),
            )
            return
        membership = await load_membership(public_id=self.room_id, user_id=user.pk)
        if membership is None:
            await self._refuse(
                CLOSE_FORBIDDEN, "forbidden", gettext_noop("You are not a member of this room.")
            )
            return
        profile = membership.user.profile
        self.language = page_language(chosen=profile.page_language, hears=profile.hear_language)
        if membership.room.is_closed:
            await self._refuse(CLOSE_ROOM_CLOSED, "room_closed", gettext_noop("This room is closed."))
            return
        self.membership = membership
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        await self.channel_layer.group_add(room_group(self.room_id), self.channel_name)
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        self.in_groups = True
        await self._send(
            {
                "type": "hello",
                "participant": self._participant(),
                "room": {"id": self.room_id, "name": membership.room.name},
                "demo": settings.DEMO_MODE,
                "ice_servers": browser_ice_servers(user.pk),
                "ice_servers_ttl": settings.TURN_TTL_SECONDS,
                "languages": LISTENER_LANGUAGES,
                "turn_based": sorted(TURN_BASED_LANGUAGES),
                "original_volume": self.original_volume,
                "transcribed": membership.room.keep_transcripts,
            }
        )
        await self._ask_for_roster()

    async def _ask_for_roster(self) -> None:
        """A page opened during a call shows who is in it before its owner joins."""
        try:
            worker_id = await registry().room_worker_id(self.room_id)
            worker = await registry().worker(worker_id) if worker_id else None
        except Exception:
            logger.warning("room=%s: cannot look up the call's worker", self.room_id, exc_info=True)
            return
        if worker is not None:
            await self.channel_layer.send(
                worker.channel,
                contract.RosterRequest(room_id=self.room_id, reply_channel=self.channel_name).to_dict(),
            )

    async def _refuse(self, code: int, reason: str, message: str) -> None:
        metrics.signalling_error(reason)
        await self._send({"type": "error", "code": reason, "message": message, "fatal": True})
        await self.close(code=code, reason=reason)

    async def disconnect(self, code: int) -> None:
        metrics.websocket_closed()
        if not self.in_groups:
            return
        await self._leave_call()
        await self.channel_layer.group_discard(room_group(self.room_id), self.channel_name)
        await self.channel_layer.group_discard(user_group(self.scope["user"].pk), self.channel_name)

    def _participant(self) -> dict[str, Any]:
        membership = self.membership
        assert membership is not None
        profile = membership.user.profile
        return {
            "id": str(membership.pk),
            "name": profile.name,
            "speak": profile.speak_language,
            "hear": membership.listener_language,
            "original_volume": self.original_volume,
            "translation_volume": self.translation_volume,
            "muted": self.muted,
            "background": self.background,
        }

    async def _send(self, message: dict[str, Any]) -> None:
        # Sentences for people (from here, the media worker or a task) are written in English and
        # marked for the catalog where they are written; they leave in this person's page language.
        with translation.override(self.language):
            for key in ("message", "detail"):
                if isinstance(message.get(key), str) and message[key]:
                    message = {**message, key: translated(message[key])}
        await self.send(text_data=json.dumps(message))

    async def _error(self, code: str, message: str, about: str | None = None) -> None:
        metrics.signalling_error(code)
        await self._send({"type": "error", "code": code, "message": message, "about": about})

    # --- From the browser ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.membership is None:
            return
        if not self.bucket.allow():
            self.refused_in_a_row += 1
            if self.refused_in_a_row >= MAX_REFUSED_IN_A_ROW:
                await self._refuse(
                    CLOSE_RATE_LIMITED, "rate_limited", gettext_noop("Too many messages: disconnected.")
                )
            elif self.refused_in_a_row == 1:
                await self._error("rate_limited", gettext_noop("Too many messages: slow down."))
            return
        self.refused_in_a_row = 0
        try:
            message = parse(text_data, max_bytes=settings.SIGNALLING_MAX_MESSAGE_BYTES)
        except SignalError as exc:
            await self._error(exc.code, exc.message)
            return
        handler = getattr(self, f"on_{message['type']}")
        await handler(message)

    async def _recheck(self, ended_session: str | None = None) -> bool:
        """Before anything that changes state: is this person still let in? If not, the call ends."""
        access: Membership | str
        if ended_session is not None and ended_session == self.session_key:
            access = "session_ended"
        else:
            access = await current_access(
                session_key=self.session_key, user_id=self.scope["user"].pk, public_id=self.room_id
            )
        if isinstance(access, Membership):
            self.membership = access
            return True
        assert self.membership is not None
        logger.info("room=%s participant=%s: access ended (%s)", self.room_id, self.membership.pk, access)
        await self._leave_call()
        code, sentence = ACCESS_ENDED[access]
        await self._refuse(code, access, sentence)
        self.membership = None
        return False

    async def on_ping(self, message: dict[str, Any]) -> None:
        await self._send({"type": "pong"})

    async def on_offer(self, message: dict[str, Any]) -> None:
        if not await self._recheck():
            return
        membership = self.membership
        assert membership is not None
        worker = await registry().claim_room(self.room_id)
        if worker is None:
            await self._error(
                "busy",
                gettext_noop("The service is busy: no media worker is free. Try again shortly."),
                "offer",
            )
            return
        self.worker_channel, self.worker_id = worker.channel, worker.id
        if self.watcher is None:
            self.watcher = asyncio.create_task(self._watch_worker())
        self.participation_id, blocked, keep_transcripts = await join_call(
            membership=membership, participation_id=self.participation_id
        )
        join = contract.Join(
            room_id=self.room_id,
            participant=contract.from_dict(contract.ParticipantInfo, self._participant()),
            reply_channel=self.channel_name,
            sdp=message["sdp"],
            translation_blocked=blocked,
            payer_id=membership.room.owner_id,
            keep_transcripts=keep_transcripts,
        )
        await self.channel_layer.send(worker.channel, join.to_dict())

    async def on_candidate(self, message: dict[str, Any]) -> None:
        if message["candidate"] is None or not await self._recheck():
            return
        if not await self._to_worker(contract.Candidate, candidate=message["candidate"]):
            await self._error(
                "not_in_call", gettext_noop("Send an offer before ICE candidates."), "candidate"
            )

    async def on_mute(self, message: dict[str, Any]) -> None:
        if not await self._recheck():
            return
        self.muted = message["muted"]
        await self._to_worker(contract.Update, changes={"muted": self.muted})

    async def on_presence(self, message: dict[str, Any]) -> None:
        self.background = message["background"]
        await self._to_worker(contract.Update, changes={"background": self.background})

    async def on_settings(self, message: dict[str, Any]) -> None:
        if not await self._recheck():
            return
        assert self.membership is not None
        changes: dict[str, Any] = {}
        if "hear_language" in message:
            await save_listener_language(membership_id=self.membership.pk, language=message["hear_language"])
            self.membership.hear_language = message["hear_language"]
            changes["hear"] = message["hear_language"]
        if "original_volume" in message:
            self.original_volume = changes["original_volume"] = message["original_volume"]
        if "translation_volume" in message:
            self.translation_volume = changes["translation_volume"] = message["translation_volume"]
        await self._to_worker(contract.Update, changes=changes)
        await self._send({"type": "settings", "participant": self._participant()})

    async def on_leave(self, message: dict[str, Any]) -> None:
        await self._leave_call()

    async def on_renew_ice_servers(self, message: dict[str, Any]) -> None:
        """Fresh TURN credentials before the page's expire; only for someone still let in."""
        if not await self._recheck():
            return
        await self._send(
            {
                "type": "ice_servers",
                "ice_servers": browser_ice_servers(self.scope["user"].pk),
                "ice_servers_ttl": settings.TURN_TTL_SECONDS,
            }
        )

    async def _to_worker(self, kind: type[contract.Message], **fields: Any) -> bool:
        """Send this participant's message of `kind` to the call's worker; False if not in a call."""
        if self.worker_channel is None or self.membership is None:
            return False
        message = kind(  # type: ignore[call-arg]
            room_id=self.room_id,
            participant_id=str(self.membership.pk),
            reply_channel=self.channel_name,
            **fields,
        )
        await self.channel_layer.send(self.worker_channel, message.to_dict())
        return True

    async def _leave_call(self) -> None:
        await self._to_worker(contract.Leave)
        self.worker_channel = self.worker_id = None
        if self.participation_id is not None:
            await leave_call(participation_id=self.participation_id)
            self.participation_id = None
        if self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None

    async def _watch_worker(self) -> None:
        """While in a call, notice its media worker dying and move the call to another."""
        # Absent for two heartbeats: a worker that is only re-registering (Redis restarted) is not.
        grace = 2 * settings.MEDIA_WORKER_HEARTBEAT_SECONDS
        # Half a beat late is worth a ping; only a worker that doesn't answer it is dead. So a
        # SIGKILLed worker is found in about two seconds, not when its heartbeat expires.
        late = 1.5 * settings.MEDIA_WORKER_HEARTBEAT_SECONDS
        missing_since: float | None = None
        while True:
            await asyncio.sleep(settings.WORKER_WATCH_SECONDS)
            worker_id = self.worker_id
            if worker_id is None:
                missing_since = None
                continue
            try:
                worker = await registry().worker(worker_id)
            except Exception:
                # Redis itself is away: that says nothing about the worker; look again later.
                logger.warning("room=%s: cannot check worker %s", self.room_id, worker_id, exc_info=True)
                continue
            now = time.monotonic()
            if worker is not None:
                missing_since = None
                # A draining worker is moving its calls itself (worker.moving): don't race it.
                if worker.lost or (
                    not worker.draining
                    and worker.heartbeat_age > late
                    and not await self._worker_answers(worker)
                ):
                    await self._worker_lost(worker_id)
            elif missing_since is None:
                missing_since = now
            elif now - missing_since >= grace:
                missing_since = None
                await self._worker_lost(worker_id)

    async def _worker_answers(self, worker: WorkerInfo) -> bool:
        self.pong.clear()
        await self.channel_layer.send(
            worker.channel, contract.Ping(reply_channel=self.channel_name).to_dict()
        )
        try:
            await asyncio.wait_for(self.pong.wait(), settings.WORKER_PING_TIMEOUT)
        except TimeoutError:
            return False
        return True

    async def _worker_lost(self, worker_id: str) -> None:
        """Move this call, and every other page of the room, off a dead worker."""
        if self.worker_id != worker_id:
            return
        logger.info("room=%s: worker %s is gone, moving the call", self.room_id, worker_id)
        try:
            await registry().mark_lost(worker_id)
        except Exception:
            logger.warning("room=%s: cannot mark worker %s lost", self.room_id, worker_id, exc_info=True)
        await self.channel_layer.group_send(
            room_group(self.room_id), contract.WorkerLost(worker_id=worker_id).to_dict()
        )

    # --- From the media worker (this consumer's channel) and the room group ---------------------

    # Each worker message is parsed by the contract: one that does not fit raises here, loudly.

    async def worker_answer(self, event: dict[str, Any]) -> None:
        answer = contract.from_dict(contract.Answer, event)
        await self._send({"type": "answer", "sdp": answer.sdp, "sdp_type": answer.sdp_type})

    async def worker_caption(self, event: dict[str, Any]) -> None:
        caption = contract.from_dict(contract.Caption, event)
        await self._send({**caption.to_dict(), "type": "captions"})

    async def worker_translation(self, event: dict[str, Any]) -> None:
        status = contract.from_dict(contract.TranslationStatus, event)
        await self._send({**status.to_dict(), "type": "translation"})

    async def worker_error(self, event: dict[str, Any]) -> None:
        error = contract.from_dict(contract.WorkerError, event)
        if error.code != "join_in_progress":  # else the first offer is still being answered
            self.worker_channel = self.worker_id = None
        await self._error(error.code, error.message, "offer")

    async def worker_replaced(self, event: dict[str, Any]) -> None:
        self.worker_channel = self.worker_id = None
        await self._refuse(
            CLOSE_REPLACED, "replaced", gettext_noop("You joined this call from another tab or device.")
        )

    async def worker_pong(self, event: dict[str, Any]) -> None:
        contract.from_dict(contract.Pong, event)
        self.pong.set()

    async def call_worker_lost(self, event: dict[str, Any]) -> None:
        """A page of this room found the call's worker dead: reconnect (to another worker)."""
        if self.worker_id != contract.from_dict(contract.WorkerLost, event).worker_id:
            return
        self.worker_channel = self.worker_id = None
        await self._send({"type": "reconnect", "reason": "worker_lost", "message": "Reconnecting your call."})

    async def worker_moving(self, event: dict[str, Any]) -> None:
        self.worker_channel = self.worker_id = None
        await self._send(
            {
                "type": "reconnect",
                "reason": "moving",
                "message": gettext_noop("Moving your call to another server."),
            }
        )

    async def room_closed(self, event: dict[str, Any]) -> None:
        """The owner closed or deleted the room: the call ends for everyone on its page."""
        await self._leave_call()
        await self._refuse(
            CLOSE_ROOM_CLOSED, "room_closed", contract.from_dict(contract.RoomClosed, event).message
        )

    async def room_transcripts_notice(self, event: dict[str, Any]) -> None:
        """The owner turned transcripts on or off: the page shows or hides its notice."""
        notice = contract.from_dict(contract.TranscriptsNotice, event)
        await self._send({"type": "transcribed", "on": notice.keep})

    async def access_check(self, event: dict[str, Any]) -> None:
        """Someone was removed from the room, or this user logged out or changed their password."""
        if self.membership is not None:
            await self._recheck(ended_session=contract.from_dict(contract.AccessCheck, event).ended_session)

    async def call_roster(self, event: dict[str, Any]) -> None:
        roster = contract.from_dict(contract.Roster, event).to_dict()
        await self._send(
            {"type": "state", "participants": roster["participants"], "sessions": roster["sessions"]}
        )
