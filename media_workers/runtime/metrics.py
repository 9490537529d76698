"""The small HTTP server for the media worker's /healthz and /metrics: at the top, it reads the worker.

The counters it reports live at the bottom, in counters.py, so the audio path never imports this.

The server runs on the worker's event loop, so a scrape sees the calls between two audio
steps, never halfway through one, and /healthz answering means the loop is not stuck.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from media_workers.runtime.counters import (
    FIRST_TRANSLATED_AUDIO,
    OPENAI_ERRORS,
    OPENAI_RECONNECTS,
    OPENAI_ROTATIONS,
    RETIRED,
)

if TYPE_CHECKING:
    from media_workers.runtime.worker import MediaWorker

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0


class WorkerCollector(Collector):
    """Reads the worker's calls at scrape time."""

    def __init__(self, worker: MediaWorker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        worker = self.worker
        calls = list(worker.calls.values())
        participants = [p for call in calls for p in call.participants.values()]
        sessions = [s for call in calls for s in call.sessions.values()]
        buffers = [b for p in participants for b in p.buffers.values()]

        yield GaugeMetricFamily("translate_worker_calls", "Calls (rooms) on this worker.", value=len(calls))
        yield GaugeMetricFamily(
            "translate_worker_capacity_rooms", "Most rooms this worker takes.", value=worker.capacity
        )
        yield GaugeMetricFamily(
            "translate_worker_draining",
            "1 while the worker moves its calls away to stop.",
            value=worker.draining,
        )
        peers = GaugeMetricFamily(
            "translate_worker_peer_connections", "Peer connections by state.", labels=["state"]
        )
        for state, count in sorted(Tally(p.pc.connectionState for p in participants).items()):
            peers.add_metric([state], count)
        yield peers
        translations = GaugeMetricFamily(
            "translate_worker_translation_sessions", "Translation sessions by status.", labels=["status"]
        )
        for status, count in sorted(Tally(s.status for s in sessions).items()):
            translations.add_metric([status], count)
        yield translations
        yield CounterMetricFamily(
            "translate_worker_audio_frames_in",
            "Audio frames received from browsers.",
            value=RETIRED.frames_in + sum(p.frames_in for p in participants),
        )
        yield CounterMetricFamily(
            "translate_worker_audio_frames_out",
            "20 ms audio frames sent to browsers.",
            value=RETIRED.frames_out + sum(p.track.frames_sent for p in participants),
        )
        yield CounterMetricFamily(
            "translate_worker_audio_frames_late",
            "Audio frames sent to browsers more than a frame (20 ms) late.",
            value=RETIRED.frames_late + sum(p.track.late_frames for p in participants),
        )
        yield CounterMetricFamily(
            "translate_worker_playout_underruns",
            "Times a playout buffer ran dry in the middle of a frame.",
            value=RETIRED.underruns + sum(b.underruns for b in buffers),
        )
        yield CounterMetricFamily(
            "translate_worker_playout_overrun_samples",
            "Samples dropped because a playout buffer was full.",
            value=RETIRED.overrun_samples + sum(b.overrun_samples for b in buffers),
        )
        yield CounterMetricFamily(
            "translate_worker_outbox_dropped",
            "Messages to the web tier dropped because the outbox was full.",
            value=worker.outbox.dropped,
        )


def registry_for(worker: MediaWorker) -> CollectorRegistry:
    registry = CollectorRegistry()
    for collector in (OPENAI_ERRORS, OPENAI_RECONNECTS, OPENAI_ROTATIONS, FIRST_TRANSLATED_AUDIO):
        registry.register(collector)
    registry.register(ProcessCollector(registry=None))
    registry.register(WorkerCollector(worker))
    return registry


def parse_ports(spec: str) -> list[int]:
    """ "9100" -> [9100]; "9100-9109" -> those ten, tried in order; "0" -> [0], any free port."""
    try:
        first, _, last = spec.strip().partition("-")
        ports = list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ValueError(f"metrics port must be N, A-B or 0, not {spec!r}") from None
    if not ports or not all(0 <= port <= 65535 for port in ports):
        raise ValueError(f"metrics port must be N, A-B or 0, not {spec!r}")
    return ports


class MetricsServer:
    """Serves GET /healthz and GET /metrics over HTTP/1.1, one request per connection."""

    def __init__(self, worker: MediaWorker) -> None:
        self.worker = worker
        self.registry = registry_for(worker)
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, *, host: str, ports: str) -> None:
        """Listen on the first free port of `ports`; OSError when none is free."""
        error: OSError | None = None
        for port in parse_ports(ports):
            try:
                self.server = await asyncio.start_server(self._handle, host, port)
            except OSError as exc:
                error = exc
                continue
            self.port = int(self.server.sockets[0].getsockname()[1])
            logger.info("worker=%s: health and metrics on http://%s:%d/", self.worker.id, host, self.port)
            return
        raise OSError(f"no free port for the worker's metrics in {ports!r} on {host}: {error}")

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/healthz":
            worker = self.worker
            body = {
                "status": "ok",
                "worker": worker.id,
                "draining": worker.draining,
                "calls": len(worker.calls),
            }
            return 200, "application/json", json.dumps(body).encode()
        return 404, "application/json", b'{"error": "not found"}'

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                request_line = (await reader.readline()).decode("latin-1")
                while (await reader.readline()).strip():
                    pass
            method, target, _ = request_line.split(" ", 2)
            if method not in ("GET", "HEAD"):
                status, content_type, body = 405, "application/json", b'{"error": "method not allowed"}'
            else:
                status, content_type, body = self.respond(target.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (body if method == "GET" else b""))
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()
