"""Per-step cost of every algorithm as a ratio to GDA, measured in the same process.

    python -m scripts.bench_algorithms [--game g3] [--steps 300] [--repeat 3] [--algos gda,ogda,...] [-- overrides]

Wall time per step (median of ``--repeat`` runs after a warm-up) and counted evaluations per step
(grads: vector-field evaluations, hvps: Hessian-vector products), each as a ratio to GDA.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from minimax_cli.build import build
from minimax_cli.checks import resolve_hardware
from minimax_cli.config import compose
from minimax_cli.runner import LoopSettings, Runner

DEFAULT = "gda,tgda,gda_alt,ogda,eg,pm,sga,co,lead,iu,fr,hessianfr,gdn,cgd,acgd"


def measure(game_name: str, algo_name: str, steps: int, overrides: list[str]):
    cfg = compose([f"game={game_name}", f"algo={algo_name}"] + overrides)
    game, algo = build(cfg.game, "game"), build(cfg.algo, "algo")
    device, dtype = resolve_hardware(cfg.hardware, game)
    game.setup(device, dtype, 0)
    runner = Runner(game, algo, LoopSettings(steps=steps, log_every=steps, tol=0.0, diverge_norm=float("inf"),
                                              progress=False))
    t0 = time.perf_counter()
    result = runner.run()
    return (time.perf_counter() - t0) / max(result.step, 1), result.cost


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="g3")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--algos", default=DEFAULT)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    names = args.algos.split(",")
    rows = {}
    for name in names:
        measure(args.game, name, min(args.steps, 20), args.overrides)    # warm-up
        times, cost = [], None
        for _ in range(args.repeat):
            per_step, cost = measure(args.game, name, args.steps, args.overrides)
            times.append(per_step)
        rows[name] = (statistics.median(times), cost)
    base_t, base_c = rows.get("gda", next(iter(rows.values())))
    print(f"game={args.game}, {args.steps} steps, median of {args.repeat}, {torch.get_num_threads()} threads")
    print("| algorithm | ms/step | time / GDA | grads/step | hvps/step | grad-equivalents / GDA |")
    print("|---|---|---|---|---|---|")
    base_eq = base_c["grads_per_step"] + base_c["hvps_per_step"]
    for name, (t, c) in rows.items():
        eq = c["grads_per_step"] + c["hvps_per_step"]
        print(f"| {name} | {t * 1e3:.2f} | {t / base_t:.2f}x | {c['grads_per_step']:.2f} | {c['hvps_per_step']:.2f} | {eq / base_eq:.2f}x |")


if __name__ == "__main__":
    main()
