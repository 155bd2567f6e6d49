"""Gao et al. 2022 (HessianFR) on the 1-D mixture of Gaussians: Figs. 2–5, gradient norms against
iterations and against seconds, and the CG1 / CG5 / CG10 / DG comparison.

Full setting (Gao et al. 2022, §4.2, `+experiment=hessianfr_mog1d`): ⅓N(−4, 0.3²) + ⅓N(0, 0.3²) +
⅓N(4, 0.3²), latent N(0, I₃), saturating GAN with L2 on D, 2×64 tanh MLPs and 5,000 points as a full
batch (Wang et al. 2020's, the paper gives none), Adam preconditioning; pretraining with GDA-2 (1e-4 for
both players) for 10,000 iterations (the `pretrain:` phase), then each algorithm for 100,000:

    gda, gda2, eg                         baselines (GDA-2: two discriminator steps, App. A)
    fr_cg5, fr_dg                         FR with CG-5 / the BB diagonal (DG)
    hessianfr_cg5, hessianfr_dg           HessianFR (η_y1 = η_y2 = η_x: c1 = c2 = 1)
    hessianfr_cg1, hessianfr_cg10         the CG ablation (Figs. 4–5, with cg5 and dg)
    gdn_cg5, gdn_dg                       GDN (η_y1 = 0, η_y2 = 1: the follower's Newton step)

Every value is the experiment's (docs/setups.md#hessianfr_mog1d): CG solves use the normal equations
with Levenberg–Marquardt damping from λ = 1 and the finite-difference mixed product (Wang et al. 2020, App.
D.4; Gao et al. 2022 gives neither); all rates are 1e-4 ("fine-tuned", not reported); a variant names only
what makes it one (follower steps, solver kind and iterations). Seconds are the main phase's wall
clock from metrics.jsonl.

Quick setting (CI): 200 points, rates 1e-3 (10×), 50 GDA-2 pretraining steps, then 60 steps of
gda, gda2, eg and the four HessianFR variants, without per-run figures (FR and GDN run in
tests/test_mog_algorithms.py).
Writes <out>/{table.md, rows.json, fig2_fig3.png, fig4_fig5.png, curves.png}.
"""

from __future__ import annotations

import math
from pathlib import Path

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.curves import RUN_QUIET, curve, grad_norm, report_table, tail_median
from minimax_cli.reproduce.engine import Claim, Variant, Reproduction
from minimax_cli.reproduce.outputs import write_outputs

DG = ["algo.solver.kind=diag"]   # the experiment's ridge methods run CG5 with the fd mixed product
BASELINES = ["gda", "gda2", "eg"]
RIDGE = ["fr_cg5", "fr_dg", "hessianfr_cg5", "hessianfr_dg", "gdn_cg5", "gdn_dg"]
ABLATION = ["hessianfr_cg1", "hessianfr_cg5", "hessianfr_cg10", "hessianfr_dg"]
THRESHOLD = 1e-3       # ‖(∇ₓ, ∇ᵧ)‖ that counts as converged for the iterations/seconds comparisons


def variants(quick: bool) -> list[Variant]:
    game = ["+experiment=hessianfr_mog1d"]
    fast = []                       # the quick setting's 10x rates (gdn keeps its Newton step)
    if quick:
        lr = 1e-3
        game += ["game.batch.dataset_size=200", "game.batch.size=200", "pretrain.steps=50",
                 f"pretrain.algo.lr_x={lr}", f"pretrain.algo.lr_y={lr}", "steps=60", "log_every=20", "metrics_every=20", "plot=false"]
        fast = [f"algo.lr_x={lr}", f"algo.lr_y={lr}"]
    hfr = ["algo=hessianfr", *fast] + ([f"algo.lr_y2={lr}"] if quick else [])
    table = {
        "gda": ["algo=gda", *fast], "gda2": ["algo=gda", *fast, "algo.follower_steps=2"], "eg": ["algo=eg", *fast],
        "fr_cg5": ["algo=fr", *fast], "fr_dg": ["algo=fr", *fast, *DG],
        "hessianfr_cg1": [*hfr, "algo.solver.iters=1"], "hessianfr_cg5": hfr,
        "hessianfr_cg10": [*hfr, "algo.solver.iters=10"], "hessianfr_dg": [*hfr, *DG],
        "gdn_cg5": ["algo=gdn", *fast[:1]], "gdn_dg": ["algo=gdn", *fast[:1], *DG],
    }
    skip = {"fr_cg5", "fr_dg", "gdn_cg5", "gdn_dg"} if quick else set()
    return [Variant(label, [*game, *over]) for label, over in table.items() if label not in skip]


def summary_rows(result) -> dict[str, dict]:
    rows = {}
    for label, runs in result.by_label.items():
        run = runs[0]
        steps, norms, wall = grad_norm(run)
        start = steps[0] if steps else 0
        first_step = next((s - start for s, v in zip(steps, norms) if v <= THRESHOLD), None)
        first_sec = next((w for w, v in zip(wall, norms) if v <= THRESHOLD), None)
        n = steps[-1] - start if steps else 0
        rows[label] = {
            "status": run.status, "steps": int(n),
            "grad_norm_start": norms[0] if norms else math.nan,
            "grad_norm_tail": tail_median(norms, 0.5 if len(norms) < 40 else 0.1),
            "sec_per_step": (wall[-1] - wall[0]) / n if n else math.nan,
            "steps_to_threshold": first_step, "seconds_to_threshold": first_sec,
            "hvps_per_step": ((run.summary or {}).get("cost") or {}).get("hvps_per_step", math.nan),
        }
    return rows


def claims(rows: dict) -> list[Claim]:
    out = []
    hfr = [rows.get(k) for k in ABLATION]
    if all(hfr):
        h = [r["hvps_per_step"] for r in hfr]
        s = [r["sec_per_step"] for r in hfr]
        out.append(Claim("Figs. 4–5: the products per step grow with the CG steps and DG needs none: HVPs/step "
                         + ", ".join(f"{k[10:]} {v:g}" for k, v in zip(ABLATION, h)), h[3] < h[0] < h[1] < h[2]))
        timing = ", ".join(f"{k[10:]} {v * 1e3:.1f} ms" for k, v in zip(ABLATION, s))
        out.append(Claim(f"Fig. 5: DG is the cheapest HessianFR in seconds per step ({timing})", s[3] < min(s[:3])))
        out.append(Claim(f"Fig. 5: seconds per step grow with the CG steps ({timing})", s[0] < s[1] < s[2], "full"))
    base = [rows[k] for k in BASELINES if k in rows]
    ridge = {k: rows[k] for k in RIDGE if k in rows}
    if base and ridge:
        worst_ridge = max(r["grad_norm_tail"] for r in ridge.values())
        best_base = min(r["grad_norm_tail"] for r in base)
        out.append(Claim(f"Fig. 2: every ridge method (FR, HessianFR, GDN; CG and DG) ends ≥ 10× below the best of "
                         f"GDA / GDA-2 / EG (worst ridge {worst_ridge:.2e}, best baseline {best_base:.2e})",
                         worst_ridge * 10 <= best_base, "full"))
    reach = {k: r for k, r in rows.items() if r["steps_to_threshold"] is not None}
    if reach:
        fewest_steps = min(reach, key=lambda k: reach[k]["steps_to_threshold"])
        fewest_secs = min(reach, key=lambda k: reach[k]["seconds_to_threshold"])
        out.append(Claim(f"Figs. 2–3: HessianFR-CG reaches ‖∇‖ ≤ {THRESHOLD:g} in the fewest iterations "
                         f"(fewest: {fewest_steps})", fewest_steps.startswith("hessianfr_cg"), "full"))
        out.append(Claim(f"Figs. 2–3: HessianFR-DG reaches it in the fewest seconds (fewest: {fewest_secs})",
                         fewest_secs == "hessianfr_dg", "full"))
    else:
        out.append(Claim(f"Figs. 2–3: HessianFR-CG / -DG reach ‖∇‖ ≤ {THRESHOLD:g} first in iterations / seconds "
                         "(no run reached it)", False, "full"))
    if all(hfr):
        it = [r["steps_to_threshold"] for r in hfr]
        ok = None not in it and it[2] <= it[1] <= it[0] <= it[3]
        out.append(Claim(f"Fig. 4: more CG steps, fewer iterations (to {THRESHOLD:g}: "
                         + ", ".join(f"{k[10:]} {v}" for k, v in zip(ABLATION, it)) + ")", ok, "full"))
    g, h, f = rows.get("gdn_cg5"), rows.get("hessianfr_cg5"), rows.get("fr_cg5")
    if g and h and f:
        gi, hi, fi = g["steps_to_threshold"], h["steps_to_threshold"], f["steps_to_threshold"]
        out.append(Claim(f"§4.2: GDN-CG is a little slower than HessianFR-CG and FR-CG (iterations: {gi}, {hi}, {fi})",
                         None not in (gi, hi, fi) and gi >= max(hi, fi), "full"))
    return out


def norms_figure(result, labels: list[str], path: Path, title: str) -> Path | None:
    labels = [lab for lab in labels if lab in result.by_label]
    if not labels:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(2, 2, figsize=(12, 8), dpi=100)
    for label in labels:
        run = result.by_label[label][0]
        for col, key in enumerate(("grad_norm/x", "grad_norm/y")):
            s, v, w = curve(run, key)
            ax[0, col].semilogy([t - s[0] for t in s], v, lw=1, label=label)
            ax[1, col].semilogy(w, v, lw=1, label=label)
    for col, who in enumerate(("generator", "discriminator")):
        ax[0, col].set(title=f"{who}: gradient norm vs iterations", xlabel="iteration (after pretraining)")
        ax[1, col].set(title=f"{who}: gradient norm vs seconds", xlabel="seconds (wall clock, main phase)")
    for a in ax.ravel():
        a.grid(alpha=0.3)
        a.legend(fontsize=6)
    fig.suptitle(title)
    return save_figure(fig, path)


NOTES = f"""\
* Not in the paper (its supplement is missing), chosen here: 2×64 tanh MLPs with Glorot init, L2 1e-4
  (gradient 2e-4·y), 5,000 points as a full batch, fresh latents every step, Adam (β = 0.9, 0.999) on
  both players, every rate 1e-4 (the pretraining's; the paper "fine-tuned" them), HessianFR's c1 = c2 = 1,
  CG with LM damping from λ = 1 and the finite-difference mixed product, BB scalar clamped at ≥ 0 with no
  correction on the first step. GDN's follower takes the plain Newton step (precond_y = sgd) while its
  leader runs Adam.
* "Converged" for the iteration/second comparisons is ‖(∇ₓL_x, ∇ᵧL_y)‖ ≤ {THRESHOLD:g} on the eval batch
  (the paper reads it off log-scale plots). Seconds are this machine's single-threaded wall clock.
* Quick setting (CI): 200 points, rates 1e-3, 50 pretraining and 60 main steps, no FR/GDN variants;
  only the cost of the CG ablation is checked there: the counted products and DG being the cheapest
  in seconds (60 timed steps on a shared machine cannot order CG5 and CG10 reliably; the convergence
  claims need the full budget).
"""


def analyze(ctx) -> int:
    out, result, quick = ctx.out, ctx.result, ctx.quick
    rows = summary_rows(result)
    table = report_table(result, ["grad_norm/x", "grad_norm/y", "modes_covered", "w1"])
    lines = ["| variant | status | steps | HVPs/step | ms/step | ‖∇‖ start | ‖∇‖ tail median | iterations to "
             f"{THRESHOLD:g} | seconds to {THRESHOLD:g} |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in sorted(rows.items()):
        lines.append(f"| {label} | {r['status']} | {r['steps']} | {r['hvps_per_step']:g} | {1e3 * r['sec_per_step']:.1f} "
                     f"| {r['grad_norm_start']:.2e} | {r['grad_norm_tail']:.2e} | {r['steps_to_threshold'] or '—'} "
                     f"| {r['seconds_to_threshold'] if r['seconds_to_threshold'] is None else round(r['seconds_to_threshold'], 1)} |")
    from minimax_cli import report

    report.plot(result.runs, ["algo.name"], ["grad_norm/x", "grad_norm/y"], out / "curves.png")
    norms_figure(result, BASELINES + RIDGE, out / "fig2_fig3.png", "Figs. 2–3: all algorithms")
    norms_figure(result, ABLATION, out / "fig4_fig5.png", "Figs. 4–5: HessianFR with CG1 / CG5 / CG10 / DG")
    setting = ("Quick (CI) setting: see the notes." if quick else
               "Full setting: Gao et al. 2022, §4.2 (`+experiment=hessianfr_mog1d`), 10,000 GDA-2 steps then 100,000.")
    return write_outputs(out, "HessianFR on the 1-D MoG GAN (Gao et al. 2022, Figs. 2–5)", setting,
                         [("minimax report (final values)", table), ("Per variant (main phase)", "\n".join(lines))],
                         claims(rows), quick, NOTES,
                         {"rows": rows}, audit=("hessianfr_mog1d",))


REPRODUCTION = Reproduction(
    name="hessianfr-mog", paper="Gao et al. 2022, Figs. 2–5 (HessianFR on the 1-D mixture of Gaussians)",
    cost="full ≈ 99 h (11 variants × 110k iterations); quick ~35 s",
    variants=variants, analyze=analyze, common=RUN_QUIET, estimate=lambda: variants(False))
