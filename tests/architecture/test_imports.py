"""The layout's promises, checked: no import cycles, and a web process without the media stack."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rooms", "media_workers", "translator_site", "bench", "tests")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module `name` imports, at the top or inside a function (lazy imports count)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            # The longest project module the import names (a.b.func -> a.b).
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_it_finds_no_import_cycle_among_the_projects_modules() -> None:
    modules = project_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    # A parent package importing its own children is how packages work, not a cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(f"{t}.")}
    assert cycles(graph) == []


def test_it_finds_a_cycle_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_it_runs_the_web_tier_without_the_media_stack() -> None:
    program = """
import json, sys, django
django.setup()
import rooms.views, rooms.consumers, rooms.services, rooms.admin, rooms.tasks, translator_site.asgi
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("aiortc", "av", "aioice", "openai"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "translator_site.test_settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_it_keeps_each_suites_conftest_and_tests_to_itself() -> None:
    """No test module imports another test module, nor another suite's conftest."""
    modules = project_modules()
    borrowed = []
    for name, path in modules.items():
        if ".tests" not in f".{name}" and not name.startswith("tests."):
            continue
        suite = name.rpartition(".")[0]
        for target in imports_of(name, path, modules):
            package, _, last = target.rpartition(".")
            if last.startswith("test_") or (last == "conftest" and package != suite):
                borrowed.append(f"{name} imports {target}")
    # A suite's helpers live in its own conftest; what several suites share, in tests/support.
    assert borrowed == []


def test_it_keeps_each_audience_to_its_layer() -> None:
    """shared/ imports nothing of the worker or the tools; runtime/ and the web tier import no tools."""
    modules = project_modules()
    allowed_below = {
        "media_workers.shared": ("media_workers.shared",),
        # translator_site: the Celery app the worker sends its usage reports through.
        "media_workers.runtime": ("media_workers.shared", "media_workers.runtime", "translator_site"),
        "rooms": ("media_workers.shared", "rooms", "translator_site"),
        "translator_site": ("media_workers.shared", "rooms", "translator_site"),
    }
    crossings = []
    for name, path in modules.items():
        if ".tests" in name or ".migrations" in name:
            continue
        layer = next(
            (layer for layer in allowed_below if name == layer or name.startswith(f"{layer}.")), None
        )
        if layer is None:
            continue
        for target in imports_of(name, path, modules):
            if target.startswith(("media_workers", "rooms", "translator_site")) and not any(
                target == ok or target.startswith(f"{ok}.") for ok in allowed_below[layer]
            ):
                crossings.append(f"{name} imports {target}")
    assert crossings == []
