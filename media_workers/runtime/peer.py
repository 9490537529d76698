"""A participant's side of the call on the worker: their peer connection and audio buffers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiortc import RTCPeerConnection, RTCSessionDescription
from django.conf import settings

from media_workers.runtime import counters
from media_workers.runtime.aiortc_overrides import InboundAudio, ask_for_fec, decode_inline, prefer_opus
from media_workers.runtime.audio import ChunkAccumulator
from media_workers.runtime.ice import parse_candidate, peer_policy, rtc_configuration, screen_offer
from media_workers.runtime.mixer import ListenerTrack
from media_workers.runtime.plan import Source, SourceKey
from media_workers.runtime.playout import PlayoutBuffer
from media_workers.shared.contract import ParticipantInfo

logger = logging.getLogger(__name__)

ORIGINAL_MAX_MS = 300
# OpenAI's translation engine answers in frames of this length (docs: realtime translation).
ENGINE_FRAME_MS = 200


class Participant:
    """One person in a call: the peer connection to their browser and what they hear."""

    def __init__(
        self,
        *,
        room_id: str,
        info: ParticipantInfo,
        reply_channel: str,
        on_audio: Callable[[Participant, bytes], None],
        on_gone: Callable[[Participant], None],
    ) -> None:
        self.room_id = room_id
        self.info = info
        self.reply_channel = reply_channel
        self.pc = RTCPeerConnection(configuration=rtc_configuration())
        self.track = ListenerTrack(settings.MEDIA_PTIME_MS)
        self.inbound: InboundAudio | None = None
        # A speaker's voice or translation -> what this listener hears of it.
        self.buffers: dict[SourceKey, PlayoutBuffer] = {}
        self.chunker = ChunkAccumulator(settings.TRANSLATION_CHUNK_MS)
        self.frames_in = 0
        # Remote ICE candidates accepted so far (offer and trickle), against a per-person cap.
        self.remote_candidates = 0
        # The languages this participant is being translated into (sessions of theirs).
        self.session_languages: list[str] = []
        # The listening language asked for and not applied yet (changes are paced), and whether
        # a timer will apply it.
        self.pending_hear: str | None = None
        self.language_timer_set = False
        # Since when (monotonic) they are muted, and whether their translations are closed for it.
        self.muted_since: float | None = None
        self.translation_paused = False
        self._on_audio = on_audio
        self._on_gone = on_gone
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self.pc.on("connectionstatechange", self._on_connection_state)

    @property
    def id(self) -> str:
        return self.info.id

    def __repr__(self) -> str:
        return f"<Participant room={self.room_id} id={self.id}>"

    async def answer(self, *, sdp: str, sdp_type: str) -> RTCSessionDescription:
        """Apply the browser's offer and return our answer (ICE gathering included).

        Raises `ice.BadOffer` for an offer with anything but one audio section.
        """
        screened = screen_offer(
            sdp, policy=peer_policy(), max_candidates=settings.MAX_ICE_CANDIDATES_PER_PARTICIPANT
        )
        if screened.dropped:
            logger.info(
                "room=%s participant=%s: dropped %d candidates of the offer",
                self.room_id,
                self.id,
                screened.dropped,
            )
        self.remote_candidates = screened.candidates
        # The offer's one audio section (screen_offer lets nothing else through) takes this
        # transceiver, whose codec preferences apply when the offer is.
        transceiver = self.pc.addTransceiver(self.track, direction="sendrecv")
        prefer_opus(transceiver)
        self.inbound = decode_inline(
            transceiver.receiver, self._on_inbound, reorder_frames=settings.MEDIA_REORDER_FRAMES
        )
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=screened.sdp, type=sdp_type))
        ask_for_fec(transceiver)
        self._watchdog = asyncio.create_task(self._watch_for_silence(), name=f"silence {self.id}")
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        description = self.pc.localDescription
        assert description is not None
        return description

    async def add_candidate(self, candidate: dict[str, object]) -> None:
        text = str(candidate.get("candidate") or "")
        if not text:
            return
        parsed = parse_candidate(text)
        if parsed is None or not peer_policy().allows(parsed.ip):
            logger.info("room=%s participant=%s: dropped a candidate", self.room_id, self.id)
            return
        if self.remote_candidates >= settings.MAX_ICE_CANDIDATES_PER_PARTICIPANT:
            logger.warning("room=%s participant=%s: too many candidates, dropped one", self.room_id, self.id)
            return
        self.remote_candidates += 1
        parsed.sdpMid = str(candidate["sdpMid"]) if candidate.get("sdpMid") is not None else None
        index = candidate.get("sdpMLineIndex")
        parsed.sdpMLineIndex = int(index) if isinstance(index, int) else None
        await self.pc.addIceCandidate(parsed)

    def source(self, key: SourceKey, gain: float) -> PlayoutBuffer:
        """The buffer for one source of this listener's mix, created on first use."""
        buffer = self.buffers.get(key)
        if buffer is None:
            # Translations arrive in bursts faster than real time and need room; a live voice
            # must stay live, so late audio of it is dropped rather than queued.
            max_ms = settings.PLAYOUT_MAX_MS if key.kind is Source.TRANSLATION else ORIGINAL_MAX_MS
            # Past what arrives at once (a translation: a chunk, or the model's 200 ms frame,
            # whichever is longer; a voice: one packet), skip silence so a backlog never becomes
            # permanent delay (bench/README.md: it was ~250 ms). Less would skip the pauses
            # inside a frame and leave gaps in speech that runs on into the next one.
            catch_up_ms = (
                max(settings.TRANSLATION_CHUNK_MS, ENGINE_FRAME_MS) if key.kind is Source.TRANSLATION else 0
            )
            buffer = PlayoutBuffer(max_ms=max_ms, catch_up_ms=catch_up_ms)
            self.buffers[key] = buffer
            self.track.set_source(key, buffer, gain)
        else:
            self.track.set_gain(key, gain)
        return buffer

    def drop_source(self, key: SourceKey) -> None:
        buffer = self.buffers.pop(key, None)
        if buffer is not None:
            self.track.remove_source(key)
            counters.retire_buffer(buffer)

    def _on_inbound(self, pcm: bytes) -> None:
        """One packet of the participant's voice, decoded (PCM16 mono 24 kHz), in order."""
        self.frames_in += 1
        self._on_audio(self, pcm)

    async def _watch_for_silence(self) -> None:
        """A muted browser still sends silent packets: no packets at all for long means it is gone.

        A counter checked a few times per timeout, rather than a timeout around every frame's
        recv(), which would cost a task per frame on the hot path.
        """
        timeout = settings.PARTICIPANT_SILENCE_TIMEOUT
        seen, quiet_since = self.frames_in, time.monotonic()
        while True:
            await asyncio.sleep(timeout / 4)
            now = time.monotonic()
            if self.frames_in != seen:
                seen, quiet_since = self.frames_in, now
            elif now - quiet_since >= timeout:
                logger.info(
                    "room=%s participant=%s: no audio for %.0f s, gone", self.room_id, self.id, timeout
                )
                self._on_gone(self)
                return

    async def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        logger.info("room=%s participant=%s: peer connection %s", self.room_id, self.id, state)
        if state in ("failed", "closed"):
            self._on_gone(self)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.track.stop()
        counters.retire_peer(
            frames_in=self.frames_in,
            frames_out=self.track.frames_sent,
            frames_late=self.track.late_frames,
            buffers=self.buffers.values(),
        )
        await self.pc.close()
