"""``minimax reproduce NAME --estimate``: the projected duration of a reproduction's full setting,
from a few timed steps of every variant (no run directories are written)."""

from __future__ import annotations

import statistics
import time

from minimax_cli.reproduce.engine import Variant, seed_overrides


def estimate(variants: list[Variant], steps: int = 5, warmup: int = 2) -> list[dict]:
    """Seconds per step of each variant at its full setting (median of ``steps`` timed steps after
    ``warmup``; the main algorithm and, when there is one, the pretraining algorithm), and the
    projected duration of its runs. A variant's consecutive seeds are timed as the one vectorized
    run that trains them (a step = a step of every seed), interleaved with a one-seed run of the same
    config, whose time × seeds is the projection of separate runs. Metrics and figures are not
    included (a few % at log_every ≥ 100)."""
    import torch

    from minimax_cli.build import build
    from minimax_cli.checks import pretrain_phase, resolve_hardware
    from minimax_cli.config import compose
    from minimax_cli.cpus import apply_threads
    from minimax_cli.games.seeds import SeedStack, seed_chunk
    from minimax_cli.runner import LoopSettings, Runner, _warm_up_torch_func

    _warm_up_torch_func()
    rows = []
    for v in variants:
        one_run = seed_overrides(v.seeds) if v.vectorize else [f"seed={v.seeds[0]}"]   # a sweep: time its first run
        cfg = compose([*v.overrides, "hardware.threads=1", *one_run])
        seeds = list(range(int(cfg.seed), int(cfg.seed) + int(cfg.seeds)))
        games = [build(cfg.game, "game") for _ in seeds]
        device, dtype = resolve_hardware(cfg.hardware, games[0])
        apply_threads(cfg.hardware)
        for game, seed in zip(games, seeds):
            game.setup(device, dtype, seed)
        runs = {"many": SeedStack(games, seeds)} if len(seeds) > 1 else {}
        runs["one"] = games[0] if len(seeds) == 1 else _fresh(cfg, device, dtype, seeds[0])
        phases = [(build(cfg.algo, "algo"), int(cfg.steps))]
        pre = pretrain_phase(cfg)
        if pre is not None:
            phases.append(pre)
        per_step = {k: [] for k in runs}
        for algo, _ in phases:
            steppers = {}
            for key, game in runs.items():
                runner = Runner(game, algo, LoopSettings(steps=1, log_every=1, tol=0.0, progress=False,
                                                         seed_chunk=seed_chunk(cfg)))
                steppers[key] = [runner.init_state(), runner.stepper()]
            times = {k: [] for k in runs}
            for t in range(warmup + steps):      # interleaved: a loaded machine slows both alike
                for key, (state, step) in steppers.items():
                    t0 = time.perf_counter()
                    steppers[key][0], *_ = step(state, t + 1)
                    times[key].append(time.perf_counter() - t0)
            for key in runs:
                per_step[key].append(statistics.median(times[key][warmup:]))
        lengths = [n for _, n in phases]
        separate = sum(s * n for s, n in zip(per_step["one"], lengths)) * len(v.seeds) / 3600
        row = {"variant": v.label, "seeds": len(v.seeds), "vectorized": "many" in runs,
               "s_per_step": per_step.get("many", per_step["one"]), "s_per_step_one_seed": per_step["one"],
               "hours_separate": separate}
        ms = lambda xs: " + ".join(f"{1e3 * x:.1f} ms" for x in xs)  # noqa: E731
        if "many" in runs:
            row["hours"] = sum(s * n for s, n in zip(per_step["many"], lengths)) / 3600
            print(f"{v.label:24s} {ms(per_step['many'])} per step, {len(seeds)} seeds in one run -> {row['hours']:.2f} h "
                  f"({ms(per_step['one'])} per seed alone: {separate:.2f} h as separate runs)", flush=True)
        else:
            row["hours"] = separate
            print(f"{v.label:24s} {ms(per_step['one'])} per step x {len(v.seeds)} seed(s) -> {separate:.2f} h", flush=True)
        rows.append(row)
        del runs, games
    hours = sum(r["hours"] for r in rows)
    alone = sum(r["hours_separate"] for r in rows)
    print(f"full reproduction, one process, {torch.get_num_threads()} thread(s): {hours:.1f} h "
          f"(as separate single-seed runs: {alone:.1f} h)")
    return rows


def _fresh(cfg, device, dtype, seed: int):
    """One more copy of the game, set up with ``seed`` (the one-seed run beside a vectorized one)."""
    from minimax_cli.build import build

    game = build(cfg.game, "game")
    game.setup(device, dtype, seed)
    return game


