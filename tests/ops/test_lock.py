"""The lock files carry exactly the pins pyproject.toml declares (scripts/lock was run after an edit)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*groups: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for group in groups:
        specs += project["optional-dependencies"][group]
    pins = {}
    for spec in specs:
        name, _, version = spec.partition("==")
        pins[normal(name.split("[")[0])] = version
    return pins


def locked(path: str) -> dict[str, str]:
    text = (ROOT / path).read_text()
    return {normal(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_it_locks_every_declared_pin_at_its_version() -> None:
    for path, groups in (("requirements.lock", ()), ("requirements-dev.lock", ("dev",))):
        pins, lock = declared(*groups), locked(path)
        assert {name: lock.get(name) for name in pins} == pins, f"run scripts/lock: {path} is stale"


def test_it_hashes_every_locked_package() -> None:
    for path in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / path).read_text().split("\n", 2)[2])
        unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
        assert unhashed == [], path


def test_it_locks_the_dev_tree_on_the_runtime_versions() -> None:
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
