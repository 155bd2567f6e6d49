"""`make bench`: every speed target in one table, each a ratio measured in the same run (the headline
command excepted: its target is in seconds). The rows (docs/benchmarks.md#the-targets):

    python -m scripts.bench [--quick] [--skip headline,busy,metrics,mog,lead,starts] [--details] [--readme PAGE]

1. headline  `minimax train algo=hessianfr game=mog`, the whole process's wall seconds (≤ 60 s on an idle
             2-core machine: the load average is printed beside it), and the share of its loop spent on
             evaluation metrics.
2. busy      the same for ``--busy-steps`` steps beside two CPU-bound processes: ``hardware.threads=null``
             (what every game that pins no count gets) over ``hardware.threads=1`` (≤ 1.5×).
3. metrics   every game but the image GANs at its defaults: metrics time / loop wall time (≤ 10%).
4-7.         GDA over a plain PyTorch loop and the second-order steps over GDA's (bench_mog.py), Adam /
             RMSprop / LEAD-Adam against torch.optim and the paper's code (bench_lead.py), 10,000 spread
             starts (some diverging) against a hand-vectorized loop (bench_starts.py): each script holds
             the details.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import bench_lead
from scripts._timing import child, load, table

HEADLINE = ["algo=hessianfr", "game=mog"]
ANALYTIC_GAMES = ["g1", "g2", "g3", "bilinear", "bilinear_random", "quadratic", "quadratic_gs", "poly53", "poly54",
                  "torus", "dirac", "dirac_ns", "tau_example1", "tau_example2", "covariance", "covariance_quad"]
NEURAL_GAMES = ["mog"]
# and the papers' baselines beside them: CGD, adaptive CGD, Extra-Adam, complex momentum
SECOND_ORDER = ["fr_cg1", "hessianfr_cg1", "hessianfr_dg", "lead_adam", "cgd", "acgd", "extra_adam", "cm"]


def train(overrides: list[str], timeout: float = 900) -> tuple[dict, float]:
    """One `minimax train` process; (its summary.json, the process's wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        t0 = time.perf_counter()
        child(["-m", "minimax_cli", "train", *overrides, f"hydra.run.dir={run}", "progress=false"],
              f"bench: `minimax train {' '.join(overrides)}`", timeout=timeout)
        seconds = time.perf_counter() - t0
        return json.loads((run / "summary.json").read_text()), seconds


def share(summary: dict) -> float:
    return summary["metrics_time_s"] / max(summary["wall_time_s"], 1e-9)


def row(item: str, what: str, value: str, target: str, ok: bool | None) -> dict:
    return {"item": item, "what": what, "value": value, "target": target,
            "ok": "" if ok is None else ("✓" if ok else "✗")}


# -- the measurements ------------------------------------------------------------------------------------
def headline() -> list[dict]:
    before = load()
    summary, seconds = train(HEADLINE)
    m = summary.get("metrics", {})
    what = (f"`minimax train {' '.join(HEADLINE)}` ({summary['step']} steps, {before}; "
            f"w1 {m.get('w1', float('nan')):.3g}, kl {m.get('kl', float('nan')):.3g}, modes {m.get('modes_covered')}, "
            f"‖∇ₓ‖ {m.get('grad_norm/x', float('nan')):.2g}, ‖∇ᵧ‖ {m.get('grad_norm/y', float('nan')):.2g})")
    return [row("1", what, f"{seconds:.1f} s", "≤ 60 s (idle 2 cores)", seconds <= 60),
            row("1, 3", "its evaluation metrics / loop wall time", f"{100 * share(summary):.1f}%", "≤ 10%",
                share(summary) <= 0.10)]


def busy(steps: int, repeat: int) -> list[dict]:
    spin = "import time\nt = time.time() + {}\nwhile time.time() < t: pass".format(3600)
    hogs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        # game=mog pins one thread; null is the pick every other game gets (the CPUs the process may use)
        times = {"null": [], "1": []}
        for _ in range(repeat):
            for threads in times:
                summary, _ = train([*HEADLINE, f"steps={steps}", "plot=false", "tensorboard=false",
                                    f"hardware.threads={threads}"])
                times[threads].append(summary["wall_time_s"])
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    auto, one = min(times["null"]), min(times["1"])
    ratio = auto / one
    from minimax_cli.cpus import default_threads

    return [row("2", f"{steps} steps of the headline while 2 CPU-bound processes run: hardware.threads=null "
                     f"({default_threads()} here) {auto:.1f} s / threads=1 {one:.1f} s (best of {repeat})",
                f"{ratio:.2f}×", "≤ 1.5×", ratio <= 1.5)]


def metrics_shares(neural_steps: int) -> list[dict]:
    rows, worst = [], (0.0, "")
    for game in ANALYTIC_GAMES + NEURAL_GAMES:
        extra = [f"steps={neural_steps}"] if game in NEURAL_GAMES and neural_steps else []
        summary, _ = train([f"game={game}", "plot=false", "tensorboard=false", *extra])
        s = share(summary)
        rows.append(f"{game} {100 * s:.1f}%")
        worst = max(worst, (s, game))
    return [row("3", "evaluation metrics / loop wall time at each game's defaults: " + ", ".join(rows),
                f"{100 * worst[0]:.1f}% (worst: {worst[1]})", "≤ 10%", worst[0] <= 0.10)]


def mog(rounds: int) -> tuple[list[dict], str]:
    from scripts import bench_mog

    rows = bench_mog.measure(["plain", "gda", *SECOND_ORDER], rounds, 3, [])
    gda = rows["gda"]
    ratio = gda["ms"] / rows["plain"]["ms"]
    out = [row("4", f"GDA step / plain PyTorch GDA loop (Wang et al. 2020's MoG nets, batch 5,000, 1 thread; "
                    f"{gda['ms']:.1f} vs {rows['plain']['ms']:.1f} ms CPU)", f"{ratio:.2f}×", "≤ 1.1×", ratio <= 1.1)]
    eq = gda["grads"] + 2 * gda["hvps"]
    for name in SECOND_ORDER:
        r = rows[name]
        out.append(row("7", f"{name} step / GDA step (grad-equivalents {(r['grads'] + 2 * r['hvps']) / eq:.1f}×)",
                       f"{r['ms'] / gda['ms']:.2f}×", "as before or better", None))
    return out, bench_mog.table(rows)


def lead(rounds: int, reference: Path) -> tuple[list[dict], str]:
    pre = bench_lead.interleave(bench_lead.precond_cases(bench_lead.N_PARAMS), max(rounds, 5), 3, time.process_time)
    out = []
    for kind in ("adam", "rmsprop"):
        ratio = pre[f"{kind}: minimax"] / pre[f"{kind}: torch.optim"]
        out.append(row("5", f"{kind} update / torch.optim's (8.1M parameters)", f"{ratio:.2f}×", "≤ 1.1×", ratio <= 1.1))
    details = bench_lead.precond_table(pre)
    if reference.exists():
        times = bench_lead.interleave(bench_lead.reference_cases(reference), rounds, 3, time.process_time)
        for label in ("Adam", "LEAD-Adam"):
            ratio = times[f"{label}: minimax"] / times[f"{label}: reference"]
            out.append(row("5", f"{label} iteration / Askari Hemmat et al. 2023's reference (3×2000 ReLU, batch 256)",
                           f"{ratio:.2f}×", "≤ 1.0×", ratio <= 1.0))
        details += "\n\n" + bench_lead.lead_table(times)
    else:
        out.append(row("5", f"LEAD-Adam / Adam vs Askari Hemmat et al. 2023's reference: no checkout at {reference}", "—", "≤ 1.0×", None))
    return out, details


def starts(repeat: int, steps: int) -> tuple[list[dict], str]:
    import torch

    from scripts import bench_starts

    torch.set_num_threads(1)
    # spread starts as users run them (game.init_radius=4 tol=0): some FR starts diverge
    rows = [bench_starts.compare(name, hand, 10_000, steps, repeat, time.process_time)
            for name, hand in (("gda", bench_starts.hand_gda), ("fr", bench_starts.hand_fr))]
    out = [row("6", f"g3, 10,000 starts spread over radius {bench_starts.RADIUS:g} × {steps} steps, tol 0, "
                    f"{r['algo'].upper()} ({r['diverged']} diverged): runner {r['runner_ms']:.2f} ms/step / "
                    f"hand-vectorized loop {r['hand_ms']:.2f}", f"{r['ratio']:.2f}×", "≤ 2×", r["ratio"] <= 2.0)
           for r in rows]
    return out, bench_starts.table(rows)


BEGIN, END = "<!-- bench.py table: begin -->", "<!-- bench.py table: end -->"


def write_table(path: Path, text: str, started: str) -> None:
    """Replace the table between the page's bench markers (BEGIN ... END; docs/benchmarks.md) by this run's."""
    page = path.read_text()
    if BEGIN not in page or END not in page:
        raise SystemExit(f"bench: {path} has no {BEGIN} ... {END} block to replace")
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    stamp = time.strftime("%Y-%m-%d")
    path.write_text(f"{head}{BEGIN}\nMeasured {stamp} by `make bench` ({started} at the start):\n\n{text}\n{END}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps (a smoke run of the table)")
    parser.add_argument("--skip", default="", help="comma list of: headline, busy, metrics, mog, lead, starts")
    parser.add_argument("--details", action="store_true", help="also print each benchmark's own table")
    parser.add_argument("--busy-steps", type=int, default=500)
    parser.add_argument("--metrics-steps", type=int, default=None,
                        help="steps of the neural games' runs (default: the game's own)")
    parser.add_argument("--reference", type=Path, default=bench_lead.DEFAULT_REFERENCE)
    parser.add_argument("--readme", type=Path, help="replace the table between the bench markers of this page "
                                                    "(docs/benchmarks.md)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    quick = args.quick
    started = load()
    print(f"minimax benchmarks ({started} at the start; CPU times are the process's, one thread)")
    rows, details = [], []
    if "headline" not in skip:
        rows += headline()
    if "busy" not in skip:
        rows += busy(20 if quick else args.busy_steps, 1 if quick else 2)
    if "metrics" not in skip:
        rows += metrics_shares(100 if quick else args.metrics_steps)
    if "mog" not in skip:
        r, d = mog(3 if quick else 9)
        rows, details = rows + r, details + [d]
    if "lead" not in skip:
        r, d = lead(1 if quick else 3, args.reference)
        rows, details = rows + r, details + [d]
    if "starts" not in skip:
        r, d = starts(1 if quick else 3, 100 if quick else 1000)
        rows, details = rows + r, details + [d]
    text = table(["item", "measured", "value", "target", ""], "llrll",
                 [[r["item"], r["what"], r["value"], r["target"], r["ok"]] for r in sorted(rows, key=lambda r: r["item"])])
    print("\n" + text)
    print(f"\n({load()} at the end)")
    if args.readme:
        write_table(args.readme, text, started)
    if args.details:
        for d in details:
            print("\n" + d)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
