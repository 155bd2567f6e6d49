"""Askari Hemmat et al. 2023 (LEAD) §6, Fig. 2: average time per iteration on the 8-Gaussians task as
the networks' hidden width grows, for CGD, SGA, CO, Extra-Adam, WGAN-GP and LEAD.

Every run is the 8-Gaussians GAN of `+experiment=lead_ring8` (three hidden ReLU layers in both
networks, latent 64, the non-saturating loss, Adam (0.5, 0.9), lr 3e-4) with the batch of the authors'
Fig. 2 scripts (256) and the hidden width w varied. The methods:

    cgd          algo=acgd: Schäfer & Anandkumar 2019's adaptive CGD (the paper uses its official optimizer code)
    sga          algo=sga: symplectic gradient adjustment (Balduzzi et al. 2018)
    co           algo=co: consensus optimization (Mescheder et al. 2017)
    extra_adam   algo=extra_adam: Gidel et al. 2019's Extra-Adam (two gradients a step)
    wgan_gp      algo=gda with Adam on the WGAN loss with a gradient penalty (λ = 0.5, the scripts' value)
    lead         algo=lead_adam: LEAD-Adam, α = 0.6 for both players

The time per iteration is read from each run's own log: the wall-clock times of metrics.jsonl's rows,
logged every few steps; the first interval (warm-up, after the step-0 metrics) and the last (which
holds the final metrics) are dropped and the median of the others, per step, is the run's time per
iteration. Evaluation metrics run only at the first and last step (metrics_every = steps), and no EMA.

Settings (the paper gives no widths in its text; its scripts use 2000, the largest here):
    full, CPU          widths 32, 64, 128, 256; 60 steps each
    full, hardware=cuda  widths 250, 500, 1000, 2000; 1,000 steps (the paper averages 1,000 iterations)
    --quick            widths 8 and 16, 16 steps: seconds, the pipeline only

Claims (the ordering as it holds here, ratios reported): LEAD's time per iteration is below SGA's and
CGD's at the largest width, and within 2× of Extra-Adam's and WGAN-GP's; the spread between the
methods (slowest / fastest) grows with the width. Timings are checked in the full settings only (the
quick widths measure per-step overheads, and a loaded CI machine's noise); --quick checks that every
run finished with a measured time. Writes <out>/{table.md, rows.json, fig2.png}.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.curves import RUN_QUIET
from minimax_cli.reproduce.engine import Claim, Reproduction, Variant
from minimax_cli.reproduce.outputs import write_outputs

SHARED = ["+experiment=lead_ring8", "setup.strict=false", "game.batch.size=256", "ema=null", "plot=false"]
METHODS = {
    "cgd": ["algo=acgd", "game.loss.kind=saturating"],   # CGD's system needs a zero-sum game
    "sga": ["algo=sga"],
    "co": ["algo=co"],
    "extra_adam": ["algo=extra_adam"],
    "wgan_gp": ["algo=gda", "game.loss.kind=wgan", "game.loss.gp=0.5"],
    "lead": ["algo=lead_adam"],
}
NAMES = {"cgd": "CGD", "sga": "SGA", "co": "CO", "extra_adam": "Extra-Adam", "wgan_gp": "WGAN-GP", "lead": "LEAD"}
WIDTHS = {"quick": (8, 16), "cpu": (32, 64, 128, 256), "cuda": (250, 500, 1000, 2000)}
STEPS = {"quick": (16, 4), "cpu": (60, 10), "cuda": (1000, 100)}   # (steps, log_every)
SIMILAR = 2.0   # "similar" cost: within this factor


def setting(quick: bool, overrides=()) -> str:
    if quick:
        return "quick"
    cuda = any(o.split("=", 1)[0].lstrip("+") in ("hardware", "hardware.device") and o.split("=", 1)[-1] == "cuda"
               for o in overrides)
    return "cuda" if cuda else "cpu"


def variants(quick: bool, overrides=()) -> list[Variant]:
    which = setting(quick, overrides)
    steps, log_every = STEPS[which]
    run = [*SHARED, f"steps={steps}", f"log_every={log_every}", f"metrics_every={steps}"]
    if quick:
        run += ["game.metrics.w1_samples=256", "game.metrics.kl_samples=256", "game.metrics.mode_samples=256"]
    out = []
    for width in WIDTHS[which]:
        nets = [f"game.generator.width={width}", f"game.discriminator.width={width}"]
        out += [Variant(f"{method}_w{width}", [*run, *over, *nets], groups=(method, f"w{width}"))
                for method, over in METHODS.items()]
    return out


def time_per_step(run) -> float:
    """Seconds per step from metrics.jsonl's wall times: the median over the logged intervals but the
    first (warm-up) and the last (the final metrics)."""
    rows = [r for r in run.history if "wall_time_s" in r and r.get("phase", "main") == "main"]
    per = [(b["wall_time_s"] - a["wall_time_s"]) / (b["step"] - a["step"])
           for a, b in zip(rows, rows[1:]) if b["step"] > a["step"]]
    return statistics.median(per[1:-1]) if len(per) >= 3 else math.nan


def run_rows(result) -> list[dict]:
    rows = []
    for label, runs in result.by_label.items():
        method, _, width = label.rpartition("_w")
        for run in runs:
            cost = (run.summary or {}).get("cost", {})
            rows.append({"method": method, "width": int(width), "status": run.status, "run": run.where,
                         "ms": 1e3 * time_per_step(run), "grads": cost.get("grads_per_step", math.nan),
                         "hvps": cost.get("hvps_per_step", math.nan), "device": (run.summary or {}).get("device")})
    return sorted(rows, key=lambda r: (r["width"], list(METHODS).index(r["method"]) if r["method"] in METHODS else 99))


def _ms(rows, method, width) -> float:
    found = [r["ms"] for r in rows if r["method"] == method and r["width"] == width]
    return found[0] if found else math.nan


def claims(rows) -> list[Claim]:
    done = [r for r in rows if math.isfinite(r["ms"])]
    out = [Claim(f"Every run finished with a measured time per iteration ({len(done)}/{len(rows)})",
                 bool(rows) and len(done) == len(rows) and all(r["status"] == "finished" for r in rows))]
    if not done:
        return out
    widths = sorted({r["width"] for r in done})
    big = widths[-1]
    lead = _ms(done, "lead", big)
    if not math.isfinite(lead):
        return out
    for method in ("sga", "cgd"):
        other = _ms(done, method, big)
        if math.isfinite(other):
            out.append(Claim(f"Fig. 2: LEAD's time per iteration is below {NAMES[method]}'s at width {big} "
                             f"({lead:.3g} vs {other:.3g} ms, {other / lead:.2f}×)", lead < other, "full"))
    for method in ("extra_adam", "wgan_gp"):
        other = _ms(done, method, big)
        if math.isfinite(other):
            ratio = lead / other
            out.append(Claim(f"Fig. 2: LEAD's time per iteration is similar to {NAMES[method]}'s at width {big} "
                             f"(within {SIMILAR:g}×: {ratio:.2f}×)", 1 / SIMILAR <= ratio <= SIMILAR, "full"))
    if len(widths) >= 2:
        spread = {}
        for w in (widths[0], big):
            ms = [r["ms"] for r in done if r["width"] == w]
            spread[w] = max(ms) / min(ms)
        out.append(Claim(f"Fig. 2: the gap between the methods grows with the width (slowest / fastest: "
                         f"{spread[widths[0]]:.2f}× at width {widths[0]}, {spread[big]:.2f}× at width {big})",
                         spread[big] > spread[widths[0]], "full"))
    return out


def fig2(rows, path: Path) -> Path | None:
    plt = pyplot()
    methods = [m for m in METHODS if any(r["method"] == m and math.isfinite(r["ms"]) for r in rows)]
    if not methods:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for method in methods:
        pts = sorted((r["width"], r["ms"]) for r in rows if r["method"] == method and math.isfinite(r["ms"]))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=NAMES[method])
    device = next((r["device"] for r in rows if r["device"]), "?")
    ax.set(xscale="log", yscale="log", xlabel="hidden width of G and D (3 layers)", ylabel="ms per iteration",
           title=f"Fig. 2: time per iteration on 8 Gaussians ({device})")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)


def tables(rows) -> list[tuple[str, str]]:
    widths = sorted({r["width"] for r in rows})
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    head = "| width | " + " | ".join(NAMES[m] for m in methods) + " |"
    lines = [head, "|---:|" + "---:|" * len(methods)]
    ratios = [head.replace("| width |", "| width (÷ LEAD) |"), lines[1]]
    for w in widths:
        lead = _ms(rows, "lead", w)
        lines.append(f"| {w} | " + " | ".join(f"{_ms(rows, m, w):.3g}" for m in methods) + " |")
        ratios.append(f"| {w} | " + " | ".join(f"{_ms(rows, m, w) / lead:.2f}×" for m in methods) + " |")
    counted = ["| method | gradients / step | Hessian-vector products / step |", "|---|---:|---:|"]
    for m in methods:
        r = next(r for r in rows if r["method"] == m)
        counted.append(f"| {NAMES[m]} | {r['grads']:g} | {r['hvps']:g} |")
    return [("Time per iteration (ms)", "\n".join(lines)), ("Relative to LEAD", "\n".join(ratios)),
            ("Counted derivative evaluations (machine independent)", "\n".join(counted))]


NOTES = """\
* The paper's text gives no widths (its Fig. 2 axis); the authors' scripts (8Gaussians_compare/) use
  three hidden layers of 2,000 units, batch 256, latent 64, lr 3e-4: the cuda setting's largest width.
  The paper times on a GPU with forced synchronous execution; the time here is the run's own wall
  clock between logged steps: on CUDA the host runs ahead of the GPU by at most the launch queue's
  few steps, so over 100-step intervals the time is the GPU's.
* WGAN-GP: the WGAN loss with a gradient penalty and Adam GDA; the authors' gp_8g.py puts the penalty
  (λ = 0.5) on the non-saturating loss instead. The penalty's double backward is the cost either way.
* LEAD is LEAD-Adam (Alg. 2, the scripts' sLead_Adam); CGD is `algo=acgd`, the adaptive variant the
  authors' CGD script runs, on the saturating (zero-sum) loss: CGD's linear system is symmetric only
  for a zero-sum game (the official code needs GMRES, GACGD, for the non-saturating one).
* "Similar" cost is read as within 2×; the measured ratios are in the tables. On the 2-core CPU
  (widths 32-256, 60 steps, 2026-12-07) every claim held: LEAD measured 3.9-7.2× below CGD (8.1
  counted Hessian-vector products a step) and 2.7-3.4× below SGA, 0.9-1.3× Extra-Adam and
  0.7-0.8× WGAN-GP; the slowest / fastest spread grew from 5.0× at width 32 to 9.1× at 256.
* The timing claims are checked in the full settings only: the quick widths measure fixed per-step
  overheads, and CI machines are shared.
"""


def analyze(ctx) -> int:
    rows = run_rows(ctx.result)
    fig2(rows, ctx.out / "fig2.png")
    which = ("Quick (CI) setting: widths 8 and 16, 16 steps; the pipeline only." if ctx.quick else
             f"Full setting: widths {', '.join(str(w) for w in sorted({r['width'] for r in rows}))}.")
    per_run = ["| method | width | status | ms / iteration | run |", "|---|---:|---|---:|---|"]
    per_run += [f"| {NAMES.get(r['method'], r['method'])} | {r['width']} | {r['status']} | {r['ms']:.3g} | {r['run']} |"
                for r in rows]
    return write_outputs(ctx.out, "Time per iteration vs width on 8 Gaussians (Askari Hemmat et al. 2023, Fig. 2)",
                         which, [*tables(rows), ("Per run", "\n".join(per_run))], claims(rows), ctx.quick, NOTES,
                         {"rows": rows}, audit=("lead_ring8",))


REPRODUCTION = Reproduction(
    name="lead-cost", paper="Askari Hemmat et al. 2023, Fig. 2 (time per iteration vs width on 8 Gaussians)",
    cost="full (CPU widths) ≈ 5 min; hardware=cuda: the paper's widths, 1,000 steps each; quick ~40 s",
    variants=variants, analyze=analyze, common=RUN_QUIET, estimate=lambda: variants(False),
    wants_overrides=True)
