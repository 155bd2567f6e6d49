"""Shared machinery of the MoG GAN reproductions (scripts/reproduce_{fr,hessianfr,lead,ls}_mog.py).

A reproduction is a list of *variants* (a label and the `minimax train` overrides that make it),
each run through the real CLI as one `minimax train -m` job into ``<out>/runs/<label>/``, with
``algo.name=<label>`` so that `minimax report` groups by it. A variant's consecutive seeds run as one
vectorized run (``seed=s seeds=S``, games/seeds.py: each seed equals its separate run, and
`minimax report` counts the seeds as runs); other seed lists as a sweep. From the
run directories it builds, with minimax_cli.report, a markdown table (collect_runs / table /
to_markdown) and metric curves (plot), checks the paper's claims and writes ``table.md``,
``rows.json`` and the figures into ``<out>`` = runs/reproduce/<name>/<time>/ (never overwritten).

Claims are (text, ok, scope): ``both`` claims are checked at the quick (CI) setting and at the full
one, ``full`` claims only at the full setting (reported "not checked" otherwise). The exit status
is 1 when a checked claim fails. ``--estimate`` times a few steps of every variant at the full
setting instead (all of a variant's seeds at once, as the run would) and prints the projected
duration of the full reproduction.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))   # this checkout's minimax_cli, not an installed one

from minimax_cli.plots import output_dir, pyplot, save_figure  # noqa: E402,F401  (re-exported to the scripts)

COMMON = ["tensorboard=false", "progress=false", "hardware.threads=1"]


@dataclass
class Variant:
    label: str
    overrides: list[str]
    seeds: tuple[int, ...] = (0,)
    vectorize: bool = True     # consecutive seeds as one vectorized run (False: a sweep of single-seed runs)


@dataclass
class Claim:
    text: str
    ok: bool | None          # None: could not be evaluated (a run missing)
    scope: str = "both"      # both | full


@dataclass
class Result:
    runs: list = field(default_factory=list)
    by_label: dict = field(default_factory=dict)


def prepare(name: str, args, variants: list[Variant]) -> tuple[Path, Result]:
    """The output directory and the runs: trained now, or with --reanalyze those already in --out."""
    if args.reanalyze:
        if args.out is None or not (args.out / "runs").is_dir():
            raise SystemExit("--reanalyze needs --out DIR of an earlier reproduction (with DIR/runs)")
        return args.out, run_variants(variants, args.out, train=False)
    out = output_dir(name, args.out, REPO / "runs")
    return out, run_variants(variants, out)


def run_variants(variants: list[Variant], out: Path, train: bool = True) -> Result:
    """One `minimax train -m` per variant (in-process, the real CLI), then the runs collected
    (``train=False``: only collect the runs already under <out>/runs)."""
    from minimax_cli import report
    from minimax_cli.cli import main as minimax

    for v in variants if train else []:
        args = ["train", "-m", *v.overrides, f"algo.name={v.label}", *seed_overrides(v.seeds, v.vectorize), *COMMON,
                f"hydra.sweep.dir={out / 'runs' / v.label}"]
        print("$ minimax " + " ".join(args[1:]), flush=True)
        code = minimax(args)
        if code != 0:
            raise SystemExit(f"the sweep of {v.label} failed (exit {code})")
    runs = report.collect_runs([out / "runs"])
    by_label: dict[str, list] = {}
    for run in runs:
        by_label.setdefault(run.get("algo.name"), []).append(run)
    return Result(runs, by_label)


def seed_overrides(seeds, vectorize: bool = True) -> list[str]:
    """Consecutive seeds as one vectorized run (``seed=s seeds=S``); any other list as a sweep."""
    seeds = [int(s) for s in seeds]
    if vectorize and len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return [f"seed={seeds[0]}", f"seeds={len(seeds)}"]
    return [f"seed={','.join(map(str, seeds))}"]


def curve(run, metric: str, phase: str | None = "main"):
    """(steps, values, wall seconds) of a metric, from metrics.jsonl rows of one phase (rows of a
    run without phases are all 'main')."""
    rows = [r for r in run.history if metric in r and (phase is None or r.get("phase", "main") == phase)]
    steps = [float(r["step"]) for r in rows]
    values = [float(r[metric]) for r in rows]
    wall = [float(r.get("wall_time_s", math.nan)) for r in rows]
    return steps, values, wall


def grad_norm(run, phase: str | None = "main"):
    """(steps, ‖(∇ₓL_x, ∇ᵧL_y)‖, wall) on the eval batch, per logged row."""
    s, gx, w = curve(run, "grad_norm/x", phase)
    _, gy, _ = curve(run, "grad_norm/y", phase)
    return s, [math.hypot(a, b) for a, b in zip(gx, gy)], w


def tail_median(values: list[float], frac: float = 0.5) -> float:
    """Median of the last ``frac`` of the values (robust to the oscillation of GAN gradient norms)."""
    if not values:
        return math.nan
    k = max(1, int(round(len(values) * frac)))
    return statistics.median(values[-k:])


def report_table(result: Result, metrics: list[str]) -> str:
    from minimax_cli import report

    rows = report.table(result.runs, by=["algo.name"], metrics=metrics)
    return report.to_markdown(rows)


def write_outputs(out: Path, title: str, setting: str, tables: list[tuple[str, str]], claims: list[Claim],
                  quick: bool, notes: str, extra: dict, audit: tuple[str, ...] = ()) -> int:
    """table.md (tables, claims ✓/✗, notes) and rows.json; returns the exit status. ``audit``: the
    experiments whose audit table (docs/setups.md) states every value the runs use."""
    lines = [f"# {title}", "", setting, "", f"Runs: `{out / 'runs'}` (one `minimax train -m` sweep per variant, "
             "`algo.name` = the variant).", ""]
    if audit:
        cited = ", ".join(f"`docs/setups.md#{a}`" for a in audit)
        lines += [f"Setup audit: {cited} (each value: paper section, reference-code file:line, ours, why); "
                  "each run's `.hydra/resolved.yaml` ends with where every algorithm value came from.", ""]
    for heading, text in tables:
        lines += [f"## {heading}", "", text.rstrip(), ""]
    lines += ["## Claims", ""]
    failed = False
    for c in claims:
        checked = c.scope == "both" or not quick
        if not checked:
            mark = "–"
            suffix = " (full setting only; not checked here)"
        elif c.ok is None:
            mark, suffix = "✗", " (could not be evaluated)"
            failed = True
        else:
            mark, suffix = ("✓" if c.ok else "✗"), ""
            failed |= not c.ok
        lines.append(f"* {mark} {c.text}{suffix}")
    lines += ["", "## Notes", "", notes.rstrip(), ""]
    text = "\n".join(lines)
    (out / "table.md").write_text(text)
    payload = {"claims": [{"text": c.text, "ok": c.ok, "scope": c.scope} for c in claims], "quick": quick, **extra}
    (out / "rows.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    print(text)
    print(f"\nwritten: {out / 'table.md'}")
    return 1 if failed else 0


def load_samples(run):
    """The final generated samples and discriminator grid of a run (samples.npz), or None."""
    import numpy as np

    path = Path(run.files) / "samples.npz"   # a seed of a multi-seed run: seeds/<seed>/
    return dict(np.load(path)) if path.exists() else None


# -- projected duration of the full setting -------------------------------------------------------------
def estimate(variants: list[Variant], steps: int = 5, warmup: int = 2) -> list[dict]:
    """Seconds per step of each variant at its full setting (median of ``steps`` timed steps after
    ``warmup``; the main algorithm and, when there is one, the pretraining algorithm), and the
    projected duration of its runs. A variant's consecutive seeds are timed as the one vectorized
    run that trains them (a step = a step of every seed), interleaved with a one-seed run of the same
    config, whose time × seeds is the projection of separate runs. Metrics and figures are not
    included (a few % at log_every ≥ 100)."""
    import torch

    from minimax_cli.config import apply_threads, build, compose, pretrain_phase, resolve_hardware
    from minimax_cli.games.seeds import SeedStack, seed_chunk
    from minimax_cli.runner import Runner, _warm_up_torch_func

    _warm_up_torch_func()
    rows = []
    for v in variants:
        one_run = seed_overrides(v.seeds) if v.vectorize else [f"seed={v.seeds[0]}"]   # a sweep: time its first run
        cfg = compose([*v.overrides, *COMMON[2:], *one_run])
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
                runner = Runner(game, algo, steps=1, log_every=1, tol=0.0, progress=False, seed_chunk=seed_chunk(cfg))
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
    from minimax_cli.config import build

    game = build(cfg.game, "game")
    game.setup(device, dtype, seed)
    return game


def main_args(description: str, argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the reduced CI variant (minutes on 2 cores)")
    parser.add_argument("--estimate", action="store_true",
                        help="time a few steps of every full-setting variant and print the projected duration")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default runs/reproduce/<name>/<time>)")
    parser.add_argument("--reanalyze", action="store_true",
                        help="rebuild tables, claims and figures from the runs already in --out (no training)")
    return parser.parse_args(argv)
