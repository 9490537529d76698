"""A bench client process: hosts the synthetic participants of a few rooms (or direct pairs).

The orchestrator (bench.run) starts one per few rooms, so the participants' own Opus and
detection work stays out of the process being measured. Protocol over a Pipe: the child
sends ("ready", info) once every participant is connected, the parent answers ("stop",
since, until) after its measurement window, and the child replies ("result", figures).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media_workers.devtools.call_client import CallClient, Heard, HttpSession, record
from media_workers.runtime.aiortc_overrides import replace_jitter_buffer, restrict_host_addresses

from .bursts import BurstTrack, PacketBurstTrack, PacketCounter, match, onsets

logger = logging.getLogger(__name__)

# A received frame that comes more than 20 ms after the one before it's due is late.
LATE_GAP = 0.040
SETUP_TIMEOUT = 90.0
CLOSE_TIMEOUT = 10.0


@dataclass
class Side:
    """One participant: what it sends (bursts) and what it hears (decoded, or packets counted)."""

    track: BurstTrack | PacketBurstTrack
    heard: Heard
    close: Callable[[], Awaitable[None]]
    join_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    counter: PacketCounter | None = None


async def _direct_pair() -> list[Side]:
    a, b = (
        RTCPeerConnection(RTCConfiguration(iceServers=[])),
        RTCPeerConnection(RTCConfiguration(iceServers=[])),
    )
    sides = [Side(BurstTrack(), Heard(), a.close), Side(BurstTrack(), Heard(), b.close)]
    tasks: list[asyncio.Task[None]] = []
    for pc, side in ((a, sides[0]), (b, sides[1])):
        pc.addTrack(side.track)
        pc.on("track", lambda track, h=side.heard: tasks.append(asyncio.create_task(record(track, h))))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    return sides


async def _naive_side(relay_url: str, room: str, who: str, listener: str) -> Side:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    side = Side(BurstTrack(), Heard(), pc.close)
    pc.addTrack(side.track)
    pc.on("track", lambda track: asyncio.ensure_future(record(track, side.heard)))
    await pc.setLocalDescription(await pc.createOffer())
    async with websockets.connect(relay_url) as ws:
        await ws.send(
            json.dumps({"room": room, "who": who, "listener": listener, "sdp": pc.localDescription.sdp})
        )
        answer = json.loads(await ws.recv())
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return side


async def _worker_side(
    base_url: str, room_id: str, email: str, password: str, listen: str, probe: bool
) -> Side:
    http = HttpSession(base_url)
    await asyncio.to_thread(http.login, email, password)
    # Only the rooms that measure latency encode and decode; the others are cheap load.
    track = BurstTrack() if probe else PacketBurstTrack()
    client = CallClient(base_url=base_url, room_id=room_id, http=http, source=lambda: track)
    started = time.monotonic()
    await client.connect()
    # One of the two at a time: the ducked original would be a second, earlier onset of every
    # burst of the translation (and the translation a later one of the original's).
    if listen == "original":
        await client.send({"type": "settings", "original_volume": 1.0, "translation_volume": 0})
    else:
        await client.send({"type": "settings", "original_volume": 0})
    await client.join()
    counter = None
    if not probe:
        assert client.pc is not None
        counter = PacketCounter()
        (transceiver,) = client.pc.getTransceivers()
        replace_jitter_buffer(transceiver.receiver, counter)
    return Side(track, client.heard, client.close, started=started, counter=counter)


async def _setup(job: dict[str, Any]) -> list[tuple[Side, Side]]:
    pairs: list[tuple[Side, Side]] = []
    for room in job["rooms"]:
        if job["kind"] == "direct":
            a, b = await _direct_pair()
        elif job["kind"] == "naive":
            a = await _naive_side(job["relay_url"], room["room"], "a", "b")
            b = await _naive_side(job["relay_url"], room["room"], "b", "a")
        else:
            listen, probe = job.get("listen", "translation"), room.get("probe", True)
            a = await _worker_side(
                job["base_url"], room["room_id"], room["a"], job["password"], listen, probe
            )
            b = await _worker_side(
                job["base_url"], room["room_id"], room["b"], job["password"], listen, probe
            )
        pairs.append((a, b))
    return pairs


def _late_gaps(arrivals: list[float], since: float, until: float) -> tuple[int, int]:
    times = np.array([at for at in arrivals if since <= at < until])
    if times.size < 2:
        return 0, int(times.size)
    return int(np.count_nonzero(np.diff(times) > LATE_GAP)), int(times.size)


def _figures(pairs: list[tuple[Side, Side]], since: float, until: float) -> dict[str, Any]:
    latencies: list[float] = []
    sent = unmatched = late = frames = 0
    for a, b in pairs:
        for speaker, listener in ((a, b), (b, a)):
            if listener.counter is not None:
                arrivals = listener.counter.arrivals
            else:
                result = match(speaker.track.sent, onsets(listener.heard.chunks), since, until)
                latencies += result.values
                sent += result.sent
                unmatched += result.unmatched
                arrivals = [at for at, _ in listener.heard.chunks]
            gaps, count = _late_gaps(arrivals, since, until)
            late += gaps
            frames += count
    return {"latencies": latencies, "sent": sent, "unmatched": unmatched, "late_gaps": late, "frames": frames}


def _set_jitter_prefetch(frames: int) -> None:
    """Make aiortc's audio receivers in this process release a packet once `frames` follow it.

    aiortc hard-codes 4 (80 ms) for audio; the bench measures what that costs per hop.
    """
    import aiortc.rtcrtpreceiver
    from aiortc.jitterbuffer import JitterBuffer

    class PrefetchJitterBuffer(JitterBuffer):
        def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
            super().__init__(capacity, prefetch if is_video else frames, is_video)

    aiortc.rtcrtpreceiver.JitterBuffer = PrefetchJitterBuffer  # type: ignore[misc]


async def _run(job: dict[str, Any], conn: Connection) -> None:
    restrict_host_addresses(["127.0.0.1"])
    if job.get("jitter_prefetch") is not None:
        _set_jitter_prefetch(int(job["jitter_prefetch"]))
    pairs = await asyncio.wait_for(_setup(job), SETUP_TIMEOUT)
    conn.send(("ready", {}))
    loop = asyncio.get_running_loop()
    ready = await loop.run_in_executor(None, conn.poll, job["timeout"])
    since, until = conn.recv()[1:] if ready else (0.0, 0.0)
    # Bursts sent just before `until` are still on their way.
    await asyncio.sleep(1.0)
    conn.send(("result", _figures(pairs, since, until)))
    closing = [side.close() for pair in pairs for side in pair]
    try:
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), CLOSE_TIMEOUT)
    except TimeoutError:
        # The figures are in; the process exits and the peers' sockets close with it.
        logger.warning("bench client: closing the participants took over %.0f s", CLOSE_TIMEOUT)


def main(job: dict[str, Any], conn: Connection) -> None:
    """Entry point of the child process (multiprocessing, spawn)."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_run(job, conn))
    except Exception as exc:
        logger.exception("bench client failed")
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
