"""Fiez & Ratliff 2021, App. K.4 (Fig. 8): τ-GDA on the location game on the torus (``game=torus``, Eq. 55).

τ* from Theorem 1 is 0.74 at the DSE (0, 0) and 1.35 at the DSE (π, π) (checked against the guard
map); the other critical points are never stable for τ ≥ 1. Fig. 8a: trajectories from (2, −1) and
(1.9, −2.1) (both starts in one vectorized run per τ) with γ1 = 0.001, τ ∈ {1, 2, 5, 10} and the
authors' 200,000 iterations. Fig. 8b: regions of attraction, a 100 × 100 grid over [−π, π]² (one run
of 10,000 starts per τ), γ1 = 0.04, 20,000 iterations, converged = within 1e-4 of an equilibrium on the
torus, τ ∈ {1, 2, 4, 5, 10} (the text's "τ = 4" and the grid's 5).

The text says that from (2, −1) τ-GDA reaches (0, 0) for each τ ∈ {2, 5, 10} and from (1.9, −2.1) it
reaches (0, 0), (π, π), (π, π). Simulation gives the two starts the other way round: (2, −1) reaches
(0, 0), (π, π), (π, π), and (1.9, −2.1) heads to (0, 0) for every τ (for τ ≥ 5 along the slow ridge,
still 0.02 (τ = 5) and 0.2 (τ = 10) away after 200,000 iterations). The same holds with the
authors' alternating updates and at γ1 = 0.01, 0.02, 0.04 over the same horizon γ1·k = 200; the
claims are checked as they stand, with the printed assignment named in the table.

Updates are simultaneous (Eq. 2); angles are not wrapped (the game's docstring), endpoints are
compared on the torus. ``--quick``: τ ∈ {2, 5} with γ1 = 0.04 for 5,000 iterations (the same horizon
γ1·k = 200) and no region-of-attraction grid. Output: table.md, rows.json, tau_torus.png.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.engine import Claim, Reproduction, Variant
from minimax_cli.reproduce.outputs import markdown_table, write_outputs

STARTS = ((2.0, -1.0), (1.9, -2.1))
TRAJ = {"full": {"tau": (1, 2, 5, 10), "lr": 1e-3, "steps": 200_000},
        "quick": {"tau": (2, 5), "lr": 4e-2, "steps": 5_000}}
ROA = {"tau": (1, 2, 4, 5, 10), "lr": 4e-2, "steps": 20_000, "k": 100}     # full only
TOL = 1e-4           # the authors' region-of-attraction tolerance
TRAJ_TOL = 0.5       # a trajectory "heads to" the equilibrium it ends this near: within the horizon γ1·k = 200 the
                     # slow modes leave them 1e-3..0.2 away (at τ = 2 spec J_τ(0, 0) = {0.032, 1.42}; τ ≥ 5 creeps along the ridge)
EQUILIBRIA = {"(0, 0)": (0.0, 0.0), "(π, π)": (math.pi, math.pi)}
PRINTED = {(2.0, -1.0): {2: "(0, 0)", 5: "(0, 0)", 10: "(0, 0)"},
           (1.9, -2.1): {2: "(0, 0)", 5: "(π, π)", 10: "(π, π)"}}
RUN = ["game=torus", "algo=tgda", "tol=0", "plot=false", "tensorboard=false", "progress=false"]


def variants(quick: bool) -> list[Variant]:
    t = TRAJ["quick" if quick else "full"]
    starts = "[" + ",".join(f"[{x},{y}]" for x, y in STARTS) + "]"
    out = [Variant(f"traj_tau{tau:g}", [*RUN, f"algo.tau={tau}", f"algo.lr_x={t['lr']}", f"steps={t['steps']}",
                                        f"game.starts={starts}", f"log_every={t['steps'] // 100}"],
                   groups=("traj", f"tau{tau:g}")) for tau in t["tau"]]
    if not quick:
        out += [Variant(f"roa_tau{tau:g}", [*RUN, f"algo.tau={tau}", f"algo.lr_x={ROA['lr']}", f"steps={ROA['steps']}",
                                            f"game.starts={ROA['k'] ** 2}", "game.init=grid",
                                            f"game.init_radius={math.pi}", "game.x0=[0.0]", "game.y0=[0.0]",
                                            f"log_every={ROA['steps'] // 20}"],
                        groups=("roa", f"tau{tau:g}")) for tau in ROA["tau"]]
    return out


def wrap(a):
    return np.remainder(np.asarray(a) + math.pi, 2 * math.pi) - math.pi


def torus_distance(p, q) -> np.ndarray:
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    return np.sqrt((wrap(p[..., 0] - q[0]) ** 2 + wrap(p[..., 1] - q[1]) ** 2))


def classify(points: np.ndarray, tol: float = TOL) -> list[str]:
    out = []
    for p in points:
        hit = [name for name, q in EQUILIBRIA.items() if torus_distance(p, q) < tol]
        out.append(hit[0] if hit else "none")
    return out


@functools.lru_cache(maxsize=None)
def jacobian_at(x: float, y: float) -> np.ndarray:
    import torch

    from minimax_cli.games.torus import Torus
    from minimax_cli.metrics import spectrum

    game = Torus("torus")
    game.setup("cpu", torch.float64, 0)
    return spectrum.game_jacobian(game, torch.tensor([x], dtype=torch.float64), torch.tensor([y], dtype=torch.float64))


def _points():
    from minimax_cli.games.torus import Torus

    return Torus.POINTS


def _ends(run) -> np.ndarray:
    data = np.load(run.path / "trajectories.npz")
    return np.concatenate([data["x"], data["y"]], axis=1)


def analyze(ctx) -> int:
    from minimax_cli.metrics import tau_star

    key = "quick" if ctx.quick else "full"
    t = TRAJ[key]
    runs = {label: rs[0] for label, rs in ctx.result.by_label.items() if rs}
    claims = []
    for (px, py, label), printed in zip(_points()[:2], (0.74, 1.35)):
        J = jacobian_at(px, py)
        ts = tau_star.theorem1_tau_star(J, 1)
        roots = tau_star.guard_roots(J, 1) or []
        claims.append(Claim(f"τ* at {label} = {ts:.4f} (Theorem 1; largest guard root {max(roots, default=0):.4f}), "
                            f"the paper's {printed}", abs(ts - printed) < 5e-3 and abs(ts - max(roots, default=0)) < 1e-8))
    never = []
    for px, py, label in _points()[2:]:
        J = jacobian_at(px, py)
        never.append(all(not tau_star.is_stable(J, 1, x) for x in np.linspace(1.0, 50, 200)))
    claims.append(Claim("the other four critical points are unstable for every τ ≥ 1 (on a grid of τ ∈ [1, 50]; (π, 0) "
                        "is stable for τ < 1, which the paper's \"unstable for any τ\" misses)", all(never)))
    rows = []
    for tau in t["tau"]:
        run = runs.get(f"traj_tau{tau:g}")
        if run is None:
            claims.append(Claim(f"trajectories, τ = {tau:g}: run missing", None))
            continue
        ends = _ends(run)
        for start, end in zip(STARTS, ends):
            d = {name: float(torus_distance(end, q)) for name, q in EQUILIBRIA.items()}
            rows.append({"tau": tau, "start": list(start), "end": wrap(end).tolist(), "reaches": classify([end], TRAJ_TOL)[0],
                         "dist": d, "printed": PRINTED[start].get(tau, "no convergence")})
    by = {(r["tau"], tuple(r["start"])): r for r in rows}
    for (tau, start), r in sorted(by.items()):
        s = f"({start[0]:g}, {start[1]:g})"
        if tau == 1:
            claims.append(Claim(f"τ = 1 from {s}: τ-GDA does not converge (ends {r['dist']['(0, 0)']:.2f} from (0, 0))",
                                r["reaches"] == "none", scope="full"))
        else:
            want = "(π, π)" if start == (2.0, -1.0) and tau > 2 else "(0, 0)"
            claims.append(Claim(f"τ = {tau:g} from {s}: heads to {want} (ends {r['dist'][want]:.1e} from it); the text "
                                f"prints {r['printed']}", r["reaches"] == want))
    roa = []
    if not ctx.quick:
        for tau in ROA["tau"]:
            run = runs.get(f"roa_tau{tau:g}")
            if run is None:
                claims.append(Claim(f"regions of attraction, τ = {tau:g}: run missing", None))
                continue
            names = classify(_ends(run))
            roa.append({"tau": tau, **{n: names.count(n) / len(names) for n in (*EQUILIBRIA, "none")}})
        share = {r["tau"]: r for r in roa}
        if {1, 2, 4, 10} <= set(share):
            corners = 4 / ROA["k"] ** 2      # the grid's corners are (π, π) itself, a fixed point
            claims.append(Claim("τ = 1: only (0, 0) attracts and most starts do not converge "
                                f"({share[1]['none']:.1%} unconverged; at (π, π) only the grid's 4 corners, "
                                f"{share[1]['(π, π)']:.2%})", share[1]["(π, π)"] <= corners and share[1]["none"] > 0.5))
            claims.append(Claim("τ ∈ {2, 4, 5, 10}: τ-GDA converges to an equilibrium from every grid start "
                                f"(unconverged: {', '.join(format(share[x]['none'], '.1%') for x in (2, 4, 5, 10) if x in share)})",
                                all(share[x]["none"] == 0 for x in (2, 4, 5, 10) if x in share)))
            z = {x: share[x]["(0, 0)"] for x in share}
            claims.append(Claim("the region of attraction of (0, 0) grows from τ = 1 to τ = 2 and τ = 4, then shrinks at "
                                f"τ = 10 ({', '.join(f'τ = {x:g}: {v:.1%}' for x, v in sorted(z.items()))})",
                                z[1] < z[4] and z[1] < z[2] and z[10] < z[4] and z[10] < z[2]))
    tables = [(f"Fig. 8a: endpoints (γ1 = {t['lr']:g}, {t['steps']:,} iterations)", markdown_table(
        ["τ", "start", "end (wrapped)", "heads to (≤ 0.5)", "distance to (0, 0)", "to (π, π)", "the text prints"],
        [[f"{r['tau']:g}", f"({r['start'][0]:g}, {r['start'][1]:g})", f"({r['end'][0]:.3f}, {r['end'][1]:.3f})", r["reaches"],
          f"{r['dist']['(0, 0)']:.1e}", f"{r['dist']['(π, π)']:.1e}", r["printed"]] for r in rows]))]
    if roa:
        tables.append((f"Fig. 8b: share of a {ROA['k']}×{ROA['k']} grid over [−π, π]² reaching each equilibrium "
                       f"(γ1 = {ROA['lr']:g}, {ROA['steps']:,} iterations)",
                       markdown_table(["τ", "(0, 0)", "(π, π)", "none"],
                              [[f"{r['tau']:g}", f"{r['(0, 0)']:.1%}", f"{r['(π, π)']:.1%}", f"{r['none']:.1%}"] for r in roa])))
    figure(ctx, runs, t, roa)
    setting = (f"game=torus, τ-GDA (simultaneous), starts (2, −1) and (1.9, −2.1), γ1 = {t['lr']:g}, {t['steps']:,} "
               f"iterations, τ ∈ {{{', '.join(f'{x:g}' for x in t['tau'])}}}"
               + ("" if ctx.quick else f"; regions of attraction at τ ∈ {{{', '.join(f'{x:g}' for x in ROA['tau'])}}}") + ".")
    notes = ("The text's endpoint assignment for the two starts is swapped relative to simulation (this module's "
             "docstring); the claims check the assignment the dynamics give. The text's \"region of attraction around "
             "(1.9, −2.1)\" is read as that of (0, 0), which the trajectories from (1.9, −2.1) reach.")
    return write_outputs(ctx.out, "Fiez & Ratliff 2021, App. K.4: τ-GDA on the torus", setting, tables, claims,
                         ctx.quick, notes, {"rows": rows, "roa": roa})


def figure(ctx, runs, t, roa) -> None:
    plt = pyplot()
    taus = t["tau"]
    maps = [(tau, runs[f"roa_tau{tau:g}"]) for tau in ROA["tau"] if f"roa_tau{tau:g}" in runs] if roa else []
    cols = max(len(taus) + (1 if roa else 0), len(maps))
    fig, ax = plt.subplots(2 if maps else 1, cols, figsize=(5 * cols, 10 if maps else 5), dpi=100, squeeze=False)
    for a in ax.flat:
        a.set_visible(False)
    for j, (tau, run) in enumerate(maps):   # Fig. 8b: the equilibrium each grid start reaches
        a = ax[1, j]
        a.set_visible(True)
        names = classify(_ends(run))
        code = np.array([{"(0, 0)": 0, "(π, π)": 1}.get(n, 2) for n in names], dtype=float)
        k = ROA["k"]
        grid = code.reshape(k, k).T       # cartesian_prod: x1 varies slowest; rows of the image are x2
        from matplotlib.colors import ListedColormap

        a.imshow(grid, origin="lower", extent=(-math.pi, math.pi, -math.pi, math.pi),
                 cmap=ListedColormap(["tab:green", "tab:blue", "lightgray"]), vmin=-0.5, vmax=2.5)
        a.set(xlabel="x1", ylabel="x2", title=f"(b) τ = {tau:g}: green (0, 0), blue (π, π), grey none")
    g = np.linspace(-math.pi, math.pi, 25)
    X, Y = np.meshgrid(g, g)
    for j, tau in enumerate(taus):
        a = ax[0, j]
        a.set_visible(True)
        u = -(0.15 * np.sin(X) - np.sin(X - Y))          # −D1 f
        v = tau * (np.sin(X - Y) - 0.15 * np.sin(Y))     # τ D2 f
        a.streamplot(X, Y, u, v, color="0.6", density=0.9, linewidth=0.7)
        run = runs.get(f"traj_tau{tau:g}")
        if run is not None:
            paths = np.load(run.path / "trajectories.npz")["trajectory"]
            for i, start in enumerate(STARTS):
                p = wrap(paths[:, i, :])
                jumps = np.where(np.abs(np.diff(p, axis=0)).max(axis=1) > math.pi)[0] + 1
                for k, seg in enumerate(np.split(p, jumps)):
                    a.plot(seg[:, 0], seg[:, 1], color=f"C{i}", lw=1.2, label=f"from ({start[0]:g}, {start[1]:g})" if k == 0 else None)
                a.plot(*start, "^", color=f"C{i}")
        for name, (qx, qy) in EQUILIBRIA.items():
            for sx in (-1, 1) if qx else (1,):
                a.plot(sx * qx, sx * qy, "*", color="gold", ms=12, mec="k")
        a.set(xlim=(-math.pi, math.pi), ylim=(-math.pi, math.pi), xlabel="x1", ylabel="x2", title=f"(a) τ = {tau:g}")
        a.legend(fontsize=7, loc="lower left")
    if roa:
        a = ax[0, len(taus)]
        a.set_visible(True)
        xs = [r["tau"] for r in roa]
        for k, name in enumerate((*EQUILIBRIA, "none")):
            a.plot(xs, [r[name] for r in roa], "o-", label=name)
        a.set(xlabel="τ", ylabel="share of the grid", title="(b) regions of attraction", xscale="log")
        a.legend(fontsize=7)
    save_figure(fig, ctx.out / "tau_torus.png")


REPRODUCTION = Reproduction(
    name="tau-torus", paper="Fiez & Ratliff 2021, App. K.4 (Fig. 8: τ-GDA on the torus)",
    cost="full ~15 min (4 runs × 200,000 steps, 5 region-of-attraction runs of 10,000 starts × 20,000 steps); quick ~45 s",
    variants=variants, analyze=analyze)
