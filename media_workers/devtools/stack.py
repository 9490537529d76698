"""Start the service's real processes on loopback: fake OpenAI, media workers and daphne.

The end-to-end tests, the resilience tests and the benchmarks run the same processes the
dev runner does, each in its own subprocess, configured only through the environment.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings

from media_workers.devtools import compose
from media_workers.devtools.fake_openai import SESSION_LIFETIME_S

ROOT = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the test or benchmark process dies, even by SIGKILL."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")


@dataclass
class Stack:
    """A running set of service processes; stop() ends them all."""

    database_url: str
    fake_mode: str = "tone"
    fake_delay_ms: int = 0
    # Seconds until each fake OpenAI session expires.
    fake_session_lifetime: float = SESSION_LIFETIME_S
    workers: int = 1
    worker_capacity: int | None = None
    # Also run a Celery worker (usage reports and housekeeping tasks land in the database).
    celery: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    redis_url: str = field(default_factory=lambda: str(settings.REDIS_URL))
    log_dir: Path = ROOT / "artifacts" / "logs"
    web_port: int = 0
    fake_port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Process name ("worker0") -> its id in the registry.
    worker_ids: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def fake_url(self) -> str:
        return f"http://127.0.0.1:{self.fake_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": os.environ.get(
                    "DJANGO_SETTINGS_MODULE", "translator_site.test_settings"
                ),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
                "OPENAI_BASE_URL": f"{self.fake_url}/v1",
                "FAKE_OPENAI_PORT": str(self.fake_port),
                "ICE_HOST_ADDRESSES": "127.0.0.1",
                "ICE_ALLOWED_PEER_NETWORKS": "loopback",
                "ICE_SERVERS": "[]",
                "PUBLIC_BASE_URL": self.base_url,
                "PYTHONUNBUFFERED": "1",
                # Every synthetic participant comes from 127.0.0.1: per-address limits meant for
                # people would refuse a test's or benchmark's tenth log-in.
                "LOGIN_ANY_RATE_LIMIT": "10000/m/ip",
                "LOGIN_RATE_LIMIT": "10000/m/ip",
                "SIGNUP_RATE_LIMIT": "10000/h/ip",
                "INVITE_OPEN_RATE": "10000/m",
            }
        )
        if self.worker_capacity is not None:
            env["MEDIA_WORKER_CAPACITY"] = str(self.worker_capacity)
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        log.close()
        self.processes[name] = process
        return process

    def start(self) -> Stack:
        self.fake_port = self.fake_port or free_port()
        self.web_port = self.web_port or free_port()
        python = sys.executable
        self._spawn(
            "fake_openai",
            [python, "manage.py", "fake_openai", "--host", "127.0.0.1", "--port", str(self.fake_port),
             "--mode", self.fake_mode, "--delay-ms", str(self.fake_delay_ms),
             "--session-lifetime", str(self.fake_session_lifetime)],
        )  # fmt: skip
        for index in range(self.workers):
            self.start_worker(f"worker{index}")
        if self.celery:
            self.start_celery()
        self._spawn(
            "web",
            [
                python,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.web_port),
                "translator_site.asgi:application",
            ],
        )
        try:
            # Readiness limits, not performance claims: each process loads Django and its imports
            # first, which takes several seconds on a loaded 2-core CI machine.
            wait_until(lambda: self.fake_control("stats") != "", 60, "fake OpenAI")
            wait_until(self._web_ready, 60, "web (daphne)")
            wait_until(lambda: len(self.live_workers()) >= self.workers, 60, "media workers")
        except TimeoutError:
            # Nobody will stop a stack that never started: its workers would stay registered
            # and take later tests' rooms.
            self.stop()
            raise
        return self

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        # Unique per stack: two stacks of one test run must never heartbeat the same entry.
        worker_id = self.worker_ids.setdefault(name, f"{name}-{uuid.uuid4().hex[:8]}")
        return self._spawn(name, [sys.executable, "manage.py", "media_worker", "--id", worker_id])

    def start_celery(self) -> subprocess.Popen[bytes]:
        return self._spawn(
            "celery",
            [sys.executable, "-m", "celery", "-A", "translator_site", "worker", "--pool", "solo",
             "-Q", "celery", "--hostname", f"celery-{os.getpid()}@%h",
             "--without-mingle", "--without-gossip"],
        )  # fmt: skip

    def _web_ready(self) -> bool:
        with urllib.request.urlopen(f"{self.base_url}/accounts/login/", timeout=2) as response:
            return bool(response.status == 200)

    def live_workers(self) -> list[str]:
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            prefix = f"{settings.REDIS_KEY_PREFIX}mw:"
            ids = [str(i) for i in client.zrange(f"{prefix}workers", 0, -1)]
            return [i for i in ids if client.exists(f"{prefix}worker:{i}")]
        finally:
            client.close()

    def room_worker(self, room_id: str) -> str | None:
        """The name (as in `processes`) of the worker process hosting `room_id` now."""
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            worker_id = client.get(f"{settings.REDIS_KEY_PREFIX}mw:room:{room_id}")
        finally:
            client.close()
        names = {worker: name for name, worker in self.worker_ids.items()}
        return None if worker_id is None else names.get(str(worker_id), str(worker_id))

    def fake_control(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.fake_url}/_fake/{path}", timeout=5) as response:
            return str(response.read().decode())

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        process.send_signal(sig)
        process.wait(timeout=20)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self._forget_workers()

    def _forget_workers(self) -> None:
        """Drop this stack's workers from the registry, killed ones too, so no later stack's
        web tier gives a room to a worker that is gone."""
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            client.ping()
        except redis.ConnectionError:
            # That Redis is gone (a test stopped its own): there is nothing left to forget.
            client.close()
            return
        try:
            prefix = f"{settings.REDIS_KEY_PREFIX}mw:"
            for worker_id in self.worker_ids.values():
                for room in [str(r) for r in client.smembers(f"{prefix}worker:{worker_id}:rooms")]:
                    if client.get(f"{prefix}room:{room}") == worker_id:
                        client.delete(f"{prefix}room:{room}")
                client.delete(f"{prefix}worker:{worker_id}", f"{prefix}worker:{worker_id}:rooms")
                client.zrem(f"{prefix}workers", worker_id)
        finally:
            client.close()

    def logs(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Coturn:
    """A real coturn (Debian's `turnserver`) on loopback, with docker-compose.yml's flags.

    Its command line is the compose file's coturn service, interpolated with `secret` and
    with 127.0.0.1 as the media workers' address (TURN_PEER_ADDRESS); on top, for the test only,
    it listens and relays on 127.0.0.1 and a free port, and allows loopback peers at all (coturn
    refuses them before its allow and deny lists unless told otherwise).
    """

    secret: str
    peer_address: str = "127.0.0.1"
    log_dir: Path = ROOT / "artifacts" / "logs"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def command(self, workdir: Path) -> list[str]:
        env = {"TURN_SECRET": self.secret, "TURN_PEER_ADDRESS": self.peer_address}
        flags = [f for f in compose.service("coturn", env).command if not f.startswith("--listening-port=")]
        return [
            "turnserver",
            *flags,
            f"--listening-port={self.port}",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            "--allow-loopback-peers",
            f"--pidfile={workdir / 'turnserver.pid'}",
            f"--userdb={workdir / 'turndb'}",
        ]

    def start(self, workdir: Path) -> Coturn:
        self.port = self.port or free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / "coturn.log", "wb")
        self.process = subprocess.Popen(
            self.command(workdir), stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        log.close()
        wait_until(lambda: "Total General servers" in self.logs(), 20, "coturn")
        return self

    def logs(self) -> str:
        path = self.log_dir / "coturn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
