"""The whole service as docker-compose.yml runs it, without Docker: production settings end to end.

Every process's command line and environment come from docker-compose.yml itself
(media_workers.devtools.compose), with a `.env` as an operator would write it; only what Docker would
provide is replaced: service host names become loopback addresses with free ports, the database
is the test run's (PostgreSQL under .ci/run; SQLite, the one difference, under a bare
./scripts/test), and OpenAI is the local fake. So the web tier runs with DEBUG off, its own
SECRET_KEY, JSON logs, whitenoise serving collectstatic's files and daphne's proxy headers;
Redis asks for a password; coturn runs with the compose file's flags and TURN is on. The test
acts as the TLS-terminating proxy in front of web (one trusted hop) and as two people.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model

from media_workers.devtools import compose
from media_workers.devtools.call_client import CallClient, HttpSession, ToneTrack, until
from media_workers.devtools.fake_openai import TONE_FACTORS
from media_workers.devtools.stack import ROOT, Coturn, _die_with_parent, free_port, wait_until
from tests.support.calls import HEARS, share
from tests.support.stack import database_url, redis_answers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

APP_SERVICES = ("web", "worker", "celery", "beat")
PASSWORD = "a-long-production-password-1"
VENV_BIN = Path(sys.executable).parent


def option(command: list[str], flag: str, value: str) -> list[str]:
    """`command` with the value after `flag` replaced (it must be there: the test follows the file)."""
    index = command.index(flag)
    return [*command[: index + 1], value, *command[index + 2 :]]


def local_program(command: list[str]) -> list[str]:
    """The image's `python`, `daphne` and `celery` are this virtualenv's."""
    program = sys.executable if command[0] == "python" else str(VENV_BIN / command[0])
    return [program, *command[1:]]


def relocated_database_url(composed: str) -> str:
    """compose's DATABASE_URL pointed at this test run's database."""
    ours = database_url()
    if ours.startswith("sqlite:"):
        # As it is: a round trip through urlsplit would turn sqlite:////tmp/x into a relative path.
        return ours
    parts = urlsplit(ours)
    return compose.relocate(composed, netloc=parts.netloc, path=parts.path)


@dataclass
class Production:
    """The compose file's processes on loopback; `stop()` ends them all."""

    workdir: Path
    log_dir: Path = ROOT / "artifacts" / "logs" / "production"
    dotenv: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    web_port: int = 0
    redis_port: int = 0
    coturn: Coturn | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def environment(self, service: str) -> dict[str, str]:
        """What the service's container would see: the image's basics, then compose's environment."""
        env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(self.workdir), "LANG": "C.UTF-8",
               "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
        env.update(compose.service(service, self.dotenv).environment)
        assert env["DEBUG"] == "0" and env["DATABASE_URL"].startswith("postgres://"), env
        env["DATABASE_URL"] = relocated_database_url(env["DATABASE_URL"])
        env["REDIS_URL"] = compose.relocate(env["REDIS_URL"], netloc=f"127.0.0.1:{self.redis_port}")
        return env

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        self.processes[name] = process
        return process

    def run_once(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.spawn(name, command, env)
        assert self.processes.pop(name).wait(timeout=180) == 0, self.logs(name)

    def start(self, fake_port: int) -> Production:
        self.web_port, self.redis_port = free_port(), free_port()
        self.dotenv = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "PUBLIC_BASE_URL": f"https://127.0.0.1:{self.web_port}",
            "ALLOWED_HOSTS": "127.0.0.1",
            "POSTGRES_PASSWORD": secrets.token_hex(12),
            "REDIS_PASSWORD": secrets.token_hex(16),
            "OPENAI_API_KEY": f"sk-test-{secrets.token_hex(12)}",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
            "ICE_HOST_ADDRESSES": "127.0.0.1",
            # As a LAN deployment would list its network: the people here are on loopback.
            "ICE_ALLOWED_PEER_NETWORKS": "loopback",
            "TURN_SECRET": secrets.token_urlsafe(24),
            "TURN_PEER_ADDRESS": "127.0.0.1",
            "STATIC_ROOT": str(self.workdir / "staticfiles"),
            # Settings being added on other branches, set to what this test needs either way:
            # open sign-up without e-mail verification, and the one proxy hop this test plays.
            "SIGNUP_MODE": "open",
            "ACCOUNT_EMAIL_VERIFICATION": "optional",
            "TRUSTED_PROXY_HOPS": "1",
        }
        redis_server = compose.service("redis", self.dotenv)
        self.spawn(
            "redis",
            ["redis-server", *redis_server.command[1:], "--bind", "127.0.0.1", "--port", str(self.redis_port),
             "--dir", str(self.workdir), "--save", ""],
            {"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        wait_until(lambda: redis_answers(self.redis_port, self.dotenv["REDIS_PASSWORD"]), 20, "redis-server")
        self.coturn = Coturn(secret=self.dotenv["TURN_SECRET"], log_dir=self.log_dir).start(self.workdir)
        self.dotenv["TURN_URLS"] = self.coturn.url

        # The image's build step, then the one-shot migrate service.
        build_env = {**self.environment("web"), "SECRET_KEY": "collectstatic-only"}
        self.run_once("collectstatic", [sys.executable, "manage.py", "collectstatic", "--noinput"], build_env)
        self.run_once("migrate", local_program(compose.service("migrate", self.dotenv).command),
                      self.environment("migrate"))  # fmt: skip

        web = compose.service("web", self.dotenv).command
        web = option(option(web, "-b", "127.0.0.1"), "-p", str(self.web_port))
        self.spawn("web", local_program(web), self.environment("web"))
        self.spawn("worker", local_program(compose.service("worker", self.dotenv).command),
                   self.environment("worker"))  # fmt: skip
        self.spawn("celery", local_program(compose.service("celery", self.dotenv).command),
                   self.environment("celery"))  # fmt: skip
        beat = option(compose.service("beat", self.dotenv).command, "--schedule", str(self.workdir / "beat"))
        self.spawn("beat", local_program(beat), self.environment("beat"))
        wait_until(lambda: self.get("/readyz")[0] == 200, 60, "web's /readyz")
        wait_until(lambda: "listening on" in self.logs("worker"), 60, "the media worker")
        return self

    def get(self, path: str) -> tuple[int, str]:
        """A request straight to web, not through the proxy (as a probe or Prometheus makes it)."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def logs(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the app processes first, then Redis (compose stops dependents before what they use)."""
        apps = [process for name, process in self.processes.items() if name != "redis"]
        for group in (apps, [self.processes[name] for name in ("redis",) if name in self.processes]):
            for process in group:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=35)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.coturn is not None:
            self.coturn.stop()


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[int]:
    """The stand-in for api.openai.com (not part of the compose file)."""
    port = free_port()
    log_dir = ROOT / "artifacts" / "logs" / "production"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "fake_openai.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "fake_openai", "--host", "127.0.0.1", "--port", str(port),
             "--mode", "tone"],
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "translator_site.test_settings",
                           "REDIS_URL": settings.REDIS_URL},
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )  # fmt: skip
    try:
        wait_until(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/stats", timeout=2), 30, "fake"
        )
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def production(
    django_db_setup: None, fake_openai: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Production]:
    running = Production(workdir=tmp_path_factory.mktemp("production"))
    try:
        yield running.start(fake_openai)
    finally:
        running.stop()


def sign_up_and_make_a_room(site: Production) -> tuple[HttpSession, str]:
    """Alice signs up, says she speaks English, and creates a room; returns her and its invite path."""
    alice = HttpSession(site.base_url, forwarded_for="198.51.100.10")
    alice.post(
        "/accounts/signup/", {"email": "alice@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert alice.cookie("sessionid"), "sign-up did not log Alice in"
    alice.post("/profile/", {"display_name": "Alice", "hear_language": "en", "speak_language": "en"})
    _, page = alice.post("/rooms/new/", {"name": "Kitchen table"})
    match = re.search(r"https://127\.0\.0\.1:\d+(/i/[^/<\s]+/)", page)
    assert match, "no invite link on the new room's page"
    return alice, match.group(1)


async def test_it_runs_a_translated_call_on_the_production_configuration(production: Production) -> None:
    alice_http, invite = await asyncio.to_thread(sign_up_and_make_a_room, production)
    # The processes use this test run's database, not one of their own.
    assert await database_sync_to_async(get_user_model().objects.filter(email="alice@example.com").exists)()
    bruno_http = HttpSession(production.base_url, forwarded_for="198.51.100.20")
    room_id = await asyncio.to_thread(bruno_http.join_as_guest, invite, name="Bruno", language="es")

    _, page = await asyncio.to_thread(alice_http.get, f"/r/{room_id}/")
    scripts = re.findall(r'src="(/static/[^"]+\.js)"', page)
    assert scripts and all(re.search(r"\.[0-9a-f]{12}\.js$", s) for s in scripts), scripts
    for script in scripts:
        # whitenoise serves the collected, content-hashed file (through the proxy, as https).
        url, body = await asyncio.to_thread(alice_http.get, script)
        assert url.endswith(script) and body, script

    alice = CallClient(
        base_url=production.base_url, room_id=room_id, http=alice_http, source=lambda: ToneTrack(400)
    )
    bruno = CallClient(
        base_url=production.base_url, room_id=room_id, http=bruno_http, source=lambda: ToneTrack(1000)
    )
    try:
        for client in (alice, bruno):
            hello = await client.connect()
            [turn] = [s for s in hello["ice_servers"] if "username" in s]
            assert production.coturn is not None and turn["urls"] == [production.coturn.url]
            await client.join()
        assert await until(
            lambda: (
                share(alice, 1000 * TONE_FACTORS["en"]) > HEARS
                and share(bruno, 400 * TONE_FACTORS["es"]) > HEARS
            )
        ), (share(alice, 1000 * TONE_FACTORS["en"]), share(bruno, 400 * TONE_FACTORS["es"]))
    finally:
        await alice.close()
        await bruno.close()

    status, body = production.get("/readyz")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    status, body = production.get("/metrics")
    assert status == 200 and "translate_websocket_connections" in body

    production.stop()
    secrets_ = [
        production.dotenv[k] for k in ("SECRET_KEY", "REDIS_PASSWORD", "OPENAI_API_KEY", "TURN_SECRET")
    ]
    for name in APP_SERVICES:
        text = production.logs(name)
        assert text.strip(), f"{name} logged nothing"
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        for line in text.splitlines():
            record = json.loads(line) if line.startswith("{") else None
            if record is not None:
                assert record["level"] not in ("ERROR", "CRITICAL"), f"{name}: {line}"
        for secret in secrets_:
            assert secret not in text, f"{name} logged a secret"
    web_records = [json.loads(line) for line in production.logs("web").splitlines() if line.startswith("{")]
    assert web_records, "web's log is not JSON"
