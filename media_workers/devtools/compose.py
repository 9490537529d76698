"""Each docker-compose.yml service's command and environment, for running it without Docker.

The machines this project is built and tested on have no Docker engine, so the tests that run
the production configuration (tests/ops/test_coturn.py, tests/e2e/test_production.py) read
each process's command line and environment from docker-compose.yml itself, interpolated the
way Compose does it, and only then point it at loopback: what they run cannot drift from the
file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ruamel.yaml import YAML

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME, and $$.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class ComposeError(Exception):
    """A variable the compose file requires is unset, or a service is not in the file."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` with every variable replaced as Compose replaces it from `.env`."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        value = env.get(name)
        op, arg = match["op"], match["arg"] or ""
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in ("-", ":-") and unset:
            return interpolate(arg, env)
        if op in ("?", ":?") and unset:
            raise ComposeError(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


@dataclass(frozen=True)
class Service:
    """One service as a process: its command line and its environment."""

    name: str
    command: list[str]
    environment: dict[str, str]


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as data (YAML merge keys resolved), not yet interpolated."""
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text())
    return data


def service(name: str, env: Mapping[str, str], path: Path = COMPOSE_FILE) -> Service:
    """Service `name` with `env` as its `.env`: Compose interpolates the file from `.env` and
    also passes `.env` to the app containers (env_file), with `environment:` winning."""
    services = load(path)["services"]
    if name not in services:
        raise ComposeError(f"no service {name!r} in {path.name}")
    spec = services[name]
    environment = dict(env) if spec.get("env_file") == ".env" else {}
    for key, value in (spec.get("environment") or {}).items():
        environment[str(key)] = interpolate(str(value), env)
    command = [interpolate(str(part), env) for part in spec.get("command") or []]
    return Service(name=name, command=command, environment=environment)


def relocate(url: str, *, netloc: str, path: str | None = None) -> str:
    """`url` (a service-to-service URL such as redis://:pw@redis:6379/0) pointed at `netloc`
    instead, keeping its scheme and password; `path` replaces the database name if given."""
    parts = urlsplit(url)
    credentials = netloc if "@" in netloc else f"{parts.netloc.rpartition('@')[0]}@{netloc}".lstrip("@")
    return urlunsplit(parts._replace(netloc=credentials, path=parts.path if path is None else path))
