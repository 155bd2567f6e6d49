"""Vectorized starts: wall time of N trajectories in one run versus N = 1, on g3 with GDA.

    python scripts/bench_starts.py [--starts 10000] [--steps 1000]

Prints per-step time and the speed-up over running the starts one by one (estimated from the
single-start run measured in the same process). Also times the whole `minimax train` process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from minimax_cli.algos.gda import GDA
from minimax_cli.games.toy import G3
from minimax_cli.runner import Runner


def timed_run(starts: int, steps: int) -> float:
    game = G3("g3", starts=starts, init_radius=4.0)
    game.setup("cpu", torch.float64, 0)
    runner = Runner(game, GDA(lr_x=0.05, lr_y=0.05), steps=steps, log_every=max(steps // 10, 1), tol=0.0,
                    progress=False)
    t0 = time.perf_counter()
    runner.run()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    sizes = sorted({1, 100, args.starts})
    seconds = {n: timed_run(n, args.steps) for n in sizes}
    print(f"GDA on g3, {args.steps} steps, {torch.get_num_threads()} threads (same process)")
    print("| starts | wall (s) | ms/step | time per start vs 1 start one by one |")
    print("|---|---|---|---|")
    for n in sizes:
        print(f"| {n} | {seconds[n]:.2f} | {seconds[n] / args.steps * 1e3:.2f} | {seconds[n] / (n * seconds[1]):.2e} |")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "minimax_cli", "train", f"hydra.run.dir={Path(tmp) / 'run'}"],
                       check=True, capture_output=True)
        print(f"\n`minimax train` (defaults: g1, GDA, 1000 steps max), whole process: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
