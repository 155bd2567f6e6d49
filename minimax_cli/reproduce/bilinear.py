"""Liang & Stokes 2019, Fig. 1 (§3, Theorems 3–6): distance to the
Nash equilibrium vs iteration on the random bilinear game U(θ, ω) = θᵀCω.

Game: ``game=bilinear_random`` (p = q = 5, C_ij ~ U[0, 1] drawn from ``game.C_seed``), starts at
distance r = 0.5 from (0, 0), γ = 1. The step size of each method is COMPUTED here from the game's C
by minimax_cli/metrics/bilinear_bounds.py (Theorems 3–6) and passed to `minimax train` as an override:

    Liang & Stokes 2019   minimax                                   step size (theorem)
    SGA        algo=gda  (simultaneous gradient ASCENT/descent — not symplectic gradient adjustment)
                                                         η of OMD (no theorem step: SGA diverges for every η)
    OMD        algo=ogda                                 1/(2√(2λ_max))              (Thm 3)
    PM         algo=pm algo.lookahead=γ                  γλ_min/(γ²λ_max² + λ_max)   (Thm 4)
    IU         algo=iu algo.inner_steps=1                1/√λ_max                    (Thm 5)
    CO         algo=co algo.penalty=half_squared_norm algo.gamma=γ   the η of Thm 4  (Thm 6)

Each method is one run (its own η and step budget; all in one launch) that runs all the
starts vectorized (``game.starts`` = the default starts of seeds 0..S−1, an explicit list) with
``converge_on=dist_to_eq tol=ε``: a start stops at the first iteration with ‖z_t‖ < ε, and the run
ends when every start has stopped, or after ⌈1.05·T⌉ steps (T = the theorem's bound). Output:

* table.md — built with `minimax report` from the run directories: per method η, the bound T, the
  first iteration under ε (max and mean ± std over the starts), ✓/✗; the claims (every bound holds,
  SGA diverges, PM and CO coincide step by step, IU's implicit equation is solved exactly) and notes;
  table.csv — every statistic of the report;
* bilinear_fig1.png — max over starts of ‖z_t‖ vs iteration (log scale), the bounds marked; (b) zooms in.

``--quick`` (CI): a better-conditioned C (C_seed 2568, κ = 27.9
instead of 130) and ε = 1e-2, 2 starts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from minimax_cli import report
from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.engine import Reproduction, Variant

R, GAMMA = 0.5, 1.0            # Fig. 1: r = 0.5, γ = 1
FULL = {"C_seed": 0, "eps": 1e-6, "n_starts": 4, "log_every": 10}
QUICK = {"C_seed": 2568, "eps": 1e-2, "n_starts": 2, "log_every": 1}
SGA_STEPS = 5000               # SGA leaves ‖z‖ ≤ 1e6 long before this
# (Liang & Stokes 2019 name, algo config, extra overrides)
METHODS = [
    ("SGA", "gda", []),
    ("OMD", "ogda", []),
    ("PM", "pm", [f"algo.lookahead={GAMMA}"]),
    ("IU", "iu", ["algo.inner_steps=1"]),
    ("CO", "co", ["algo.penalty=half_squared_norm", f"algo.gamma={GAMMA}"]),
]
PAPER_NAME = {algo: name for name, algo, _ in METHODS}
COINCIDE_RTOL = 1e-9           # PM vs CO: relative difference of the distance curves


# -- the game and the theorem's numbers --------------------------------------------------------------------
def game_and_starts(C_seed: int, starts: int):
    """C of ``game=bilinear_random game.C_seed=...`` (built by the project's game) and the default
    starts of seeds 0..starts−1 (each at distance r from (0, 0))."""
    import torch

    from minimax_cli.build import build
    from minimax_cli.config import compose

    node = compose(["game=bilinear_random", f"game.C_seed={C_seed}", f"game.start_radius={R}"]).game
    points = []
    for seed in range(starts):
        game = build(node, "game")
        game.setup("cpu", torch.float64, seed)
        x0, y0 = game.initial_points()
        points.append(torch.cat([x0[0], y0[0]]).tolist())
    return game.B.numpy().copy(), np.array(points)


def plan(settings: dict) -> dict:
    """Per method: η, the bound T, the step budget and the overrides of its sweep."""
    from minimax_cli.metrics import bilinear_bounds

    C, Z0 = game_and_starts(settings["C_seed"], settings["n_starts"])
    eps = settings["eps"]
    lmin, lmax = bilinear_bounds.interaction_spectrum(C)
    etas = bilinear_bounds.step_sizes(C, GAMMA)
    bounds = bilinear_bounds.iteration_bounds(C, R, eps, GAMMA)
    # OMD's theorem also assumes ‖z1‖ ≤ r; our OGDA's first step is z1 = z0 − ηξ(z0) (ξ_{−1} = ξ_0),
    # which lies slightly outside: evaluate its bound at r' = max(r, ‖z1‖) (Theorem 3)
    p = C.shape[0]
    eta_omd = etas["OMD"]
    z1 = np.concatenate([Z0[:, :p] - eta_omd * Z0[:, p:] @ C.T, Z0[:, p:] + eta_omd * Z0[:, :p] @ C], 1)
    r_omd = max(R, float(np.linalg.norm(z1, axis=1).max()))
    bounds_omd = bilinear_bounds.iteration_bounds(C, r_omd, eps, GAMMA)["OMD"]
    methods = {}
    for name, algo, extra in METHODS:
        eta = etas["OMD"] if name == "SGA" else etas[name]
        bound = bounds_omd if name == "OMD" else bounds[name]
        steps = SGA_STEPS if bound is None else math.ceil(1.05 * bound) + 1
        methods[algo] = {"name": name, "eta": eta, "bound": bound, "steps": steps, "extra": extra,
                         "log_every": 1 if name == "SGA" else settings["log_every"]}
    methods["ogda"]["bound_at_r"] = bounds["OMD"]
    return {"C": C, "starts": Z0, "lambda_min": lmin, "lambda_max": lmax, "kappa": lmax / lmin, "eps": eps,
            "r_omd": r_omd, "methods": methods, **settings}


def variants(quick: bool) -> list[Variant]:
    """One run per method (its own η and step budget) into runs/<algo>/."""
    p = plan(dict(QUICK if quick else FULL))
    starts = "[" + ",".join("[" + ",".join(repr(float(v)) for v in z) + "]" for z in p["starts"]) + "]"
    out = []
    for _, algo, _ in METHODS:
        m = p["methods"][algo]
        out.append(Variant(algo, ["game=bilinear_random", f"game.C_seed={p['C_seed']}", f"game.starts={starts}",
                                  f"algo={algo}", f"algo.lr_x={m['eta']!r}", "algo.tau=1.0", *m["extra"],
                                  f"steps={m['steps']}", "converge_on=dist_to_eq", f"tol={p['eps']!r}",
                                  f"log_every={m['log_every']}", "hardware.threads=1", "tensorboard=false",
                                  "plot=false", "progress=false"],
                           seeds=None, groups=(m["name"],), name_runs=False))
    return out


# -- derived metrics (per start, from trajectories.npz) --------------------------------------------------
def _starts(run):
    return np.load(run.path / "trajectories.npz")


def first_under_eps(run):
    """Per start: the first iteration with ‖z_t‖ < ε (None for a start that never got there)."""
    s = _starts(run)
    return [int(t) if st == "converged" else None for t, st in zip(s["stop_step"], s["status"])]


def first_under_eps_max(run):
    values = first_under_eps(run)
    return None if any(v is None for v in values) else max(values)


def diverged_at(run):
    s = _starts(run)
    return [int(t) if st == "diverged" else None for t, st in zip(s["stop_step"], s["status"])]


DERIVED = {"t_eps": first_under_eps, "t_eps_max": first_under_eps_max, "diverged_at": diverged_at}


# -- claims -------------------------------------------------------------------------------------------------
def check_claims(p: dict, runs: dict, rows: dict) -> tuple[list[tuple[bool, str]], dict]:
    """The paper's claims on the runs (keyed by algo name) and table rows; and the numbers behind them."""
    claims, facts = [], {}
    eps = p["eps"]
    for algo, m in p["methods"].items():
        if algo not in rows or m["bound"] is None:
            continue
        row = rows[algo]
        worst = row["t_eps_max:mean"]
        ok = worst is not None and worst <= m["bound"]
        claims.append((ok, f"{m['name']}: every start reaches ‖z‖ < {eps:g} by iteration "
                           f"{'never' if worst is None else int(worst)} ≤ T_{m['name']} = {m['bound']} (theorem bound)"))
    if "gda" in runs:
        run, eta = runs["gda"], p["methods"]["gda"]["eta"]
        growth = 1 + eta**2 * p["lambda_min"]
        steps, dist = run.curve("dist_to_eq/max") if len(p["starts"]) > 1 else run.curve("dist_to_eq")
        _, frac = run.curve("fraction_diverged") if len(p["starts"]) > 1 else (steps, np.zeros_like(dist))
        alive = frac == 0
        consecutive = np.diff(steps) == 1
        pairs = consecutive & alive[1:]
        ratio = (dist[1:][pairs] / dist[:-1][pairs]) ** 2
        facts["sga_min_growth"] = float(ratio.min()) if ratio.size else None
        facts["sga_bound_growth"] = growth
        diverged = rows["gda"]["diverged"] == rows["gda"]["runs"] and rows["gda"]["diverged_at:n"] == len(p["starts"])
        claims.append((diverged and ratio.size > 0 and ratio.min() >= growth * (1 - 1e-12),
                       f"SGA (simultaneous gradient ascent = algo gda, η = {eta:.4g}) diverges: every start passes "
                       f"‖z‖ = 1e6 (by iteration {int(rows['gda']['diverged_at:mean'] or 0)} on average) and "
                       f"‖z_(t+1)‖²/‖z_t‖² ≥ {facts['sga_min_growth']:.6g} ≥ 1 + η²λ_min = {growth:.6g} at every step "
                       f"(Liang & Stokes 2019, §3)"))
    if "pm" in runs and "co" in runs:
        pm, co = runs["pm"], runs["co"]
        worst = 0.0
        same_steps = True
        for metric in ("dist_to_eq", "dist_to_eq/max") if len(p["starts"]) > 1 else ("dist_to_eq",):
            s1, d1 = pm.curve(metric)
            s2, d2 = co.curve(metric)
            same_steps &= len(s1) == len(s2) and bool(np.all(s1 == s2))
            if len(s1) == len(s2):
                worst = max(worst, float(np.max(np.abs(d1 - d2) / np.abs(d1))))
        a, b = _starts(pm), _starts(co)
        same_stop = bool(np.array_equal(a["stop_step"], b["stop_step"]))
        final = float(max(np.abs(a["x"] - b["x"]).max(), np.abs(a["y"] - b["y"]).max()))
        facts.update(pm_co_rel_diff=worst, pm_co_points=len(s1), pm_co_final_abs_diff=final, pm_co_same_stop=same_stop)
        every = p["methods"]["pm"]["log_every"]
        claims.append((same_steps and same_stop and worst <= COINCIDE_RTOL,
                       f"PM and CO coincide (Liang & Stokes 2019, Thm 6): their distance curves agree at all {len(s1)} logged "
                       f"iterations (every {'' if every == 1 else f'{every}th '}step) to a relative {worst:.1e} "
                       f"(≤ {COINCIDE_RTOL:g}); same first iteration under ε for every start: "
                       f"{'yes' if same_stop else 'no'}; final iterates differ by {final:.1e}"))
    if "iu" in runs:
        residual = runs["iu"].final("algo/residual")
        facts["iu_residual"] = residual
        claims.append((residual is not None and residual < 1e-12,
                       f"IU: one Newton step solves the implicit equation z⁺ = z − ηξ(z⁺) exactly on this "
                       f"bilinear game (mean residual over the last logged steps {residual:.1e} < 1e-12)"))
    return claims, facts


# -- table and figure ------------------------------------------------------------------------------------------
def build_table(p: dict, runs_list, algos: list[str]):
    rows = report.table(runs_list, by=["algo.name"], metrics=["dist_to_eq"], derived=DERIVED)
    order = [a for a in algos if any(r["algo.name"] == a for r in rows)]
    rows[:] = sorted(rows, key=lambda r: order.index(r["algo.name"]))
    m = p["methods"]

    def bound(row):
        meth = m[row["algo.name"]]
        if meth["bound"] is None:
            return "— (diverges)"
        if meth["name"] == "OMD":
            return f"{meth['bound']} (at r' = {p['r_omd']:.4g}; at r: {meth['bound_at_r']})"
        return str(meth["bound"])

    def first(row):
        if row["t_eps_max:mean"] is None:
            return "never"
        return f"{int(row['t_eps_max:mean'])} ({report.metric_cell(row, 't_eps')})"

    def holds(row):
        meth = m[row["algo.name"]]
        if meth["bound"] is None:
            return "✓ diverges" if row["diverged"] == row["runs"] else "✗ did not diverge"
        return "✓" if row["t_eps_max:mean"] is not None and row["t_eps_max:mean"] <= meth["bound"] else "✗"

    columns = [("Liang & Stokes 2019", lambda r: m[r["algo.name"]]["name"]), "algo.name",
               ("η (computed from C)", lambda r: f"{m[r['algo.name']]['eta']:.6g}"),
               ("bound T", bound), (f"first iteration with ‖z‖ < {p['eps']:g}: max (mean ± std) over starts", first),
               ("bound holds", holds), ("final ‖z‖ (mean over starts)", lambda r: report.metric_cell(r, "dist_to_eq")),
               "status"]
    text = report.to_markdown(rows, columns=columns)
    return runs_list, rows, text


def figure(p: dict, runs: dict, path: Path) -> Path:
    """‖z_t‖ vs iteration, log scale: (a) every iteration, (b) the first ones (SGA, OMD, IU)."""
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(13, 5), dpi=110)
    metric = "dist_to_eq/max" if len(p["starts"]) > 1 else "dist_to_eq"
    curves = {algo: run.curve(metric) for algo, run in runs.items()}
    fast = [m["bound"] for a, m in p["methods"].items() if a in runs and m["name"] in ("OMD", "IU") and m["bound"]]
    zoom = 1.15 * max(fast) if fast else None
    for ax, right in zip(axes, (None, zoom)):
        for i, (algo, (steps, dist)) in enumerate(curves.items()):
            meth = p["methods"][algo]
            ax.semilogy(steps, dist, "--" if algo == "co" else "-", color=f"C{i}", lw=2.2 if algo == "co" else 1.4,
                        label=f"{meth['name']} ({algo}, η = {meth['eta']:.3g})")
            if meth["bound"] is not None and (right is None or meth["bound"] <= right):
                ax.axvline(meth["bound"], color=f"C{i}", ls=":", lw=1.2)
        ax.axhline(p["eps"], color="k", lw=0.8, ls="--", label=f"ε = {p['eps']:g}")
        ax.set_ylim(p["eps"] / 10, 1e6)
        ax.set_xlim(0, right)
        ax.grid(alpha=0.3, which="both")
        ax.set(xlabel="iteration (dotted: the theorem bound T, same colour)",
               ylabel=f"‖(θ_t, ω_t)‖ ({'max over ' + str(len(p['starts'])) + ' starts' if len(p['starts']) > 1 else 'one start'})")
    axes[0].set_title(f"(a) Liang & Stokes 2019, Fig. 1: θᵀCω, p = q = {p['C'].shape[0]}, C_seed = {p['C_seed']}, "
                      f"κ = {p['kappa']:.3g}, r = {R}, γ = {GAMMA}", fontsize=9)
    axes[1].set_title("(b) the first iterations (SGA, OMD, IU)", fontsize=9)
    axes[0].legend(fontsize=8)
    return save_figure(fig, path)


NOTES = """\
Notes:
* "SGA" in Liang & Stokes 2019 is simultaneous gradient ascent (descent for θ, ascent for ω): our `algo=gda`, not
  symplectic gradient adjustment (`algo=sga`). Liang & Stokes 2019 gives SGA no step size on bilinear games (it
  diverges for every η, §3); it runs here at the OMD step size.
* Step sizes and bounds are computed from the game's own C (bilinear_bounds.py, Theorems 3–6 with the
  paper's constants as written; where they are ambiguous, the reading that bilinear_bounds.py documents); the runs receive them as `algo.lr_x` overrides.
* OMD's theorem assumes ‖z0‖ ≤ r and ‖z1‖ ≤ r. Our OGDA starts with ξ_{−1} = ξ_0, so z1 = z0 − ηξ(z0) and
  ‖z1‖ > ‖z0‖ = r slightly; the bound is evaluated at r' = max(r, ‖z1‖) (the value at r is shown too).
* IU runs one Newton step per iteration (`algo.inner_steps=1`): on a bilinear game ξ is linear, so that
  step solves (I + ηJ)z⁺ = z exactly (the residual claim checks it).
* The paper gives neither its iteration count, its starts nor how OMD's z1 is chosen (§4.1):
  the starts are those of seeds 0..S−1 of `game=bilinear_random` (radius r, random directions), every
  run stops when all its starts are within ε.
"""


def analyze(ctx) -> int:
    out = ctx.out
    p = plan(dict(QUICK if ctx.quick else FULL))
    algos = [v.label for v in ctx.variants]
    sweep = out / "runs"
    runs_list, rows, table = build_table(p, ctx.result.runs, algos)
    runs = {r.get("algo.name"): r for r in runs_list}
    runs = {a: runs[a] for a in algos if a in runs}
    claims, facts = check_claims(p, runs, {r["algo.name"]: r for r in rows})
    report.to_csv(rows, out / "table.csv")
    lam = f"λ(CCᵀ) ∈ [{p['lambda_min']:.4g}, {p['lambda_max']:.4g}], κ = {p['kappa']:.4g}"
    text = [f"# Liang & Stokes 2019, Fig. 1: bilinear game θᵀCω, p = q = {p['C'].shape[0]}, C_ij ~ U[0,1] "
            f"(C_seed = {p['C_seed']}), r = {R}, γ = {GAMMA}, ε = {p['eps']:g}", "",
            f"{lam}; {len(p['starts'])} starts (those of seeds 0..{len(p['starts']) - 1}), vectorized in each run; "
            f"runs: `{sweep}` ({ctx.seconds / 60:.1f} min here); table built with minimax report (table.csv).", "",
            table, "Claims:", ""] + [f"* {'✓' if ok else '✗'} {t}" for ok, t in claims] + ["", NOTES]
    (out / "table.md").write_text("\n".join(text) + "\n")
    fig = figure(p, runs, out / "bilinear_fig1.png")
    print("\n".join(text))
    print(f"written: {out / 'table.md'}, {fig}")
    return 0 if all(ok for ok, _ in claims) else 1


REPRODUCTION = Reproduction(
    name="bilinear", paper="Liang & Stokes 2019, Fig. 1 (SGA/OMD/PM/IU/CO at the theorem step sizes on θᵀCω)",
    cost="full ~30 min (PM and CO need 2.5·10⁵ iterations each); quick ~45 s", variants=variants, analyze=analyze)
