"""Run every benchmark once and write bench/results/<time>.json; see bench/README.md.

    .venv/bin/python -m bench.run --quick    # smoke run, about 4 minutes
    .venv/bin/python -m bench.run            # the full run behind README's tables

Everything runs on loopback: the fake OpenAI in echo mode (zero model delay), a real daphne
and media worker (media_workers.devtools.stack.Stack), and synthetic participants in separate
processes. Each figure has a baseline measured in the same run, because this 2-core machine
is shared and noisy: compare the ratios between runs, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "a-long-bench-password-1"
MODEL = "gpt-realtime-translate"


def _configure_django(workdir: Path) -> None:
    """A fresh SQLite database and our own Redis key prefix, inherited by every child process."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "translator_site.test_settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["REDIS_KEY_PREFIX"] = f"ot-bench-{os.getpid()}:"
    os.environ["LOG_LEVEL"] = "INFO"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


class Rooms:
    """Two-person rooms (English speaker, Spanish speaker) made straight in the database."""

    def __init__(self) -> None:
        self.count = 0

    def make(self, n: int) -> list[dict[str, str]]:
        from django.contrib.auth import get_user_model

        from rooms import services

        made = []
        for _ in range(n):
            self.count += 1
            people = []
            for who, language in (("a", "en"), ("b", "es")):
                email = f"{who}{self.count}@bench.example"
                user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
                services.profile_update(
                    profile=user.profile, display_name=email, hear_language=language, speak_language=language
                )
                people.append(user)
            room, issued = services.room_create(owner=people[0], name=f"Bench {self.count}")
            services.invite_accept(token=issued.token, user=people[1])
            made.append(
                {
                    "room_id": room.public_id,
                    "a": people[0].email,
                    "b": people[1].email,
                    "room": f"r{self.count}",
                }
            )
        return made


def _percentiles(values: list[float]) -> dict[str, Any]:
    from .bursts import percentiles

    return percentiles(values)


class Bench:
    """The running stack plus the helpers every phase uses."""

    def __init__(self, quick: bool, workdir: Path, fake_mode: str = "echo") -> None:
        from media_workers.devtools.stack import Stack

        self.quick = quick
        self.fake_mode = fake_mode
        self.per_process = 2
        self.ctx = multiprocessing.get_context("spawn")
        self.rooms = Rooms()
        self.log_dir = RESULTS / "logs" / time.strftime("%Y%m%d-%H%M%S")
        self.stack = Stack(
            database_url=os.environ["DATABASE_URL"],
            fake_mode=fake_mode,
            workers=0,
            worker_capacity=10_000,
            extra_env={"TRANSLATION_CHUNK_MS": "100", "MEDIA_WORKER_DRAIN_SECONDS": "0"},
            log_dir=self.log_dir,
        )
        self.worker = ""
        self.metrics_url = ""
        self.chunk_ms = 0
        self.warmup = 2.0 if quick else 3.0
        self.children: list[multiprocessing.process.BaseProcess] = []

    def start(self) -> None:
        self.stack.start()
        self.use_worker(100)

    def stop(self) -> None:
        for child in self.children:
            if child.is_alive():
                child.terminate()
        self.stack.stop()

    def use_worker(self, chunk_ms: int) -> None:
        """A fresh media worker with TRANSLATION_CHUNK_MS = chunk_ms (read once at start)."""
        from media_workers.devtools.stack import free_port, wait_until

        if chunk_ms == self.chunk_ms:
            return
        if self.worker:
            self.stack.kill(self.worker, signal.SIGTERM)
            del self.stack.processes[self.worker]
        self.stack.extra_env["TRANSLATION_CHUNK_MS"] = str(chunk_ms)
        metrics_port = free_port()
        self.stack.extra_env["MEDIA_WORKER_METRICS_PORT"] = str(metrics_port)
        self.metrics_url = f"http://127.0.0.1:{metrics_port}"
        self.worker, self.chunk_ms = f"worker_c{chunk_ms}", chunk_ms
        self.stack.start_worker(self.worker)
        wanted = self.stack.worker_ids[self.worker]
        wait_until(lambda: wanted in self.stack.live_workers(), 90, "media worker")

    @property
    def worker_pid(self) -> int:
        return self.stack.processes[self.worker].pid

    def worker_counters(self) -> dict[str, float]:
        """The worker's audio counters, read from its /metrics (subtract two reads for a window)."""
        names = {
            "translate_worker_audio_frames_out": "frames",
            "translate_worker_audio_frames_late": "late_frames",
            "translate_worker_playout_underruns": "underruns",
        }
        with urllib.request.urlopen(f"{self.metrics_url}/metrics", timeout=10) as response:
            text = response.read().decode()
        counters = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.removesuffix("_total") in names:
                    counters[names[sample.name.removesuffix("_total")]] = sample.value
        return counters

    @contextmanager
    def naive_relay(self) -> Iterator[tuple[str, int]]:
        from media_workers.devtools.stack import free_port

        from . import naive_relay

        port = free_port()
        process = self.ctx.Process(
            target=naive_relay.main, args=(port, f"{self.stack.fake_url}/v1", MODEL, 900.0), daemon=True
        )
        process.start()
        self.children.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        try:
            yield f"ws://127.0.0.1:{port}", int(process.pid or 0)
        finally:
            process.terminate()
            process.join(10)

    def load(
        self,
        kind: str,
        rooms: int,
        seconds: float,
        *,
        per_process: int = 2,
        relay: str = "",
        measure: list[int],
        jitter_prefetch: int | None = None,
        listen: str = "translation",
        cheap: bool = False,
    ) -> dict[str, Any]:
        """Run `rooms` rooms of `kind` for a window of `seconds`; CPU of `measure` (+ clients)."""
        from . import clients, procstat

        specs: list[dict[str, Any]] = (
            self.rooms.make(rooms) if kind == "worker" else [{"room": f"n{i}"} for i in range(rooms)]
        )
        if kind == "worker" and cheap:
            # The first room measures latency; the others send pre-encoded packets and count
            # what they get, so the clients' CPU stays small beside the worker's.
            for i, spec in enumerate(specs):
                spec["probe"] = i == 0
        groups = [specs[i : i + per_process] for i in range(0, len(specs), per_process)]
        children: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        before_counters = self.worker_counters() if kind == "worker" else {}
        started = time.monotonic()
        timeout = 120 + seconds
        for group in groups:
            parent, child = self.ctx.Pipe()
            job = {
                "kind": kind,
                "rooms": group,
                "base_url": self.stack.base_url,
                "relay_url": relay,
                "password": PASSWORD,
                "timeout": timeout,
                "jitter_prefetch": jitter_prefetch,
                "listen": listen,
            }
            process = self.ctx.Process(target=clients.main, args=(job, child), daemon=True)
            process.start()
            self.children.append(process)
            children.append((process, parent))
        errors: list[str] = []
        for _, parent in children:
            try:
                message = parent.recv() if parent.poll(timeout) else ("error", "not ready in time")
            except EOFError:
                message = ("error", "a client process died")
            if message[0] != "ready":
                errors.append(str(message[1]))
        setup_s = time.monotonic() - started
        client_pids = [int(p.pid or 0) for p, _ in children]
        targets = measure or client_pids
        time.sleep(self.warmup)
        since = time.monotonic()
        before = {pid: procstat.cpu_seconds(pid) for pid in [*targets, *client_pids]}
        time.sleep(seconds)
        after = {pid: procstat.cpu_seconds(pid) for pid in before}
        until = time.monotonic()
        wall = until - since
        figures: dict[str, Any] = {"latencies": [], "sent": 0, "unmatched": 0, "late_gaps": 0, "frames": 0}
        for process, parent in children:
            if process.is_alive():
                parent.send(("stop", since, until))
        for process, parent in children:
            try:
                kind_, payload = parent.recv() if parent.poll(30) else ("error", "no result in time")
            except EOFError:
                kind_, payload = "error", "a client process died"
            if kind_ == "result":
                for key in figures:
                    figures[key] += payload[key]
            else:
                errors.append(str(payload))
            process.join(15)
            if process.is_alive():
                process.terminate()
        cpu = sum(after[pid] - before[pid] for pid in targets) / wall
        clients_cpu = sum(after[pid] - before[pid] for pid in client_pids) / wall
        result: dict[str, Any] = {
            "kind": kind,
            "rooms": rooms,
            "window_s": round(wall, 1),
            "setup_s": round(setup_s, 1),
            "cpu_cores": round(cpu, 3),
            "cpu_per_room": round(cpu / rooms, 4),
            "clients_cpu_cores": round(clients_cpu, 3),
            "latency_ms": _percentiles(figures["latencies"]),
            "bursts_sent": figures["sent"],
            "bursts_unmatched": figures["unmatched"],
            "late_gaps": figures["late_gaps"],
            "frames_heard": figures["frames"],
            "errors": errors,
        }
        if jitter_prefetch is not None:
            result["jitter_prefetch"] = jitter_prefetch
        if kind == "worker":
            result["listen"] = listen
            result["fake_mode"] = self.fake_mode
            result["cheap_clients"] = cheap
            time.sleep(2.0)  # let the calls end: a closed track's counts join the worker's totals
            result["chunk_ms"] = self.chunk_ms
            after_counters = self.worker_counters()
            result["worker"] = {
                name: int(after_counters[name] - before_counters[name]) for name in before_counters
            }
        return result


def phase_latency(bench: Bench, chunks: list[int], baselines: bool = True) -> list[dict[str, Any]]:
    """One room per path; bursts both ways; direct peers are the floor."""
    seconds = 8.0 if bench.quick else 22.0
    results = [bench.load("direct", 1, seconds, measure=[])]
    if baselines:
        # What aiortc's audio jitter buffer (4 frames held back) costs one hop: the worker's
        # relay path has two such hops where direct peers have one.
        results.append(bench.load("direct", 1, seconds, measure=[], jitter_prefetch=1))
        with bench.naive_relay() as (url, pid):
            results.append(bench.load("naive", 1, seconds, relay=url, measure=[pid]))
    # The ducked original voice never goes through OpenAI: one hop in, the mix, one hop out.
    bench.use_worker(chunks[0])
    results.append(bench.load("worker", 1, seconds, measure=[bench.worker_pid], listen="original"))
    for chunk_ms in chunks:
        bench.use_worker(chunk_ms)
        results.append(bench.load("worker", 1, seconds, measure=[bench.worker_pid]))
    bench.use_worker(100)
    return results


def phase_capacity(
    bench: Bench, counts: list[int], paths: list[str], cheap: bool = False
) -> list[dict[str, Any]]:
    """CPU per room and degradation as rooms grow, for our worker and both baselines."""
    seconds = 6.0 if bench.quick else 15.0
    results = []
    bench.use_worker(100)
    for rooms in counts:
        if "direct" in paths:
            results.append(bench.load("direct", rooms, seconds, measure=[]))
            print(_row(results[-1]), flush=True)
        if "naive" in paths:
            with bench.naive_relay() as (url, pid):
                results.append(bench.load("naive", rooms, seconds, relay=url, measure=[pid]))
            print(_row(results[-1]), flush=True)
        if "worker" in paths:
            results.append(
                bench.load(
                    "worker",
                    rooms,
                    seconds,
                    measure=[bench.worker_pid],
                    cheap=cheap,
                    per_process=bench.per_process,
                )
            )
            print(_row(results[-1]), flush=True)
    return results


async def _join_once(base_url: str, room: dict[str, str]) -> dict[str, float]:
    from media_workers.devtools.call_client import CallClient, HttpSession, ToneTrack, until

    clients = []
    try:
        for email, tone in ((room["a"], 440.0), (room["b"], None)):
            http = HttpSession(base_url)
            await asyncio.to_thread(http.login, email, PASSWORD)
            clients.append(
                CallClient(
                    base_url=base_url, room_id=room["room_id"], http=http, source=lambda t=tone: ToneTrack(t)
                )
            )
        speaker, listener = clients
        await speaker.connect()
        await speaker.join()
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await listener.connect()
        connected = time.monotonic()
        await listener.join()
        answered = time.monotonic()
        await until(lambda: listener.first_audio_at is not None, timeout=10)
        heard = listener.first_audio_at
        return {
            "connect_s": connected - started,
            "offer_to_answer_s": answered - connected,
            "answer_to_audio_s": (heard - answered) if heard else float("nan"),
            "join_to_audio_s": (heard - started) if heard else float("nan"),
        }
    finally:
        for client in clients:
            await asyncio.wait_for(client.close(), 10)


def phase_join(bench: Bench) -> dict[str, Any]:
    """Page connect + offer to the first audio heard, one room at a time on an idle worker."""
    from media_workers.runtime.aiortc_overrides import restrict_host_addresses

    restrict_host_addresses(["127.0.0.1"])
    samples = [
        asyncio.run(asyncio.wait_for(_join_once(bench.stack.base_url, room), 30))
        for room in bench.rooms.make(3 if bench.quick else 10)
    ]
    summary: dict[str, Any] = {"n": len(samples)}
    for key in samples[0]:
        values = sorted(s[key] * 1000 for s in samples)
        summary[key] = {"p50_ms": round(values[len(values) // 2], 1), "max_ms": round(values[-1], 1)}
    return summary


async def _open_sockets(base_url: str, room: dict[str, str], count: int, daphne: int) -> dict[str, Any]:
    import websockets

    from media_workers.devtools.call_client import HttpSession

    from . import procstat

    http = HttpSession(base_url)
    await asyncio.to_thread(http.login, room["a"], PASSWORD)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.jar)
    url = base_url.replace("http://", "ws://") + f"/ws/rooms/{room['room_id']}/"
    rss_before = procstat.rss_mib(daphne)
    cpu_before = procstat.cpu_seconds(daphne)
    sockets: list[Any] = []
    failures = 0
    started = time.monotonic()
    try:
        # Batches of 25: a page load's worth of concurrency, not a connection storm.
        for first in range(0, count, 25):
            batch = await asyncio.gather(
                *(
                    websockets.connect(
                        url, additional_headers={"Cookie": cookie, "Origin": base_url}, open_timeout=20
                    )
                    for _ in range(min(25, count - first))
                ),
                return_exceptions=True,
            )
            for ws in batch:
                if isinstance(ws, BaseException):
                    failures += 1
                    continue
                sockets.append(ws)
                hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
                failures += hello.get("type") != "hello"
        opened_s = time.monotonic() - started
        cpu_opened = procstat.cpu_seconds(daphne)
        idle_s = 5.0
        await asyncio.sleep(idle_s)
        cpu_idle = procstat.cpu_seconds(daphne)
        # Every socket still answers: one ping each, all at once.
        answered = 0
        pinged = time.monotonic()
        for ws in sockets:
            await ws.send(json.dumps({"type": "ping"}))
        for ws in sockets:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
            answered += reply.get("type") == "pong"
        ping_all_s = time.monotonic() - pinged
        return {
            "sockets": count,
            "open": len(sockets),
            "failures": failures,
            "open_all_s": round(opened_s, 2),
            "daphne_cpu_s_to_open": round(cpu_opened - cpu_before, 2),
            "daphne_idle_cpu_cores": round((cpu_idle - cpu_opened) / idle_s, 3),
            "daphne_rss_before_mib": round(rss_before, 1),
            "daphne_rss_after_mib": round(procstat.rss_mib(daphne), 1),
            "kib_per_socket": round((procstat.rss_mib(daphne) - rss_before) * 1024 / max(1, len(sockets)), 1),
            "pongs": answered,
            "ping_all_s": round(ping_all_s, 2),
        }
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def phase_sockets(bench: Bench) -> dict[str, Any]:
    """How many idle signalling websockets one daphne process holds (bounded N)."""
    count = 100 if bench.quick else 500
    room = bench.rooms.make(1)[0]
    daphne = bench.stack.processes["web"].pid
    return asyncio.run(asyncio.wait_for(_open_sockets(bench.stack.base_url, room, count, daphne), 240))


def _row(r: dict[str, Any]) -> str:
    name = f"{r['kind']}" + (f"@{r['chunk_ms']}ms" if "chunk_ms" in r else "")
    name += "/original" if r.get("listen") == "original" else ""
    name += f"/{r['fake_mode']}" if r.get("fake_mode", "echo") != "echo" else ""
    name += f"/prefetch{r['jitter_prefetch']}" if "jitter_prefetch" in r else ""
    lat = r["latency_ms"]
    late = r.get("worker", {}).get("late_frames", "-")
    under = r.get("worker", {}).get("underruns", "-")
    cpu = f"cpu={r['cpu_cores']:.3f} cores ({r['cpu_per_room'] * 100:5.1f} %/room)"
    latency = f"latency p50/p95/p99={lat['p50']}/{lat['p95']}/{lat['p99']} ms"
    counts = f"(n={lat['n']}, lost={r['bursts_unmatched']}) late_gaps={r['late_gaps']}"
    return (
        f"{name:<14} rooms={r['rooms']:<3} {cpu}  {latency} {counts}"
        f" worker_late={late} underruns={under} clients_cpu={r['clients_cpu_cores']:.2f}"
        + (f" ERRORS={r['errors']}" if r["errors"] else "")
    )


def _summary(results: dict[str, Any]) -> None:
    latency = results.get("latency", [])
    direct = next((r for r in latency if r["kind"] == "direct" and "jitter_prefetch" not in r), None)
    print("\n== relay latency (one room, bursts both ways) ==")
    for r in latency:
        added = ""
        if direct and r is not direct and r["latency_ms"]["p95"] is not None and direct["latency_ms"]["p95"]:
            added = (
                f"  adds p50 {r['latency_ms']['p50'] - direct['latency_ms']['p50']:+.1f} ms,"
                f" p95 {r['latency_ms']['p95'] - direct['latency_ms']['p95']:+.1f} ms over direct"
            )
        print(_row(r) + added)
    if results.get("capacity"):
        print("\n== capacity (CPU of the one measured process; direct = both peers of each pair) ==")
        for r in results["capacity"]:
            print(_row(r))
    if results.get("join"):
        print("\n== join to first audio ==")
        print(json.dumps(results["join"]))
    if results.get("sockets"):
        print("\n== idle signalling websockets on one daphne ==")
        print(json.dumps(results["sockets"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer events, rooms and sockets")
    parser.add_argument("--phases", default="latency,capacity,join,sockets", help="comma-separated subset")
    parser.add_argument("--rooms", default="", help="capacity room counts, e.g. 1,5,10,20")
    parser.add_argument("--paths", default="direct,naive,worker", help="capacity: which paths to load")
    parser.add_argument("--timeout", type=float, default=0, help="overall limit in seconds")
    parser.add_argument(
        "--fake",
        default="echo",
        choices=("echo", "framed"),
        help="fake OpenAI: echo (each append straight back) or framed (200 ms frames, as the model)",
    )
    parser.add_argument("--chunks", default="", help="latency: TRANSLATION_CHUNK_MS values, e.g. 20,100")
    parser.add_argument("--no-baselines", action="store_true", help="latency: only direct and the worker")
    parser.add_argument(
        "--cheap-clients",
        action="store_true",
        help="capacity: all worker rooms but one send pre-encoded Opus and count packets undecoded",
    )
    parser.add_argument("--per-process", type=int, default=2, help="rooms per client process")
    args = parser.parse_args(argv)
    phases = args.phases.split(",")
    counts = (
        [int(n) for n in args.rooms.split(",")] if args.rooms else ([1, 4] if args.quick else [1, 5, 10, 20])
    )
    limit = args.timeout or (480 if args.quick else 1500)
    chunks = (
        [int(n) for n in args.chunks.split(",")]
        if args.chunks
        else ([20, 100] if args.quick else [20, 40, 100, 200])
    )

    def out_of_time(signum: int, frame: object) -> None:
        raise TimeoutError(f"benchmark exceeded its {limit:.0f} s limit")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(limit))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "started": stamp,
        "quick": args.quick,
        "command": " ".join([".venv/bin/python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "cpus": os.cpu_count(),
        "loadavg_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        _configure_django(Path(tmp))
        bench = Bench(args.quick, Path(tmp), fake_mode=args.fake)
        bench.per_process = args.per_process
        try:
            bench.start()
            if "latency" in phases:
                results["latency"] = phase_latency(bench, chunks, baselines=not args.no_baselines)
                for r in results["latency"]:
                    print(_row(r), flush=True)
            if "capacity" in phases:
                results["capacity"] = phase_capacity(
                    bench, counts, args.paths.split(","), cheap=args.cheap_clients
                )
            if "join" in phases:
                results["join"] = phase_join(bench)
            if "sockets" in phases:
                results["sockets"] = phase_sockets(bench)
        finally:
            signal.alarm(0)
            results["loadavg_after"] = os.getloadavg()
            bench.stop()
            _cleanup_redis()
            path = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
            path.write_text(json.dumps(results, indent=1))
    _summary(results)
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


def _cleanup_redis() -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for key in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}*", count=500):
            client.delete(key)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
