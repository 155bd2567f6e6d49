"""Fiez & Ratliff 2021, Fig. 1 (§5): τ-GDA on the regularized Dirac-GAN.

(τ, μ) ∈ {1, 4, 8, 16} × {0.3, 1} with γ1 = 0.01, 4000 iterations from (θ0, ω0) = (1, 1) (the
authors' notebook settings; the text gives none), one run each; then from the run directories:

* ``table.md`` / ``rows.json`` (a `minimax report` table with derived metrics): per run the
  eigenvalues of J_τ(0, 0), whether they are real
  (iff τ ≥ 1/μ²), the first logged step with distance to the equilibrium under 1e-3 and 1e-6,
  the final distance, and how many turns the trajectory makes around the equilibrium
  (cycling shows as ≥ ½ turn; with real eigenvalues the angle sweeps less than π);
* ``dirac_fig1.png``: (a) trajectories, (b) distance to equilibrium, (c, d) spec(J_τ) against τ
  for μ = 0.3 and μ = 1, as in the paper's Fig. 1.

Claims: τ = 8 reaches the equilibrium before τ = 16 at μ = 0.3; trajectories cycle exactly when
the eigenvalues are complex. ``--quick`` runs τ ∈ {8, 16} at μ = 0.3 for 1000 steps.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.engine import Reproduction, Variant

FULL = {"tau": (1, 4, 8, 16), "mu": (0.3, 1.0), "steps": 4000}
QUICK = {"tau": (8, 16), "mu": (0.3,), "steps": 1000}
LR = 0.01          # γ1, from the authors' notebook
EPS = (1e-3, 1e-6)


def variants(quick: bool) -> list[Variant]:
    """One run per (τ, μ), each its own run directory under runs/."""
    settings = QUICK if quick else FULL
    return [Variant(f"tau{tau:g}_mu{mu:g}", ["game=dirac", "algo=tgda", f"algo.lr_x={LR}", f"algo.tau={tau}",
                                             f"game.mu={mu}", f"steps={settings['steps']}", "tol=0", "log_every=10",
                                             "plot=false", "tensorboard=false", "progress=false"],
                    seeds=None, dir=f"runs/tau{tau:g}_mu{mu:g}", groups=(f"tau{tau:g}", f"mu{mu:g}"), name_runs=False)
            for mu in settings["mu"] for tau in settings["tau"]]


@functools.lru_cache(maxsize=None)
def game_jacobian(mu: float) -> np.ndarray:
    """J at (0, 0) from the game itself (analyze's code path), once per μ."""
    import torch

    from minimax_cli.games.dirac import DiracGAN
    from minimax_cli.metrics import spectrum

    game = DiracGAN("dirac", mu=mu)
    game.setup("cpu", torch.float64, 0)
    zero = torch.zeros(1, dtype=torch.float64)
    return spectrum.game_jacobian(game, zero, zero)


def eigenvalues(mu: float, tau: float) -> np.ndarray:
    """spec(J_τ(0, 0)), J_τ = Λ_τ J (Fiez & Ratliff 2021, Eq. 3)."""
    from minimax_cli.metrics import tau_star

    return np.linalg.eigvals(tau_star.tau_jacobian(game_jacobian(mu), 1, tau))


def _first_step_under(eps: float):
    """Derived metric: the first logged step whose distance to the equilibrium is under eps."""
    def fn(run) -> float | None:
        return next((float(r["step"]) for r in run.history if float(r.get("dist_to_eq", "nan")) < eps), None)
    return fn


def _turns(run) -> float:
    """Turns the (first) trajectory makes around the equilibrium (0, 0)."""
    path = np.load(run.path / "trajectories.npz")["trajectory"][:, 0, :]
    angle = np.unwrap(np.arctan2(path[:, 1], path[:, 0]))
    return float(np.abs(np.diff(angle)).sum() / (2 * math.pi))


def table(runs) -> tuple[str, list[dict]]:
    """Markdown table (and its rows) of the Dirac-GAN runs under ``sweep``, built with minimax
    report from the run directories (config, summary.json, metrics.jsonl, trajectories.npz)."""
    from minimax_cli import report

    derived = {f"steps_to_{eps:g}": _first_step_under(eps) for eps in EPS}
    derived["turns"] = _turns
    grouped = report.table(runs, by=["game.mu", "algo.tau"], metrics=["dist_to_eq"], derived=derived)
    rows = []
    for g in grouped:
        mu, tau = float(g["game.mu"]), float(g["algo.tau"])
        eig = eigenvalues(mu, tau)
        steps = {f"steps_to_{eps:g}": None if g[f"steps_to_{eps:g}:mean"] is None else int(g[f"steps_to_{eps:g}:mean"])
                 for eps in EPS}
        rows.append({
            "mu": mu, "tau": tau, "status": report.status_text(g), "runs": g["runs"],
            "eigs": [[float(e.real), float(e.imag)] for e in sorted(eig, key=lambda e: (e.real, e.imag))],
            "real": bool(np.abs(eig.imag).max() < 1e-12), "real_from_tau": 1 / mu**2, **steps,
            "final_dist": g["dist_to_eq:mean"], "turns": g["turns:mean"],
        })
    extra = {(r["mu"], r["tau"]): r for r in rows}
    at = lambda g: extra[(float(g["game.mu"]), float(g["algo.tau"]))]  # noqa: E731

    def spec(g):
        return ", ".join(f"{re:.3f}" if abs(im) < 1e-12 else f"{re:.3f}{im:+.3f}i" for re, im in at(g)["eigs"])

    columns = [("μ", lambda g: f"{g['game.mu']:g}"), ("τ", lambda g: f"{g['algo.tau']:g}"),
               ("spec J_τ(0,0)", spec),
               ("real (τ ≥ 1/μ²)", lambda g: f"{'yes' if at(g)['real'] else 'no'} (1/μ² = {at(g)['real_from_tau']:.3g})"),
               ("steps to 1e-3", lambda g: at(g)["steps_to_0.001"] or "—"),
               ("steps to 1e-6", lambda g: at(g)["steps_to_1e-06"] or "—"),
               ("dist at end", lambda g: f"{g['dist_to_eq:mean']:.2e}"),
               ("turns around eq.", lambda g: f"{g['turns:mean']:.2f}"),
               "status"]
    return report.to_markdown(grouped, columns=columns).rstrip("\n"), rows


def check_claims(rows: list[dict]) -> list[tuple[str, bool]]:
    """Fiez & Ratliff 2021, Fig. 1's claims, as checks on the table rows."""
    by = {(r["mu"], r["tau"]): r for r in rows}
    claims = []
    a, b = by.get((0.3, 8.0)), by.get((0.3, 16.0))
    if a and b:
        key = "steps_to_1e-06" if a["steps_to_1e-06"] and b["steps_to_1e-06"] else "steps_to_0.001"
        claims.append((f"μ = 0.3: τ = 8 reaches {key[9:]} at step {a[key]}, before τ = 16 (step {b[key]})",
                       a[key] is not None and (b[key] is None or a[key] < b[key])))
    for r in rows:
        cycles = r["turns"] >= 0.5
        claims.append((f"μ = {r['mu']:g}, τ = {r['tau']:g}: {'complex' if not r['real'] else 'real'} eigenvalues, "
                       f"{r['turns']:.2f} turns ({'cycles' if cycles else 'no cycling'})", cycles == (not r["real"])))
    return claims


def figure(rows: list[dict], run_dirs: list[Path], path: Path) -> Path:
    plt = pyplot()

    import yaml

    fig, ax = plt.subplots(2, 2, figsize=(11, 9), dpi=100)
    for run in sorted(run_dirs):
        cfg = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        label = f"τ={cfg['algo']['tau']:g}, μ={cfg['game']['mu']:g}"
        path_ = np.load(run / "trajectories.npz")["trajectory"][:, 0, :]
        ax[0, 0].plot(path_[:, 0], path_[:, 1], lw=1, label=label)
        history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        ax[0, 1].semilogy([h["step"] for h in history], [float(h["dist_to_eq"]) for h in history], lw=1, label=label)
    ax[0, 0].plot([1], [1], "r^")
    ax[0, 0].plot([0], [0], "*", color="gold", ms=12, mec="k")
    ax[0, 0].set(xlabel="θ (generator)", ylabel="ω (discriminator)", title="(a) τ-GDA trajectories")
    ax[0, 1].set(xlabel="iteration", ylabel="‖(θ, ω)‖", title="(b) distance to equilibrium")
    for a in ax[0]:
        a.legend(fontsize=7)
    for panel, mu, tmax in ((ax[1, 0], 0.3, 20.0), (ax[1, 1], 1.0, 5.0)):
        taus = np.arange(0.1, tmax, 0.05)
        spec = np.array([sorted(eigenvalues(mu, t), key=lambda e: (e.real, e.imag)) for t in taus])
        for i in range(2):
            panel.plot(taus, spec[:, i].real, color="C0", lw=1.2, label="Re λ" if i == 0 else None)
            panel.plot(taus, spec[:, i].imag, color="C3", lw=1.2, ls="--", label="Im λ" if i == 0 else None)
        panel.axvline(1 / mu**2, color="k", lw=0.8, ls=":", label="τ = 1/μ² (real from here)")
        panel.set(xlabel="τ", title=f"({'c' if mu < 1 else 'd'}) spec J_τ(0,0), μ = {mu:g}")
        panel.legend(fontsize=7)
    return save_figure(fig, path)


def analyze(ctx) -> int:
    out, runs = ctx.out, ctx.result.runs
    sweep = out / "runs"
    steps = max((int(run.get("steps")) for run in runs), default=0)
    run_dirs = sorted(p.parent for p in sweep.rglob("summary.json"))
    text, rows = table(runs)
    claims = check_claims(rows)
    header = (f"# Dirac-GAN, Fiez & Ratliff 2021, Fig. 1: τ-GDA, γ1 = {LR}, {steps} iterations from (1, 1)\n\n"
              f"Runs: `{sweep}` (minimax train game=dirac algo=tgda ...); table built with minimax report.\n\n")
    checks = "\n".join(f"* {'✓' if ok else '✗'} {text_}" for text_, ok in claims)
    (out / "table.md").write_text(header + text + "\n\nClaims:\n\n" + checks + "\n")
    (out / "rows.json").write_text(json.dumps({"rows": rows, "claims": claims}, indent=1) + "\n")
    figure(rows, run_dirs, out / "dirac_fig1.png")
    print(text + "\n\n" + checks)
    print(f"wrote {out / 'table.md'}, {out / 'dirac_fig1.png'}")
    return 0 if all(ok for _, ok in claims) else 1


REPRODUCTION = Reproduction(
    name="dirac", paper="Fiez & Ratliff 2021, Fig. 1 (τ-GDA on the Dirac-GAN)",
    cost="full ~1 min (8 runs × 4,000 steps); quick ~10 s", variants=variants, analyze=analyze)
