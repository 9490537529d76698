"""How the usage dashboard's queries scale: timings against a plain COUNT(*) on the same table.

Fills a throwaway database (never the development one) with usage rows spread over
90 days, 200 owners and 1,000 rooms, runs the daily roll-up (as celery beat would), then
times each dashboard query for a 30-day range, for one owner and for one room. Unfiltered,
the dashboard sums past days from the roll-up and today from the sessions. Timings are
printed as a ratio to COUNT(*) measured in the same run, so they compare across machines.

    .venv/bin/python bench/usage_dashboard.py [--rows 1000000] [--repeat 3]
    .venv/bin/python bench/usage_dashboard.py --postgres postgres://USER:PASSWORD@127.0.0.1:5432/DB

The database is a SQLite file in a temporary directory, or with --postgres a new database on
that PostgreSQL server (the role must be allowed to create databases), dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAX_ROWS = 5_000_000


@contextlib.contextmanager
def throwaway_database(postgres: str | None) -> Iterator[str]:
    """The URL of a new, empty database, deleted afterwards: SQLite, or one on `postgres`'s server."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="usage-bench-") as tmp:
            yield f"sqlite:///{os.path.join(tmp, 'bench.sqlite3')}"
        return
    import psycopg

    name = f"usage_bench_{os.getpid()}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


def setup_django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "translator_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def fill(rows: int) -> tuple[Any, Any]:
    """Owners, rooms and `rows` sessions written with executemany (bulk_create is slower here)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from rooms.models import Room, TranslationUsage

    rng = random.Random(7)
    get_user_model().objects.bulk_create(
        get_user_model()(username=f"owner{n}@example.com", email=f"owner{n}@example.com") for n in range(200)
    )
    users = list(get_user_model().objects.order_by("pk"))
    Room.objects.bulk_create(
        Room(owner=users[n % len(users)], name=f"Room {n}", public_id=f"room{n:05d}") for n in range(1000)
    )
    rooms = list(Room.objects.order_by("pk"))
    now = timezone.now()
    languages = ["en", "es", "fr", "de", "ja", "zh", "pt", "it"]
    table = TranslationUsage._meta.db_table
    columns = (
        "session_id, room_id, room_public_id, owner_id, source_language, language, model, worker_id, "
        "started_at, day, seconds_sent, seconds_received, errors, reconnects, cost, final, updated_at"
    )
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 17)})"
    batch: list[tuple[Any, ...]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for n in range(rows):
            room = rooms[rng.randrange(len(rooms))]
            started = now - timedelta(seconds=rng.randrange(90 * 86400))
            seconds = rng.uniform(5, 900)
            batch.append(
                (
                    f"{n:032x}", room.pk, room.public_id, room.owner_id, rng.choice(languages),
                    rng.choice(languages), "gpt-realtime-translate", "w1", started, started.date(), seconds,
                    seconds * 0.9, int(rng.random() < 0.02), int(rng.random() < 0.05),
                    round(seconds / 60 * 0.034, 6), True, started,
                )
            )  # fmt: skip
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return users[0], rooms[0]


def timed(run: Callable[[], Any], repeat: int) -> float:
    """The best of `repeat` runs, in seconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL: run on a new database on its server")
    args = parser.parse_args()
    rows = min(max(args.rows, 1000), MAX_ROWS)
    with throwaway_database(args.postgres) as database_url:
        setup_django(database_url)
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        from rooms import dashboard, tasks
        from rooms.models import DailyUsage, TranslationUsage

        call_command("migrate", verbosity=0)
        start = time.perf_counter()
        owner, room = fill(rows)
        print(f"filled {rows:,} usage rows in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        tasks.rollup_daily_usage()
        elapsed = time.perf_counter() - start
        print(f"rolled up every day into {DailyUsage.objects.count():,} daily rows in {elapsed:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

        today = timezone.now().date()
        month = dashboard.UsageFilter(first_day=today - timedelta(days=29), last_day=today)
        for_owner = dashboard.UsageFilter(first_day=month.first_day, last_day=today, owner=owner)
        for_room = dashboard.UsageFilter(first_day=month.first_day, last_day=today, room=room)
        baseline = timed(lambda: TranslationUsage.objects.count(), args.repeat)
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("totals, 30 days", lambda: dashboard.usage_totals(month)),
            ("per day, 30 days", lambda: dashboard.usage_per_day(month)),
            ("top owners, 30 days", lambda: dashboard.top_owners(month)),
            ("top rooms, 30 days", lambda: dashboard.top_rooms(month)),
            ("language pairs, 30 days", lambda: dashboard.language_pairs(month)),
            ("totals, one owner", lambda: dashboard.usage_totals(for_owner)),
            ("per day, one owner", lambda: dashboard.usage_per_day(for_owner)),
            ("totals, one room", lambda: dashboard.usage_totals(for_room)),
            ("per day, one room", lambda: dashboard.usage_per_day(for_room)),
        ]
        print(f"database: {connection.vendor}")
        print(f"baseline COUNT(*) over {rows:,} rows: {baseline * 1000:.1f} ms (= 1.00)")
        print(f"{'query':28} {'ms':>9} {'x COUNT(*)':>11}")
        for name, run in cases:
            seconds = timed(run, args.repeat)
            print(f"{name:28} {seconds * 1000:9.1f} {seconds / baseline:11.2f}")


if __name__ == "__main__":
    main()
