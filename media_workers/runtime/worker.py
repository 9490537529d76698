"""The media worker process: hosts calls, announced in Redis, driven over the channel layer.

The web tier's signalling consumers send the worker messages on its own channel; the
worker answers on each consumer's channel and broadcasts room state to the room's group.
The message loop only routes: anything slow runs in a task owned by the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
import socket
import uuid
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings

from media_workers.runtime import ice
from media_workers.runtime.call import Call
from media_workers.runtime.slots import OwnerSlots
from media_workers.runtime.transcripts import TranscriptSender
from media_workers.runtime.translation import TranslationSession, Usage, make_client
from media_workers.runtime.usage import UsageReporter
from media_workers.shared import contract
from media_workers.shared.contract import Message
from media_workers.shared.registry import Registry, key_prefix

logger = logging.getLogger(__name__)

OUTBOX_SIZE = 5000
# What the openai SDK imports lazily when it opens its first realtime connection.
_REALTIME_MODULES = ("openai.lib.realtime_translation", "websockets.asyncio.client", "websockets.sync.client")


class WorkerOutbox:
    """Sends the worker's messages in order from one task, so the audio path never awaits."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.queue: asyncio.Queue[tuple[str, str, Message]] = asyncio.Queue(OUTBOX_SIZE)
        self.dropped = 0

    def send(self, channel: str, message: Message) -> None:
        self._put(("send", channel, message))

    def group_send(self, group: str, message: Message) -> None:
        self._put(("group", group, message))

    def _put(self, item: tuple[str, str, Message]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped % 100 == 1:
                logger.warning("outbox full: dropped %d messages so far", self.dropped)

    async def run(self) -> None:
        while True:
            kind, target, message = await self.queue.get()
            try:
                if kind == "send":
                    await self.layer.send(target, message.to_dict())
                else:
                    await self.layer.group_send(target, message.to_dict())
            except Exception:
                # A full or vanished consumer channel must not stop everyone else's messages.
                logger.warning("could not deliver %s to %s", message.TYPE, target, exc_info=True)


class MediaWorker:
    """One media-worker process: its calls, its registry entry and its inbox."""

    def __init__(self, *, worker_id: str | None = None, capacity: int | None = None) -> None:
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.capacity = capacity if capacity is not None else settings.MEDIA_WORKER_CAPACITY
        self.host = socket.gethostname()
        self.calls: dict[str, Call] = {}
        self.channel = ""
        self.draining = False
        self.stopping = asyncio.Event()
        self.layer: BaseChannelLayer = get_channel_layer()
        self.registry = Registry()
        self.slots = OwnerSlots(self.registry.redis, prefix=key_prefix())
        self.outbox = WorkerOutbox(self.layer)
        self.client = make_client()
        self.usage = UsageReporter(
            worker_id=self.id, sessions=lambda: [s for c in self.calls.values() for s in c.sessions.values()]
        )
        self.transcripts = TranscriptSender(worker_id=self.id)
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Serve until `stop()` is called."""
        ice.configure_from_settings()
        self._preload_realtime()
        self.channel = await self.layer.new_channel(prefix="mediaworker")
        await self._heartbeat()
        logger.info("worker=%s listening on %s (capacity %d rooms)", self.id, self.channel, self.capacity)
        background = [
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._receive_loop(), name="inbox"),
            asyncio.create_task(self.usage.run(), name="usage"),
            asyncio.create_task(self.transcripts.run(), name="transcripts"),
        ]
        try:
            await self.stopping.wait()
        finally:
            await self._shutdown(background)

    def stop(self) -> None:
        self.stopping.set()

    def _preload_realtime(self) -> None:
        """Import now what the SDK imports on a first realtime connection (it held the loop ~1 s)."""
        self.client.realtime.translations.connect(model=settings.OPENAI_TRANSLATION_MODEL)
        for module in _REALTIME_MODULES:
            # An SDK that moved one only loses the head start.
            with contextlib.suppress(ImportError):
                importlib.import_module(module)

    async def _receive_loop(self) -> None:
        while True:
            # The layer itself waits out a Redis restart (translator_site/channel_layer.py).
            message = await self.layer.receive(self.channel)
            try:
                self.dispatch(message)
            except Exception:
                logger.exception("worker=%s: could not handle %s", self.id, message.get("type"))

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(settings.MEDIA_WORKER_HEARTBEAT_SECONDS)
            try:
                await self._heartbeat()
            except Exception:
                logger.warning("worker=%s: heartbeat failed", self.id, exc_info=True)

    async def _heartbeat(self) -> None:
        await self.registry.heartbeat(
            worker_id=self.id,
            host=self.host,
            pid=os.getpid(),
            channel=self.channel,
            capacity=self.capacity,
            participants=sum(len(c.participants) for c in self.calls.values()),
            sessions=sum(len(c.sessions) for c in self.calls.values()),
            draining=self.draining,
            ttl=settings.MEDIA_WORKER_HEARTBEAT_TTL,
        )
        await self.slots.renew(s for c in self.calls.values() for s in c.sessions.values())

    async def _shutdown(self, background: list[asyncio.Task[Any]]) -> None:
        """Move every call elsewhere, then stop: pages reconnect to another worker by themselves."""
        self.draining = True
        try:
            # Draining and without rooms first, so the moved calls are claimed by other workers.
            await self._heartbeat()
            for room_id in list(self.calls):
                await self.registry.release_room(worker_id=self.id, room_id=room_id)
        except Exception:
            logger.warning("worker=%s: could not mark itself draining", self.id, exc_info=True)
        moving = [p for call in self.calls.values() for p in call.participants.values()]
        for participant in moving:
            self.outbox.send(participant.reply_channel, contract.Moving())
        if moving:
            # Keep the old calls playing while the pages connect to their new worker.
            await asyncio.sleep(settings.MEDIA_WORKER_DRAIN_SECONDS)
        await asyncio.gather(*(call.close() for call in self.calls.values()), return_exceptions=True)
        self.calls.clear()
        await self.usage.flush()
        await self.transcripts.flush()
        try:
            await self.registry.unregister(self.id)
        except Exception:
            logger.warning("worker=%s: could not unregister", self.id, exc_info=True)
        # Let the outbox deliver what is left before it stops.
        for _ in range(50):
            if self.outbox.queue.empty():
                break
            await asyncio.sleep(0.02)
        for task in [*background, *self._tasks]:
            task.cancel()
        await asyncio.gather(*background, *self._tasks, return_exceptions=True)
        await self.registry.close()
        logger.info("worker=%s stopped", self.id)

    # --- Messages from the web tier ------------------------------------------------------------

    def dispatch(self, raw: dict[str, Any]) -> None:
        """Route one message from the web tier; ContractError if it does not fit the contract."""
        message = contract.parse(raw)
        if isinstance(message, contract.Ping):
            # A web process whose call's worker looks late asks if it is alive (rooms/consumers.py).
            self.outbox.send(message.reply_channel, contract.Pong(worker_id=self.id))
            return
        if isinstance(message, contract.Join):
            self._join(message)
            return
        room_id: str | None = getattr(message, "room_id", None)
        call = self.calls.get(room_id) if room_id is not None else None
        if call is None:
            reply_channel = getattr(message, "reply_channel", None)
            if isinstance(message, contract.Candidate | contract.Update) and reply_channel:
                self.outbox.send(
                    reply_channel, contract.WorkerError(code="not_in_call", message="Join the call first.")
                )
            return
        match message:
            case contract.TranslationBlocked(blocked=blocked, payer_id=payer_id):
                if payer_id is not None:
                    call.payer_id = payer_id
                call.set_translation_blocked(blocked)
            case contract.KeepTranscripts(keep=keep):
                call.set_keep_transcripts(keep)
            case contract.EndCall():
                # The room was closed or deleted: every peer connection and translation ends now,
                # whatever its pages do.
                del self.calls[call.room_id]
                self._spawn(self._release(call), name=f"end {call.room_id}")
            case contract.RosterRequest(reply_channel=reply_channel):
                self.outbox.send(reply_channel, call.roster())
            case contract.Candidate(participant_id=participant_id, candidate=candidate):
                call.spawn(call.add_candidate(participant_id, candidate), name="candidate")
            case contract.Update(participant_id=participant_id, changes=changes):
                call.update(participant_id, changes)
            case contract.Leave(participant_id=participant_id, reply_channel=reply_channel):
                call.spawn(call.leave(participant_id, reply_channel), name=f"leave {participant_id}")
            case _:
                logger.warning("worker=%s room=%s: %s is not for the worker", self.id, room_id, message.TYPE)

    def _join(self, message: contract.Join) -> None:
        call = self.calls.get(message.room_id)
        if call is None:
            call = Call(
                room_id=message.room_id,
                outbox=self.outbox,
                client=self.client,
                on_empty=self._call_empty,
                on_session_end=self._session_ended,
                slots=self.slots,
                on_utterance=self.transcripts.put,
            )
            self.calls[message.room_id] = call
        call.payer_id = message.payer_id
        call.set_translation_blocked(message.translation_blocked)
        call.set_keep_transcripts(message.keep_transcripts)
        # The call keeps and changes the participant's info: its own copy, not the message's.
        info = dataclasses.replace(message.participant)
        call.spawn(
            call.join(
                info=info, reply_channel=message.reply_channel, sdp=message.sdp, sdp_type=message.sdp_type
            ),
            name=f"join {info.id}",
        )

    def _call_empty(self, call: Call) -> None:
        if self.calls.get(call.room_id) is call and call.is_empty:
            del self.calls[call.room_id]
            self._spawn(self._release(call), name=f"release {call.room_id}")

    async def _release(self, call: Call) -> None:
        await call.close()
        await self.registry.release_room(worker_id=self.id, room_id=call.room_id)
        logger.info("worker=%s room=%s: call ended", self.id, call.room_id)

    def _session_ended(self, session: TranslationSession, usage: Usage) -> None:
        self.usage.session_ended(session, usage)
        logger.info(
            "room=%s speaker=%s language=%s: session (or its month) ended, %.1f s sent, %.1f s received, "
            "%d errors, %d reconnects",
            session.room_id,
            session.speaker_id,
            session.language,
            usage.seconds_sent,
            usage.seconds_received,
            usage.errors,
            usage.reconnects,
        )
