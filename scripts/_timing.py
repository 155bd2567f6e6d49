"""What the benchmarks share: the clock, interleaved turns, child processes, ratio marks, markdown tables."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load() -> str:
    """Printed beside timings: on a shared machine it says how far to trust them."""
    return "load average " + " / ".join(f"{v:.1f}" for v in os.getloadavg())


def add_wall(parser) -> None:
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the process's CPU time")


def clock(wall: bool):
    """The process's CPU time by default: with one thread, what a step costs on a core of its own."""
    return time.perf_counter if wall else time.process_time


def turns(cases: dict, rounds: int, block: int, clock=time.process_time, sync=lambda: None,
          warmed=lambda: None) -> dict[str, list[float]]:
    """Seconds per call of each case, one entry per turn: the cases take turns ``block`` calls at a
    time for ``rounds`` rounds, so a shared machine's noise hits them all alike. Each case is called
    once untimed first (one-off dispatch and allocation costs), then ``warmed()``."""
    for fn in cases.values():
        fn()
    warmed()
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            sync()
            t0 = clock()
            for _ in range(block):
                fn()
            sync()
            times[name].append((clock() - t0) / block)
    return times


def interleave(cases: dict, rounds: int, block: int, clock=time.process_time, sync=lambda: None) -> dict:
    """Median seconds per call of each case, timed in turns (``turns``)."""
    return {name: statistics.median(ts) for name, ts in turns(cases, rounds, block, clock, sync).items()}


def child(args: list[str], what: str, env: dict | None = None, timeout: float | None = None) -> str:
    """``python ARGS`` from the checkout (a benchmark's own child, or ``-m minimax_cli ...``); its stdout."""
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def names(parser, text: str, known, what: str) -> list[str]:
    """The comma list ``text``, every name one of ``known`` (else the parser's one-line error)."""
    picked = [n for n in text.split(",") if n]
    unknown = [n for n in picked if n not in known]
    if unknown:
        parser.error(f"unknown {what} {unknown[0]!r} (choose from {', '.join(known)})")
    return picked


def mark(ratio: float, target: float | None) -> str:
    return "" if target is None else f"≤ {target:g}× {'✓' if ratio <= target else '✗'}"


def table(head: list[str], align: str, rows: list[list]) -> str:
    """A markdown table; ``align`` has one letter per column, l or r."""
    lines = ["| " + " | ".join(head) + " |", "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])
