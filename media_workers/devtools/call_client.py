"""A synthetic participant: logs in over HTTP, joins a call through the real websocket with
aiortc, plays a tone or a WAV file as its microphone and records what it hears.

Used by the end-to-end tests, the benchmarks and `python manage.py call_client`.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import logging
import re
import time
import urllib.parse
import urllib.request
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media_workers.devtools.dsp import ToneGenerator
from media_workers.runtime.audio import FRAME_SAMPLES, SAMPLE_RATE, FrameClock, InboundResampler, pcm_to_frame
from media_workers.runtime.ice import rtc_configuration

logger = logging.getLogger(__name__)


class ToneTrack(MediaStreamTrack):
    """A microphone that plays a steady tone (or silence when `freq` is None), paced in real time."""

    kind = "audio"

    def __init__(self, freq: float | None, amplitude: float = 0.3) -> None:
        super().__init__()
        self.freq = freq
        self._generator = ToneGenerator(freq or 440.0, SAMPLE_RATE, amplitude)
        self._clock = FrameClock()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._clock.next_frame()
        if self.freq is None:
            samples = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        else:
            self._generator.freq = self.freq
            samples = self._generator.next(FRAME_SAMPLES)
        return pcm_to_frame(samples, pts)


@dataclass
class Heard:
    """Everything the participant received: audio with arrival times, captions, server messages."""

    chunks: list[tuple[float, npt.NDArray[np.int16]]] = field(default_factory=list)
    captions: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    # When the first audible (not silent) audio arrived: join-to-first-audio.
    first_sound_at: float | None = None

    def audio(self, since: float = 0.0) -> npt.NDArray[np.int16]:
        """Received audio (24 kHz mono) that arrived after monotonic time `since`."""
        parts = [samples for at, samples in self.chunks if at >= since]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def caption_text(self, kind: str = "translation") -> str:
        return "".join(c["text"] for c in self.captions if c.get("kind") == kind)


class _ThroughProxy(urllib.request.HTTPRedirectHandler):
    """Follows the site's absolute https:// redirects to the web process behind the proxy."""

    def __init__(self, site_url: str, base_url: str) -> None:
        self.site_url, self.base_url = site_url, base_url

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if newurl.startswith(self.site_url + "/"):
            newurl = self.base_url + newurl[len(self.site_url) :]
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpSession:
    """Just enough of a browser to log in to the site and keep its cookies.

    With `forwarded_for` (a client address) it talks to the site as a TLS-terminating reverse
    proxy would on that client's behalf: plain HTTP to the web process, with X-Forwarded-Proto
    https and X-Forwarded-For, so production settings (secure cookies, HTTPS redirect, CSRF
    referer checks) see an https:// visitor.
    """

    def __init__(self, base_url: str, *, forwarded_for: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers: dict[str, str] = {}
        self.site_url = self.base_url
        policy = http.cookiejar.DefaultCookiePolicy()
        if forwarded_for is not None:
            self.headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": forwarded_for}
            self.site_url = urllib.parse.urlsplit(self.base_url)._replace(scheme="https").geturl()
            # The browser's side of the proxy is https: its Secure cookies go back to the site.
            policy = http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "wss", "http"))
        self.jar = http.cookiejar.CookieJar(policy)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _ThroughProxy(self.site_url, self.base_url)
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def get(self, path: str) -> tuple[str, str]:
        request = urllib.request.Request(self.base_url + path, headers=self.headers)
        with self.opener.open(request, timeout=15) as response:
            return response.geturl(), response.read().decode()

    def post(self, path: str, data: dict[str, str]) -> tuple[str, str]:
        """Submit a form the way a browser would: fetch it for the CSRF token, then post."""
        self.get(path)
        fields = {"csrfmiddlewaretoken": self.cookie("csrftoken") or "", **data}
        request = urllib.request.Request(
            self.base_url + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={**self.headers, "Referer": self.site_url + path},
        )
        with self.opener.open(request, timeout=15) as response:
            return response.geturl(), response.read().decode()

    def login(self, email: str, password: str) -> None:
        url, _ = self.post("/accounts/login/", {"login": email, "password": password})
        if self.cookie("sessionid") is None:
            raise RuntimeError(f"login failed for {email} (ended at {url})")

    def join_as_guest(self, invite_path: str, *, name: str, language: str) -> str:
        """Join a room through its invite link as a guest; returns the room's public id."""
        url, _ = self.post(invite_path, {"display_name": name, "language": language})
        match = re.search(r"/r/([^/]+)/", url)
        if match is None or self.cookie("sessionid") is None:
            raise RuntimeError(f"guest join failed (ended at {url})")
        return match.group(1)


class CallClient:
    """One synthetic participant in one room; it follows the server's `reconnect` by itself."""

    def __init__(
        self,
        *,
        base_url: str,
        room_id: str,
        http: HttpSession,
        source: Callable[[], MediaStreamTrack],
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.room_id = room_id
        self.http = http
        # A closed peer connection stops its track, so every join gets a new microphone.
        self.source = source
        self.track: MediaStreamTrack | None = None
        self.heard = Heard()
        # Monotonic times at which the server asked us to reconnect, and we had rejoined.
        self.reconnects_asked: list[float] = []
        self.rejoined: list[float] = []
        self._rejoining: asyncio.Task[None] | None = None
        self.hello: dict[str, Any] = {}
        self.pc: RTCPeerConnection | None = None
        self._ws: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._answer: asyncio.Future[dict[str, Any]] | None = None
        self._hello: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @property
    def first_audio_at(self) -> float | None:
        return self.heard.first_sound_at

    @property
    def ws_url(self) -> str:
        parts = urllib.parse.urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}/ws/rooms/{self.room_id}/"

    async def connect(self, timeout: float = 10.0) -> dict[str, Any]:
        """Open the signalling websocket; returns the server's `hello`."""
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.jar)
        self._ws = await websockets.connect(
            self.ws_url, additional_headers={"Cookie": cookie, "Origin": self.base_url}, max_size=2**20
        )
        self._tasks.append(asyncio.create_task(self._read_signalling()))
        self.hello = await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        return self.hello

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def join(self, timeout: float = 15.0) -> None:
        """Offer our microphone to the media worker and wait for its answer."""
        if not self.hello:
            await self.connect()
        self.pc = RTCPeerConnection(configuration=rtc_configuration())
        self.track = self.source()
        self.pc.addTrack(self.track)
        self.pc.on("track", self._on_track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self._answer = asyncio.get_running_loop().create_future()
        await self.send({"type": "offer", "sdp": self.pc.localDescription.sdp})
        answer = await asyncio.wait_for(self._answer, timeout)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["sdp_type"]))

    async def set_language(self, language: str) -> None:
        await self.send({"type": "settings", "hear_language": language})

    async def mute(self, muted: bool) -> None:
        await self.send({"type": "mute", "muted": muted})

    async def leave(self) -> None:
        """Leave the call but keep the page (websocket) open."""
        await self.send({"type": "leave"})
        await self._close_peer()

    async def close(self) -> None:
        await self._close_peer()
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _close_peer(self) -> None:
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    async def _rejoin(self, attempts: int = 20) -> None:
        """Join again (on another worker), retrying while the service says it is busy."""
        await self._close_peer()
        for attempt in range(attempts):
            try:
                await self.join()
            except (RuntimeError, TimeoutError) as exc:
                logger.info("room=%s: rejoin attempt %d failed: %s", self.room_id, attempt + 1, exc)
                await self._close_peer()
                await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
                continue
            self.rejoined.append(time.monotonic())
            return

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(record(track, self.heard)))

    async def _read_signalling(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            self.heard.messages.append(message)
            kind = message.get("type")
            if kind == "hello" and not self._hello.done():
                self._hello.set_result(message)
            elif kind == "answer" and self._answer is not None and not self._answer.done():
                self._answer.set_result(message)
            elif kind == "captions":
                self.heard.captions.append(message)
            elif kind == "reconnect":
                self.reconnects_asked.append(time.monotonic())
                # One rejoin at a time: a second one would close the first one's new connection.
                if self._rejoining is None or self._rejoining.done():
                    self._rejoining = asyncio.create_task(self._rejoin())
                    self._tasks.append(self._rejoining)
            elif kind == "error":
                logger.info(
                    "room=%s: server error %s: %s", self.room_id, message.get("code"), message.get("message")
                )
                if message.get("about") == "offer" and self._answer is not None and not self._answer.done():
                    self._answer.set_exception(
                        RuntimeError(f"{message.get('code')}: {message.get('message')}")
                    )
                if message.get("fatal") and not self._hello.done():
                    self._hello.set_exception(
                        RuntimeError(f"{message.get('code')}: {message.get('message')}")
                    )


async def record(track: MediaStreamTrack, heard: Heard) -> None:
    """Append what a remote track plays to `heard` (24 kHz mono, with arrival times)."""
    resample = InboundResampler()
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        pcm = resample(frame)  # type: ignore[arg-type]
        if pcm:
            now = time.monotonic()
            samples = np.frombuffer(pcm, dtype=np.int16)
            if heard.first_sound_at is None and np.abs(samples).max() > 300:
                heard.first_sound_at = now
            heard.chunks.append((now, samples))


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll until `predicate()` is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


def wav_source(path: str | Path) -> MediaStreamTrack:
    """A microphone that plays a WAV file in a loop."""
    player = MediaPlayer(str(path), loop=True)
    assert player.audio is not None, f"{path} has no audio"
    return player.audio


def write_wav(path: str | Path, samples: npt.NDArray[np.int16], sample_rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.astype("<i2").tobytes())


__all__ = ["CallClient", "Heard", "HttpSession", "ToneTrack", "wav_source", "write_wav"]
