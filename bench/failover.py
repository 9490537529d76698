"""How long a call is silent when its media worker dies, with the default settings.

Two media workers, daphne and the fake OpenAI (tone mode) run as separate processes with no
setting changed; two synthetic participants (English, Spanish) hear each other's translation;
then the room's worker is killed with SIGKILL and the clock runs until both hear each other
again. Each round restarts the killed worker, so there are always two. The baseline is a fresh
join to first audio in the same run: the part of a failover no detection can remove.

    .venv/bin/python -m bench.failover [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .run import PASSWORD, ROOT, Rooms, _cleanup_redis, _configure_django

ALICE_TONE, BRUNO_TONE = 400.0, 1000.0
# A 100 ms window counts as hearing a tone when this share of its energy is that tone.
HEARS = 0.4
WINDOW_S = 0.1
LIMIT_S = 30.0


def first_heard(client: Any, freq: float, since: float) -> float | None:
    """When `client` first heard `freq` after `since` (the arrival of the 100 ms that had it)."""
    import numpy as np

    from media_workers.devtools.dsp import SAMPLE_RATE, band_energy

    window = int(WINDOW_S * SAMPLE_RATE)
    pending: list[Any] = []
    size = 0
    for at, samples in list(client.heard.chunks):
        if at < since:
            continue
        pending.append(samples)
        size += samples.size
        if size >= window:
            block = np.concatenate(pending)[-window:]
            if band_energy(block, SAMPLE_RATE, freq, 25) > HEARS:
                return float(at)
            pending, size = [block], block.size
    return None


async def one_round(stack: Any, room: dict[str, str]) -> dict[str, float]:
    from media_workers.devtools.call_client import CallClient, HttpSession, ToneTrack, until
    from media_workers.devtools.fake_openai import TONE_FACTORS

    clients = []
    for who, tone in (("a", ALICE_TONE), ("b", BRUNO_TONE)):
        http = HttpSession(stack.base_url)
        await asyncio.to_thread(http.login, room[who], PASSWORD)
        client = CallClient(
            base_url=stack.base_url, room_id=room["room_id"], http=http, source=lambda t=tone: ToneTrack(t)
        )
        clients.append(client)
    alice, bruno = clients
    alice_hears, bruno_hears = BRUNO_TONE * TONE_FACTORS["en"], ALICE_TONE * TONE_FACTORS["es"]
    try:
        joined = time.monotonic()
        for client in clients:
            await client.connect()
            await client.join()

        def both_heard(since: float) -> float | None:
            """When both had heard each other since `since`, or None."""
            times = [first_heard(alice, alice_hears, since), first_heard(bruno, bruno_hears, since)]
            return None if None in times else max(t for t in times if t is not None)

        if not await until(lambda: both_heard(joined) is not None, LIMIT_S):
            raise RuntimeError("the two participants never heard each other")
        join_to_audio = both_heard(joined) or 0.0
        await asyncio.sleep(1.0)
        host = stack.room_worker(room["room_id"])
        await asyncio.to_thread(stack.kill, host, signal.SIGKILL)
        killed = time.monotonic()
        if not await until(lambda: both_heard(killed) is not None, LIMIT_S):
            raise RuntimeError(f"no audio within {LIMIT_S:.0f} s of killing {host}")
        again = both_heard(killed) or 0.0
        asked = min([t for c in clients for t in c.reconnects_asked if t >= killed], default=float("nan"))
        return {
            "join_to_audio_s": join_to_audio - joined,
            "reconnect_asked_s": asked - killed,
            "audio_again_s": again - killed,
            "killed": host,
        }
    finally:
        for client in clients:
            await client.close()


def registered_pid(stack: Any, name: str) -> int | None:
    """The process id the registry holds for the worker process `name` (None: not registered)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    try:
        pid = client.hget(f"{settings.REDIS_KEY_PREFIX}mw:worker:{stack.worker_ids[name]}", "pid")
    finally:
        client.close()
    return None if pid is None else int(pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rounds = min(max(args.rounds, 1), 20)
    signal.alarm(int(60 + rounds * 60))
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp:
        _configure_django(Path(tmp))
        from media_workers.devtools.stack import Stack, wait_until

        log_dir = ROOT / "bench" / "results" / "logs" / f"failover-{time.strftime('%Y%m%d-%H%M%S')}"
        stack = Stack(database_url=os.environ["DATABASE_URL"], fake_mode="tone", workers=2, log_dir=log_dir)
        results: list[dict[str, Any]] = []
        try:
            stack.start()
            rooms = Rooms().make(rounds)
            for n, room in enumerate(rooms, 1):
                result = asyncio.run(one_round(stack, room))
                results.append(result)
                print(
                    f"round {n}: join to audio {result['join_to_audio_s']:.2f} s; after SIGKILL of "
                    f"{result['killed']}: reconnect asked {result['reconnect_asked_s']:.2f} s, "
                    f"both hear each other again {result['audio_again_s']:.2f} s",
                    flush=True,
                )
                name = result["killed"]
                pid = stack.start_worker(name).pid
                # Its predecessor's entry lingers until it expires: wait for the new process's own.
                wait_until(lambda n=name, p=pid: registered_pid(stack, n) == p, 30, "the restarted worker")
        finally:
            signal.alarm(0)
            stack.stop()
            _cleanup_redis()
    print(f"logs: {log_dir.relative_to(ROOT)}")
    again = [r["audio_again_s"] for r in results]
    join = [r["join_to_audio_s"] for r in results]
    print(
        f"\nSIGKILL to audio again, {len(again)} rounds: median {statistics.median(again):.2f} s, "
        f"max {max(again):.2f} s; fresh join to audio (baseline): median {statistics.median(join):.2f} s "
        f"(failover = {statistics.median(again) / statistics.median(join):.1f} x a fresh join)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
