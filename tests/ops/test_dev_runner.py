"""The dev runner (honcho with the Procfile) when the media worker crashes: the rest keeps running.

honcho stops every process when one exits; the Procfile's worker line runs the worker through
scripts/restart-on-crash, which says loudly what died and starts it again. Here the worker's
command is replaced by one that crashes on its first run (the Procfile line's prefix is kept),
and web by a process that only has to stay up.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from media_workers.devtools.stack import ROOT

WORKER = "python manage.py media_worker"
CRASH_ONCE = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("crashed")
    raise RuntimeError("the worker crashed for the test")
print("worker running again", flush=True)
time.sleep(120)
"""


def procfile_line(name: str) -> str:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:")]
    return line.split(":", 1)[1].strip()


def test_it_restarts_a_crashed_worker_and_keeps_web_running(tmp_path: Path) -> None:
    worker = procfile_line("worker")
    assert worker.endswith(WORKER), worker
    script = tmp_path / "crash_once.py"
    script.write_text(CRASH_ONCE)
    wrapper = worker[: -len(WORKER)].strip().replace("scripts/", f"{ROOT}/scripts/")
    (tmp_path / "Procfile").write_text(
        f"web: {sys.executable} -c 'import time; print(\"web up\", flush=True); time.sleep(120)'\n"
        f"worker: {wrapper} {sys.executable} {script} {tmp_path / 'marker'}\n"
    )
    honcho = subprocess.Popen(
        [str(Path(sys.executable).parent / "honcho"), "start"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    try:
        deadline = time.monotonic() + 30
        assert honcho.stdout is not None
        while time.monotonic() < deadline and not any("worker running again" in line for line in output):
            output.append(honcho.stdout.readline())
        text = "".join(output)
        assert "worker running again" in text, text
        assert "RuntimeError: the worker crashed for the test" in text
        assert "exited with status 1" in text and "Restarting it in 1 s" in text, text
        assert "stopping" not in text.lower() and honcho.poll() is None, text
    finally:
        honcho.send_signal(signal.SIGINT)
        rest, _ = honcho.communicate(timeout=20)
    assert "web up" in text
    assert "Restarting" not in rest, rest
