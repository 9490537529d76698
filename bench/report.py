"""Print a results file (bench/results/*.json) as the Markdown tables of bench/README.md.

.venv/bin/python -m bench.report bench/results/<run>.json
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _name(r: dict[str, Any]) -> str:
    name = {"direct": "direct aiortc pair", "naive": "straightforward relay"}.get(r["kind"], "our worker")
    if "jitter_prefetch" in r:
        name += f", aiortc jitter buffer prefetch {r['jitter_prefetch']} (not 4)"
    if r.get("listen") == "original":
        return name + ", the ducked original voice"
    name += f" @ {r['chunk_ms']} ms chunks" if "chunk_ms" in r else ""
    return name + (f", fake {r['fake_mode']}" if r.get("fake_mode", "echo") != "echo" else "")


def latency_table(rows: list[dict[str, Any]]) -> str:
    direct = next(r for r in rows if r["kind"] == "direct" and "jitter_prefetch" not in r)["latency_ms"]
    lines = [
        "| path | p50 ms | p95 ms | p99 ms | events (lost) | adds p50 / p95 over direct, ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lat = r["latency_ms"]
        added = (
            "—"
            if (r["kind"] == "direct" and "jitter_prefetch" not in r) or lat["p95"] is None
            else f"{lat['p50'] - direct['p50']:+.0f} / {lat['p95'] - direct['p95']:+.0f}"
        )
        events = f"{lat['n']} ({r['bursts_unmatched']})"
        lines.append(f"| {_name(r)} | {lat['p50']} | {lat['p95']} | {lat['p99']} | {events} | {added} |")
    return "\n".join(lines)


def capacity_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| rooms | path | CPU, cores | CPU per room | × direct | × straightforward | latency p95 ms | "
        "late frames (worker) | client-side gaps > 40 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    by_rooms: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_rooms.setdefault(r["rooms"], {})[r["kind"]] = r
    for rooms, paths in sorted(by_rooms.items()):
        for kind in ("direct", "naive", "worker"):
            r = paths.get(kind)
            if r is None:
                continue
            ratio = {
                base: f"{r['cpu_per_room'] / paths[base]['cpu_per_room']:.2f}"
                if base in paths and paths[base]["cpu_per_room"]
                else "—"
                for base in ("direct", "naive")
            }
            worker = r.get("worker", {})
            late = f"{worker['late_frames']} / {worker['frames']}" if worker else "—"
            if r["errors"]:
                # Per-room figures divide by rooms asked for; some never joined or died.
                late += f" ({len(r['errors'])} client errors: setup failed)"
            cpu = f"{r['cpu_cores']:.2f} | {r['cpu_per_room'] * 100:.1f} %"
            lines.append(
                f"| {rooms} | {_name(r)} | {cpu} | {ratio['direct']} | {ratio['naive']} | "
                f"{r['latency_ms']['p95']} | {late} | {r['late_gaps']} |"
            )
    return "\n".join(lines)


def main(path: str) -> None:
    results = json.loads(open(path).read())
    print(f"Run {results['started']} ({results['command']}), load average {results['loadavg_before']}\n")
    if results.get("latency"):
        print(latency_table(results["latency"]), "\n")
    if results.get("capacity"):
        print(capacity_table(results["capacity"]), "\n")
    if results.get("join"):
        print("join:", json.dumps(results["join"]), "\n")
    if results.get("sockets"):
        print("sockets:", json.dumps(results["sockets"]))


if __name__ == "__main__":
    main(sys.argv[1])
