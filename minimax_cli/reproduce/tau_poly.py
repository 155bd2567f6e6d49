"""Fiez & Ratliff 2021, App. K.2 (Fig. 5) and K.3 (Figs. 6–7): τ-GDA on the two polynomial games.

K.2 (``game=poly53``, Eq. 53): the origin is a critical point that is neither a DNE nor a DSE
(locally Example 2 with v = 5). The paper says it is stable for τ ∈ (0, 2), marginally stable at
τ = 2 and unstable beyond; its Jacobian says (½, 2): with D1²f = diag(v/2, −v/4), D12f = (v/2)I,
D2²f = diag(v/4, −v/2) the game splits into two 2×2 blocks, with trace (v/4)(2 − τ) and
(v/4)(2τ − 1) and the same determinant τv²/8 (docs/claims.md, section 4). Runs: the paper's start
(−1.5, 2.5, 2.5, 3), γ1 = 0.0005, 20,000 iterations, τ ∈ {0.75, 2, 5, 12} and τ = 0.25 (below ½: the
origin repels, as it does for τ > 2).

K.3 (``game=poly54``, Eq. 54): τ* = 1 at both DSEs. Fig. 6b: from (−9, −9) with γ1 = 0.0001,
τ ∈ {1, 2, 5, 20}, 25,000 iterations (the authors' notebook). Fig. 7b's example: from (−10, −2)
with γ1 = 0.001 and 75,000 iterations "any τ > 1" reaches the DSE (−11.03, −11.03); τ = 2 reaches the
other DSE (−1.62, −1.62), and so does the continuous-time flow (docs/claims.md, section 5), so the
analysis also sweeps τ ∈ [1, 3] densely (the game's own gradient, every τ at once, γ1 = 0.001,
20,000 iterations) and reports which equilibrium each τ reaches.

Updates are simultaneous (Eq. 2); the authors' region-of-attraction script alternates, which gives the
same endpoints from (−10, −2). ``--quick``: K.2 at τ ∈ {0.25, 0.75, 5} with γ1 = 0.02 for 500 steps
(the same time horizon γ1·k = 10), K.3 from (−10, −2) at τ = 2 with γ1 = 0.001 for 8,000 steps
(γ1 = 0.01 would overshoot at τ = 2), and a coarser τ sweep (K2, K3_ROA, SWEEP below). Output:
table.md, rows.json, tau_poly.png.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.engine import Claim, Reproduction, Variant
from minimax_cli.reproduce.outputs import markdown_table, write_outputs

RUN = ["algo=tgda", "tol=0", "plot=false", "tensorboard=false", "progress=false"]
K2 = {"full": {"tau": (0.25, 0.75, 2, 5, 12), "lr": 5e-4, "steps": 20_000},
      "quick": {"tau": (0.25, 0.75, 5), "lr": 2e-2, "steps": 500}}
K2_START = ([-1.5, 2.5], [2.5, 3.0])
K3_TRAJ = {"tau": (1, 2, 5, 20), "lr": 1e-4, "steps": 25_000, "start": (-9.0, -9.0)}     # full only
K3_ROA = {"full": {"tau": (1, 2, 5, 20), "lr": 1e-3, "steps": 75_000},
          "quick": {"tau": (2,), "lr": 1e-3, "steps": 8_000}}
K3_ROA_START = (-10.0, -2.0)
SWEEP = {"full": {"taus": np.round(np.arange(1.0, 3.0001, 0.02), 2), "steps": 20_000, "near": 1e-3},
         "quick": {"taus": np.round(np.arange(1.0, 3.0001, 0.1), 1), "steps": 10_000, "near": 2e-2}}
SWEEP_LR = 1e-3
NEAR = 1e-3          # an endpoint "reaches" a critical point within this distance
V = 5.0              # K.2's origin is Example 2 with v = 5


def _tau_label(tau) -> str:
    return f"{tau:g}".replace(".", "p")


def variants(quick: bool) -> list[Variant]:
    key = "quick" if quick else "full"
    out = []
    k2, roa = K2[key], K3_ROA[key]
    for tau in k2["tau"]:
        out.append(Variant(f"k2_tau{_tau_label(tau)}", [
            "game=poly53", *RUN, f"algo.tau={tau}", f"algo.lr_x={k2['lr']}", f"steps={k2['steps']}",
            f"game.x0=[{K2_START[0][0]},{K2_START[0][1]}]", f"game.y0=[{K2_START[1][0]},{K2_START[1][1]}]",
            f"log_every={k2['steps'] // 50}"], groups=("k2", f"tau{tau:g}")))
    if not quick:
        for tau in K3_TRAJ["tau"]:
            out.append(Variant(f"k3_traj_tau{_tau_label(tau)}", [
                "game=poly54", *RUN, f"algo.tau={tau}", f"algo.lr_x={K3_TRAJ['lr']}", f"steps={K3_TRAJ['steps']}",
                f"game.x0=[{K3_TRAJ['start'][0]}]", f"game.y0=[{K3_TRAJ['start'][1]}]",
                f"log_every={K3_TRAJ['steps'] // 100}"], groups=("k3", f"tau{tau:g}")))
    for tau in roa["tau"]:
        out.append(Variant(f"k3_roa_tau{_tau_label(tau)}", [
            "game=poly54", *RUN, f"algo.tau={tau}", f"algo.lr_x={roa['lr']}", f"steps={roa['steps']}",
            f"game.x0=[{K3_ROA_START[0]}]", f"game.y0=[{K3_ROA_START[1]}]",
            f"log_every={roa['steps'] // 50}"], groups=("k3", f"tau{tau:g}")))
    return out


# -- the games' own Jacobians and critical points ----------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _game(name: str):
    import torch

    from minimax_cli.games.polynomial import Poly53, Poly54

    game = {"poly53": Poly53, "poly54": Poly54}[name](name)
    game.setup("cpu", torch.float64, 0)
    return game


def jacobian_at(name: str, x, y) -> np.ndarray:
    import torch

    from minimax_cli.metrics import spectrum

    game = _game(name)
    return spectrum.game_jacobian(game, torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))


def critical_points(name: str) -> list[tuple[np.ndarray, str]]:
    return [(np.concatenate([p.x.numpy(), p.y.numpy()]), p.label) for p in _game(name).critical_points()]


def nearest(name: str, point: np.ndarray) -> tuple[str, float]:
    """The critical point nearest to ``point`` and the distance to it."""
    best = min(critical_points(name), key=lambda c: np.linalg.norm(point - c[0]))
    return best[1], float(np.linalg.norm(point - best[0]))


def example2_closed_form(tau: float, v: float = V) -> np.ndarray:
    """spec J_τ(0) of Example 2: (v/8)(2τ − 1 ± √(4τ² − 12τ + 1)) and (v/8)(2 − τ ± √(τ² − 12τ + 4))."""
    r1, r2 = np.sqrt(complex(4 * tau**2 - 12 * tau + 1)), np.sqrt(complex(tau**2 - 12 * tau + 4))
    return np.array([v / 8 * (2 * tau - 1 + s * r1) for s in (1, -1)] + [v / 8 * (2 - tau + s * r2) for s in (1, -1)])


def discrete_range(lr: float, v: float = V) -> tuple[float, float]:
    """The τ for which ρ(I − γ1 J_τ(0)) < 1: both blocks' pairs are complex near the edges, where
    |1 − γλ| < 1 ⟺ γ|λ|² < 2 Re λ ⟺ γ det < trace, i.e. τ(2 − γv/2) > 1 and τ(1 + γv/2) < 2."""
    return 1 / (2 - lr * v / 2), 2 / (1 + lr * v / 2)


def tau_sweep(taus: np.ndarray, steps: int, start=K3_ROA_START, lr: float = SWEEP_LR) -> np.ndarray:
    """Simultaneous τ-GDA on poly54 for every τ at once (the game's own value, autograd): endpoints (n, 2)."""
    import torch

    game = _game("poly54")
    x = torch.full((len(taus),), start[0], dtype=torch.float64)
    y = torch.full((len(taus),), start[1], dtype=torch.float64)
    t = torch.tensor(np.asarray(taus, dtype=float), dtype=torch.float64)
    for _ in range(steps):
        x.requires_grad_(True)
        y.requires_grad_(True)
        gx, gy = torch.autograd.grad(game.value(x, y).sum(), (x, y))
        with torch.no_grad():
            x, y = x - lr * gx, y + t * lr * gy
    return np.stack([x.detach().numpy(), y.detach().numpy()], axis=1)


# -- analysis ----------------------------------------------------------------------------------------------
def _endpoint(run) -> np.ndarray:
    data = np.load(run.path / "trajectories.npz")
    return np.concatenate([data["x"][0], data["y"][0]])


def _path(run) -> np.ndarray:
    return np.load(run.path / "trajectories.npz")["trajectory"][:, 0, :]


def _short(label: str) -> str:
    return label.split(":")[0].replace("origin", "origin (0,0,0,0)")


def _intervals(taus, names) -> list[tuple[float, float, str]]:
    out = []
    for t, n in zip(taus, names):
        if out and out[-1][2] == n:
            out[-1] = (out[-1][0], float(t), n)
        else:
            out.append((float(t), float(t), n))
    return out


def analyze(ctx) -> int:
    key = "quick" if ctx.quick else "full"
    runs = {label: rs[0] for label, rs in ctx.result.by_label.items() if rs}
    claims, tables, extra = [], [], {}

    # K.2: the origin's stable range, closed form against the game's own Jacobian
    from minimax_cli.metrics import tau_star

    J0 = jacobian_at("poly53", [0.0, 0.0], [0.0, 0.0])
    roots = tau_star.guard_roots(J0, 2) or []
    stable = tau_star.stable_intervals(J0, 2, roots)
    probe = np.linspace(0.05, 4, 80)
    worst = max(_spectral_gap(np.linalg.eigvals(tau_star.tau_jacobian(J0, 2, t)), example2_closed_form(t)) for t in probe)
    claims.append(Claim(f"K.2: spec J_τ(0) of the game equals Example 2's closed form with v = 5 (max error {worst:.1e} "
                        "over τ ∈ [0.05, 4])", worst < 1e-9))
    claims.append(Claim(f"K.2 as it truly stands: the origin is stable exactly for τ ∈ {_fmt_intervals(stable)} "
                        "(guard-map roots), i.e. (½, 2); the paper's (0, 2) fails below ½",
                        len(stable) == 1 and abs(stable[0][0] - 0.5) < 1e-9 and abs(stable[0][1] - 2) < 1e-9))
    for t in (0.25, 0.45):
        lam = np.linalg.eigvals(tau_star.tau_jacobian(J0, 2, t))
        claims.append(Claim(f"K.2: at τ = {t:g} J_τ(0) has min Re λ = {lam.real.min():.3f} < 0: the origin is unstable",
                            lam.real.min() < 0))
    lr2 = K2[key]["lr"]
    lo, hi = discrete_range(lr2)
    scan = np.linspace(0.3, 2.2, 1901)
    rho_ok = [t for t in scan if np.abs(1 - lr2 * np.linalg.eigvals(tau_star.tau_jacobian(J0, 2, t))).max() < 1]
    claims.append(Claim(f"K.2, discrete map at γ1 = {lr2:g}: ρ(I − γ1 J_τ(0)) < 1 for τ ∈ [{min(rho_ok):.3f}, "
                        f"{max(rho_ok):.3f}] on a 0.001 grid, the closed form ({lo:.4f}, {hi:.4f})",
                        abs(min(rho_ok) - lo) < 2e-3 and abs(max(rho_ok) - hi) < 2e-3))
    rows2 = []
    for tau in K2[key]["tau"]:
        run = runs.get(f"k2_tau{_tau_label(tau)}")
        if run is None:
            claims.append(Claim(f"K.2, τ = {tau:g}: run missing", None))
            continue
        end = _endpoint(run)
        label, dist = nearest("poly53", end)
        d0 = float(np.linalg.norm(end))
        rows2.append({"tau": tau, "end": end.tolist(), "nearest": label, "dist": dist, "dist_origin": d0})
        if tau < 0.5:
            claims.append(Claim(f"K.2, τ = {tau:g} < ½: τ-GDA avoids the origin (ends {d0:.2f} from it, {dist:.1e} from "
                                f"{_short(label)})", d0 > 1 and dist < 0.1))
        elif tau < 2:
            claims.append(Claim(f"K.2, τ = {tau:g}: τ-GDA converges to the non-equilibrium origin (ends {d0:.1e} from it)",
                                d0 < 0.05))
        elif tau == 2:
            claims.append(Claim(f"K.2, τ = 2: τ-GDA cycles near the origin, marginally stable (ends {d0:.3f} from it)",
                                0.005 < d0 < 0.2, scope="full"))
        else:
            claims.append(Claim(f"K.2, τ = {tau:g} > 2: τ-GDA avoids the origin and converges to {_short(label)} "
                                f"(distance {dist:.1e})", label.startswith("DNE (1, 1") and dist < NEAR))
    tables.append(("K.2: τ-GDA from (−1.5, 2.5, 2.5, 3)", markdown_table(
        ["τ", "end (x11, x12, x21, x22)", "nearest critical point", "distance", "distance to origin"],
        [[f"{r['tau']:g}", ", ".join(f"{v:.4f}" for v in r["end"]), r["nearest"], f"{r['dist']:.1e}",
          f"{r['dist_origin']:.3g}"] for r in rows2])))

    # K.3: τ* at the DSEs, then where the runs end
    rows3 = []
    for px, py, label in [p for p in _poly54_points() if p[2].startswith("DSE")]:
        J = jacobian_at("poly54", [px], [py])
        tstar = tau_star.theorem1_tau_star(J, 1)
        im = np.linalg.eigvals(J)
        claims.append(Claim(f"K.3: τ* = {tstar:.6f} at {label} (Theorem 1), spec J_1 purely imaginary "
                            f"(max |Re| {np.abs(im.real).max():.1e})", abs(tstar - 1) < 1e-6 and np.abs(im.real).max() < 1e-8))
    for prefix, setting, start in (("k3_traj", K3_TRAJ, K3_TRAJ["start"]), ("k3_roa", K3_ROA[key], K3_ROA_START)):
        if prefix == "k3_traj" and ctx.quick:
            continue
        for tau in setting["tau"]:
            run = runs.get(f"{prefix}_tau{_tau_label(tau)}")
            if run is None:
                claims.append(Claim(f"K.3 {prefix}, τ = {tau:g}: run missing", None))
                continue
            end = _endpoint(run)
            label, dist = nearest("poly54", end)
            rows3.append({"start": list(start), "tau": tau, "lr": setting["lr"], "steps": setting["steps"],
                          "end": end.tolist(), "nearest": label, "dist": dist})
            if prefix == "k3_traj" and tau == 1:
                path = _path(run)
                d = np.linalg.norm(path - np.array([-11.029738508573407] * 2), axis=1)
                half = d[len(d) // 2:]
                claims.append(Claim(f"K.3 Fig. 6b, τ = 1 from (−9, −9): cycles around the DSE (−11.03, −11.03) without "
                                    f"converging (distance over the last half in [{half.min():.2f}, {half.max():.2f}])",
                                    half.min() > 0.5, scope="full"))
            elif prefix == "k3_traj" and tau >= 5:
                claims.append(Claim(f"K.3 Fig. 6b, τ = {tau:g} from (−9, −9): converges to the DSE (−11.03, −11.03) "
                                    f"(distance {dist:.1e})", label.startswith("DSE (-11.03") and dist < NEAR, scope="full"))
            elif prefix == "k3_roa":
                expect = {1: "DNE (10.57", 2: "DSE (-1.62"}.get(tau, "DSE (-11.03")
                note = " (the paper says (−11.03, −11.03))" if tau == 2 else ""
                claims.append(Claim(f"K.3 from (−10, −2), τ = {tau:g}: reaches {_short(label)} (distance {dist:.1e}){note}",
                                    label.startswith(expect) and dist < NEAR))
    tables.append(("K.3: τ-GDA endpoints", markdown_table(
        ["start", "τ", "γ1", "iterations", "end (x1, x2)", "nearest critical point", "distance"],
        [[f"({r['start'][0]:g}, {r['start'][1]:g})", f"{r['tau']:g}", f"{r['lr']:g}", f"{r['steps']:,}",
          f"{r['end'][0]:.4f}, {r['end'][1]:.4f}", r["nearest"], f"{r['dist']:.1e}"] for r in rows3])))

    # K.3: which τ in [1, 3] reach which equilibrium from (−10, −2)
    sw = SWEEP[key]
    ends = tau_sweep(sw["taus"], sw["steps"])
    names = []
    for e in ends:
        label, dist = nearest("poly54", e)
        names.append(_short(label) if dist < sw["near"] else "none")
    spans = _intervals(sw["taus"], names)
    tables.append((f"K.3: endpoint from (−10, −2) against τ (γ1 = {SWEEP_LR:g}, {sw['steps']:,} simultaneous iterations)",
                   markdown_table(["τ from", "τ to", "reaches"], [[f"{a:g}", f"{b:g}", n] for a, b, n in spans])))
    reached = dict(zip(sw["taus"].tolist(), names))
    not_1103 = [t for t, n in reached.items() if t > 1 and not n.startswith("DSE (-11.03")]
    claims.append(Claim(f"K.3 as it truly stands: from (−10, −2) not every τ > 1 reaches (−11.03, −11.03): on the sweep "
                        f"{len(not_1103)} of {sum(t > 1 for t in reached)} τ ∈ (1, 3] do not (τ = 2 → "
                        f"{reached.get(2.0, '?')}), every τ ≥ 2.3 does",
                        bool(not_1103) and all(n.startswith("DSE (-11.03") for t, n in reached.items() if t >= 2.3)))
    extra = {"k2": rows2, "k3": rows3, "k3_sweep": [{"tau": t, "reaches": n} for t, n in reached.items()],
             "k2_stable": stable, "k2_discrete_range": [lo, hi]}
    figure(ctx, runs, J0, spans, key)
    setting = (f"K.2: game=poly53 from (−1.5, 2.5, 2.5, 3), γ1 = {lr2:g}, {K2[key]['steps']:,} iterations, τ ∈ "
               f"{{{', '.join(f'{t:g}' for t in K2[key]['tau'])}}}. K.3: game=poly54 from (−10, −2), γ1 = "
               f"{K3_ROA[key]['lr']:g}, {K3_ROA[key]['steps']:,} iterations, τ ∈ {{{', '.join(f'{t:g}' for t in K3_ROA[key]['tau'])}}}"
               + ("" if ctx.quick else "; from (−9, −9), γ1 = 0.0001, 25,000 iterations, τ ∈ {1, 2, 5, 20}") + ".")
    notes = ("The paper's two printed claims that do not hold are checked as they truly stand: the origin of "
             "K.2 is stable for τ ∈ (½, 2), not (0, 2), and from (−10, −2) τ = 2 reaches (−1.62, −1.62). "
             "Derivations: docs/claims.md, sections 4 and 5.")
    return write_outputs(ctx.out, "Fiez & Ratliff 2021, App. K.2–K.3: τ-GDA on the polynomial games", setting,
                         tables, claims, ctx.quick, notes, extra)


def _spectral_gap(a: np.ndarray, b: np.ndarray) -> float:
    """The largest distance from an eigenvalue of either set to the nearest of the other (ties in
    the real part make sorted orders differ)."""
    d = np.abs(a[:, None] - b[None, :])
    return float(max(d.min(axis=0).max(), d.min(axis=1).max()))


def _poly54_points():
    from minimax_cli.games.polynomial import Poly54

    return Poly54.POINTS


def _fmt_intervals(spans) -> str:
    return " ∪ ".join(f"({a:.6g}, {'∞' if math.isinf(b) else f'{b:.6g}'})" for a, b in spans) or "∅"


def figure(ctx, runs, J0, spans, key) -> None:
    from minimax_cli.metrics import tau_star

    plt = pyplot()
    fig, ax = plt.subplots(2, 3, figsize=(16, 9.5), dpi=100)
    for tau in K2[key]["tau"]:   # a 4-D game keeps no path: its distance to the DNE (1,1,1,1), logged
        run = runs.get(f"k2_tau{_tau_label(tau)}")
        if run is not None:
            rows = [r for r in run.history if "dist_to_eq" in r]
            ax[0, 0].semilogy([r["step"] for r in rows], [max(float(r["dist_to_eq"]), 1e-16) for r in rows], lw=1,
                              label=f"τ = {tau:g}")
    ax[0, 0].axhline(2.0, color="k", lw=0.8, ls=":", label="the origin's distance (2)")
    ax[0, 0].set(xlabel="iteration", ylabel="‖x − (1,1,1,1)‖", title="(a) K.2: distance to the DNE (1,1,1,1)")
    ax[0, 0].legend(fontsize=7)
    taus = np.linspace(0.01, 4, 400)
    lam = np.array([sorted(np.linalg.eigvals(tau_star.tau_jacobian(J0, 2, t)), key=lambda e: (e.real, e.imag))
                    for t in taus])
    for a, part, name in ((ax[0, 1], lam.real, "Re"), (ax[0, 2], lam.imag, "Im")):
        a.plot(taus, part, lw=1.2)
        a.axhline(0, color="k", lw=0.6)
        a.axvspan(0.5, 2.0, color="C2", alpha=0.15, label="stable: τ ∈ (½, 2)")
        a.set(xlabel="τ", ylabel=f"{name} spec J_τ(0)", title=f"({'b' if name == 'Re' else 'c'}) K.2: {name} of the "
              "eigenvalues at the origin")
        a.legend(fontsize=7)
    for tau in K3_TRAJ["tau"]:
        run = runs.get(f"k3_traj_tau{_tau_label(tau)}")
        if run is not None:
            p = _path(run)
            ax[1, 0].plot(p[:, 0], p[:, 1], lw=1, label=f"τ = {tau:g}")
    for tau in K3_ROA[key]["tau"]:
        run = runs.get(f"k3_roa_tau{_tau_label(tau)}")
        if run is not None:
            p = _path(run)
            ax[1, 1].plot(p[:, 0], p[:, 1], lw=1, label=f"τ = {tau:g}")
    for a, start in ((ax[1, 0], K3_TRAJ["start"]), (ax[1, 1], K3_ROA_START)):
        a.plot(*start, "r^")
        for px, py, label in _poly54_points()[:3]:
            a.plot([px], [py], "*", ms=11, mec="k", label=label)
        a.set(xlabel="x1", ylabel="x2")
        a.legend(fontsize=7)
    ax[1, 0].set_title("(d) K.3 (Fig. 6b): from (−9, −9)" + (" — full setting only" if ctx.quick else ""))
    ax[1, 1].set_title("(e) K.3 (Fig. 7b's example): from (−10, −2)")
    colors = {}
    for a_, b_, n in spans:
        c = colors.setdefault(n, f"C{len(colors)}")
        ax[1, 2].axvspan(a_ - 0.01, b_ + 0.01, color=c, alpha=0.5, label=n if n not in ax[1, 2].get_legend_handles_labels()[1] else None)
    ax[1, 2].set(xlabel="τ", yticks=[], title="(f) K.3: equilibrium reached from (−10, −2) against τ")
    ax[1, 2].legend(fontsize=7)
    save_figure(fig, ctx.out / "tau_poly.png")


REPRODUCTION = Reproduction(
    name="tau-poly", paper="Fiez & Ratliff 2021, App. K.2–K.3 (Figs. 5–7: τ-GDA on the polynomial games)",
    cost="full ~30 min (13 runs up to 75,000 steps, ~1–3 ms a step); quick ~45 s", variants=variants, analyze=analyze)
