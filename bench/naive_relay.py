"""The baseline relay: built the straightforward way the libraries' documentation suggests.

Per participant: an aiortc peer connection; for every frame received, a new AudioResampler
to 24 kHz mono PCM16, base64 and the SDK's typed `send()` (JSON per 20 ms frame) to a
Realtime Translation session; every server event parsed by the SDK into a model; translated
audio queued per listener and played by an outbound track that builds each frame with
`AudioFrame.from_ndarray`. No original voice under the translation (the bench sets our
worker's original volume to 0 too). Signalling is a bare websocket, not the web tier:
this process's CPU is what is measured, and it does no signalling work during that time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import Any

import av
import numpy as np
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from openai import AsyncOpenAI

from media_workers.runtime.aiortc_overrides import restrict_host_addresses

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24000
FRAME_SAMPLES = 480
# Translated audio is dropped past this much queued, as any relay must bound its memory.
MAX_QUEUED_SAMPLES = SAMPLE_RATE * 3


class QueueTrack(MediaStreamTrack):
    """A listener's outbound track: 20 ms frames from a byte queue, silence when it is empty."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue = bytearray()
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._pts / SAMPLE_RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        need = FRAME_SAMPLES * 2
        chunk = bytes(self.queue[:need])
        del self.queue[:need]
        chunk += bytes(need - len(chunk))
        samples = np.frombuffer(chunk, dtype=np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += FRAME_SAMPLES
        return frame


class Room:
    """Two participants; each one's voice goes through its own session to the other."""

    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model
        self.outbound: dict[str, QueueTrack] = {}
        self.tasks: list[asyncio.Task[None]] = []

    async def speaker(self, who: str, listener: str, track: MediaStreamTrack) -> None:
        manager = self.client.realtime.translations.connect(model=self.model)
        connection = await manager.enter()
        await connection.session.update(session={"audio": {"output": {"language": "es"}}})  # type: ignore[typeddict-item]
        receiver = asyncio.create_task(self.receive(connection, listener))
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                for out in [*resampler.resample(frame), *resampler.resample(None)]:  # type: ignore[arg-type]
                    pcm = out.to_ndarray().tobytes()
                    await connection.send(
                        {
                            "type": "session.input_audio_buffer.append",
                            "audio": base64.b64encode(pcm).decode(),
                        }  # type: ignore[arg-type]
                    )
        finally:
            receiver.cancel()
            await connection.close()

    async def receive(self, connection: Any, listener: str) -> None:
        async for event in connection:
            track = self.outbound.get(listener)
            if event.type == "session.output_audio.delta" and track is not None:
                queue = track.queue
                queue += base64.b64decode(event.delta)
                if len(queue) > MAX_QUEUED_SAMPLES * 2:
                    del queue[: len(queue) - MAX_QUEUED_SAMPLES * 2]


async def serve(port: int, base_url: str, model: str, stop_after: float) -> None:
    restrict_host_addresses(["127.0.0.1"])
    client = AsyncOpenAI(api_key="demo", base_url=base_url)
    rooms: dict[str, Room] = {}
    peers: list[RTCPeerConnection] = []

    async def handle(ws: Any) -> None:
        request = json.loads(await ws.recv())
        room = rooms.setdefault(request["room"], Room(client, model))
        who, listener = request["who"], request["listener"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peers.append(pc)
        room.outbound[who] = QueueTrack()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            room.tasks.append(asyncio.create_task(room.speaker(who, listener, track)))

        await pc.setRemoteDescription(RTCSessionDescription(sdp=request["sdp"], type="offer"))
        pc.addTrack(room.outbound[who])
        await pc.setLocalDescription(await pc.createAnswer())
        await ws.send(json.dumps({"sdp": pc.localDescription.sdp}))

    async with websockets.serve(handle, "127.0.0.1", port):
        # Bounded: the orchestrator terminates this process, and it ends by itself regardless.
        await asyncio.sleep(stop_after)
    for pc in peers:
        await pc.close()


def main(port: int, base_url: str, model: str, stop_after: float) -> None:
    logging.basicConfig(level=logging.WARNING)
    # The orchestrator probes the port with a bare TCP connect until the server listens.
    logging.getLogger("websockets.server").setLevel(logging.CRITICAL)
    asyncio.run(serve(port, base_url, model, stop_after))
