"""Askari Hemmat et al. 2023, §7.1 / Fig. 3 (after Lorraine et al. 2022): the cooperative–adversarial quadratic game
(Eq. 31)

    min_x max_y  xᵀ(γA)y + xᵀ((I − γ)B₁)x − yᵀ((I − γ)B₂)y,     γ = diag(γ_i),  γ_i ~ U[0, γ_max],

and the spectral radius of each method's step map at the equilibrium, every method tuned to optimality,
as γ_max goes from 0 (purely cooperative: both players minimize a convex quadratic) to 1 (a mixture
with purely adversarial directions).

The paper gives no dimension, matrices or grid; its public code (toy_quad.py) uses n = 7 directions with
A = diag(a), B₁ = B₂ = diag(b)/2, a = b = linspace(1/4, 4, 7), γ_0 = 0, γ_6 = γ_max and the others drawn
U[0, γ_max] by numpy's legacy generator with seed 0: here the same. Direction i has the field Jacobian
eigenvalues (1 − γ_i)b_i ± iγ_i a_i.

Methods (each built from its conf/algo yaml, hyper-parameters tuned): GDA (η), EG (η and its look-ahead
step), OG = OGDA (η), PM = simultaneous heavy ball with β ∈ [0, 1) (algo=gda algo.momentum), NM = the same with
β ∈ (−1, 0] (as the public code's Fig. 3: complex momentum with arg β = π), CM = complex momentum
(algo=cm: η, |β|, arg β), LEAD (Eq. 12: η, α, β). Tuning: a grid, then Nelder–Mead from its best point,
on the spectral radius of the tool's step map (metrics/spectrum.py, what `minimax analyze` reports); at
each tuned point the radius is checked against the method's closed form (characteristic polynomials
per eigenvalue m of the field Jacobian). Two runs (`minimax train`) at γ_max = 1, LEAD and CM at their
tuned points, check that the iterates contract at the tuned ρ.

Output: table.md (ρ per method and γ_max, the tuned hyper-parameters), rows.json, lead_games.png (ρ vs
γ_max, one curve per method). ``--quick``: γ_max ∈ {0, 1} (the two ends the claims are about), coarse tuning.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.engine import Claim, Reproduction, Variant
from minimax_cli.reproduce.lead_quadratic import algo_class, fitted_rate
from minimax_cli.reproduce.outputs import write_outputs

N = 7
SCALE = np.linspace(0.25, 4.0, N)          # a = b (the public code's diagonal)
KAPPA = SCALE.max() / SCALE.min()          # condition number of the cooperative game (γ_max = 0)
FULL = {"gammas": tuple(np.round(np.linspace(0.0, 1.0, 11), 10)), "grid": 7, "fev": 300, "starts": 3, "tol": 2e-3}
QUICK = {"gammas": (0.0, 1.0), "grid": 4, "fev": 60, "starts": 1, "tol": 2e-2}
PI = math.pi
# name: (label, conf overrides, {hyper-parameter: (low, high)})
METHODS = {
    "gda": ("GDA", ["algo=gda"], {"lr_x": (0.01, 2.0)}),
    "eg": ("EG", ["algo=eg"], {"lr_x": (0.01, 2.0), "lookahead": (0.0, 1.0)}),
    "ogda": ("OG", ["algo=ogda"], {"lr_x": (0.01, 1.0)}),
    "pm": ("PM (β ≥ 0)", ["algo=gda"], {"lr_x": (0.01, 2.0), "momentum": (0.0, 0.99)}),
    "nm": ("NM (β ≤ 0)", ["algo=gda"], {"lr_x": (0.01, 2.0), "momentum": (-0.99, 0.0)}),
    "cm": ("CM", ["algo=cm"], {"lr_x": (0.01, 2.0), "beta_abs": (0.0, 0.99), "beta_arg": (0.0, PI)}),
    "lead": ("LEAD", ["algo=lead"], {"lr_x": (0.01, 2.0), "alpha": (-0.5, 1.0), "momentum": (-0.99, 0.99)}),
}
RUNS = ("lead", "cm")    # run at γ_max = 1 with their tuned hyper-parameters
EPS = 1e-6


def gammas_of(gamma_max: float) -> np.ndarray:
    """γ_0 = 0, γ_{n−1} = γ_max, the others U[0, γ_max] (numpy's legacy generator, seed 0, as the public code)."""
    g = np.random.RandomState(0).uniform(0.0, gamma_max, N)
    g[0], g[-1] = 0.0, gamma_max
    return g


def game_overrides(gamma_max: float) -> list[str]:
    """Eq. 31 as the quadratic game ½xᵀPx + xᵀQy + ½yᵀRy: P = 2(I − γ)B₁, Q = γA, R = −2(I − γ)B₂."""
    g = gammas_of(gamma_max)
    coop, adv = np.diag((1 - g) * SCALE), np.diag(g * SCALE)
    return ["game=quadratic", f"game.name=coop_adv_{gamma_max:g}", f"game.A={coop.tolist()}", f"game.B={adv.tolist()}",
            f"game.C={(-coop + 0.0).tolist()}"]


def field_eigs(gamma_max: float) -> np.ndarray:
    """Eigenvalues m of the field Jacobian: (1 − γ_i)b_i ± iγ_i a_i."""
    g = gammas_of(gamma_max)
    c, s = (1 - g) * SCALE, g * SCALE
    return np.concatenate([c + 1j * s, c - 1j * s])


# -- closed forms ---------------------------------------------------------------------------------------------
def _max_root(coeffs) -> float:
    return float(np.abs(np.roots(coeffs)).max())


def closed_rho(name: str, gamma_max: float, p: dict) -> float:
    """ρ from each method's characteristic polynomial per eigenvalue m = c ± is of the field Jacobian."""
    eta, out = p["lr_x"], 0.0
    g = gammas_of(gamma_max)
    for c, s in zip((1 - g) * SCALE, g * SCALE):
        for m, lam in ((c + 1j * s, 1j * s), (c - 1j * s, -1j * s)):
            if name == "gda":
                r = abs(1 - eta * m)
            elif name == "eg":            # z⁺ = z − ηξ(z − γξ(z))
                r = abs(1 - eta * m + eta * p["lookahead"] * m * m)
            elif name == "ogda":          # z⁺ = z − 2ηξ(z) + ηξ(z_prev)
                r = _max_root([1, -(1 - 2 * eta * m), -eta * m])
            elif name in ("pm", "nm"):    # z⁺ = z − ηξ(z) + β(z − z_prev)
                r = _max_root([1, -(1 + p["momentum"] - eta * m), p["momentum"]])
            elif name == "cm":            # Lorraine et al. 2022: x³ − (1 + 2Re β − ηm)x² + (|β|² + 2Re β − η Re β m)x − |β|²
                br, b2 = p["beta_abs"] * math.cos(p["beta_arg"]), p["beta_abs"] ** 2
                r = _max_root([1, -(1 + 2 * br - eta * m), b2 + 2 * br - eta * br * m, -b2])
            elif name == "lead":          # Askari Hemmat et al. 2023, Theorem 2 with h = c, λ = ±is
                a, beta = p["alpha"], p["momentum"]
                r = _max_root([1, -(1 - (eta + a) * lam + beta - eta * c), beta - a * lam])
            else:
                raise KeyError(name)
            out = max(out, r)
    return out


# -- the tool's step maps and the tuning ---------------------------------------------------------------------
class StepMaps:
    """ρ of each method's real step map at (0, 0) of the game with this γ_max."""

    def __init__(self, gamma_max: float):
        import torch

        from minimax_cli.build import build
        from minimax_cli.config import compose

        self.torch = torch
        self.game = build(compose(game_overrides(gamma_max)).game, "game")
        self.game.setup("cpu", torch.float64, 0)
        self.kinds = {name: algo_class(compose(overrides).algo) for name, (_, overrides, _) in METHODS.items()}

    def rho(self, name: str, params: dict) -> float:
        from minimax_cli.metrics import spectrum

        cls, spec = self.kinds[name]
        algo = cls(**{**spec, **params, "lr_y": params["lr_x"]})     # both players at η (τ = 1)
        zero = self.torch.zeros(N, dtype=self.torch.float64)
        return float(np.abs(spectrum.eigs(spectrum.step_jacobian(algo, self.game, zero, zero)["matrix"])).max())


def tune(maps: StepMaps, name: str, settings: dict) -> tuple[float, dict]:
    """The smallest ρ over the method's hyper-parameters: the best point of a grid, then Nelder–Mead."""
    from scipy.optimize import minimize

    bounds = METHODS[name][2]
    keys = list(bounds)

    def params(v) -> dict:
        return {k: float(min(max(x, bounds[k][0]), bounds[k][1])) for k, x in zip(keys, v)}

    def objective(v) -> float:
        return maps.rho(name, params(v))

    # step sizes on a log grid (the adversarial directions need small ones), the others evenly inside their range
    axes = [np.geomspace(lo, hi, settings["grid"]) if k == "lr_x" else np.linspace(lo, hi, settings["grid"] + 2)[1:-1]
            for k, (lo, hi) in bounds.items()]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(keys))
    values = np.array([objective(v) for v in grid])
    best_v, best_rho = None, math.inf
    for start in grid[np.argsort(values)[:settings["starts"]]]:     # Nelder–Mead from the best grid points
        found = minimize(objective, start, method="Nelder-Mead", bounds=list(bounds.values()),
                         options={"maxfev": settings["fev"], "xatol": 1e-7, "fatol": 1e-12})
        if found.fun < best_rho:
            best_v, best_rho = found.x, found.fun
    best = params(best_v)
    return maps.rho(name, best), best


def study(settings: dict) -> dict:
    out = {}
    for gamma_max in settings["gammas"]:
        maps = StepMaps(gamma_max)
        for name in METHODS:
            rho, best = tune(maps, name, settings)
            out[(gamma_max, name)] = {"gamma_max": gamma_max, "method": name, "rho": rho, "params": best,
                                      "rho_closed": closed_rho(name, gamma_max, best)}
    return out


@functools.lru_cache(maxsize=None)
def study_of(quick: bool) -> dict:
    """The tuned radii of a setting, computed once per process (the variants and the analysis read them)."""
    return study(QUICK if quick else FULL)


# -- runs at the adversarial end --------------------------------------------------------------------------------
def variants(quick: bool) -> list[Variant]:
    spec = study_of(quick)
    out = []
    for name in RUNS:
        s = spec[(1.0, name)]
        steps = min(max(3 * math.ceil(math.log(EPS / math.sqrt(2 * N)) / math.log(s["rho"])), 200), 20_000) \
            if s["rho"] < 1 else 300
        params = [f"algo.{k}={v!r}" for k, v in s["params"].items()]
        out.append(Variant(name, [*game_overrides(1.0), *METHODS[name][1], *params, "algo.tau=1.0", f"steps={steps}",
                                  "converge_on=dist_to_eq", f"tol={EPS}", "log_every=1", "hardware.threads=1",
                                  "tensorboard=false", "plot=false", "progress=false"]))
    return out


# -- claims, table, figure ----------------------------------------------------------------------------------------
def check_claims(spec: dict, settings: dict, rates: dict) -> tuple[list[Claim], list[str]]:
    gammas, names = settings["gammas"], list(METHODS)
    rho = {k: v["rho"] for k, v in spec.items()}
    tol = settings["tol"]        # how close the tuning gets to a known optimum (coarse with --quick)
    claims, notes = [], []
    worst = max(abs(v["rho"] - v["rho_closed"]) for v in spec.values())
    claims.append(Claim(f"every tuned radius (the tool's step maps) equals its method's closed form at the tuned point "
                        f"(max |difference| {worst:.1e})", worst < 1e-10))
    polyak, gda_opt = (math.sqrt(KAPPA) - 1) / (math.sqrt(KAPPA) + 1), (KAPPA - 1) / (KAPPA + 1)
    c0 = {n: rho[(0.0, n)] for n in names}
    claims.append(Claim(f"γ_max = 0 (cooperative, κ = {KAPPA:g}): tuned PM reaches Polyak's optimum (√κ − 1)/(√κ + 1) = "
                        f"{polyak:.4f} ({c0['pm']:.4f}) and tuned GDA (κ − 1)/(κ + 1) = {gda_opt:.4f} ({c0['gda']:.4f})",
                        abs(c0["pm"] - polyak) < tol and abs(c0["gda"] - gda_opt) < tol))
    others = min(c0[n] for n in names if n not in ("lead", "pm", "cm"))
    claims.append(Claim(f"γ_max = 0: LEAD and PM perform best (LEAD {c0['lead']:.4f}, PM {c0['pm']:.4f}, CM "
                        f"{c0['cm']:.4f} — the coupling vanishes, so LEAD is heavy ball, and CM with arg β = 0 is too — "
                        f"against GDA, EG, OG, NM ≥ {others:.4f})",
                        abs(c0["lead"] - c0["pm"]) < tol and max(c0["lead"], c0["pm"]) < others))
    c1 = {n: rho[(1.0, n)] for n in names}
    claims.append(Claim(f"γ_max = 1: NM, GDA and PM do not converge (ρ = {c1['nm']:.4f}, {c1['gda']:.4f}, "
                        f"{c1['pm']:.4f} ≥ 1: the γ = 1 direction is a pure rotation), LEAD, EG, OG and CM do "
                        f"(ρ = {c1['lead']:.4f}, {c1['eg']:.4f}, {c1['ogda']:.4f}, {c1['cm']:.4f})",
                        min(c1["nm"], c1["gda"], c1["pm"]) >= 1 - 1e-9 and max(c1[n] for n in ("lead", "eg", "ogda", "cm")) < 1))
    lead_best = [g for g in gammas if rho[(g, "lead")] <= min(rho[(g, n)] for n in names) + tol]
    game_specific = max(min(rho[(g, n)] for n in ("eg", "ogda", "cm")) for g in gammas if g > 0)
    claims.append(Claim(f"LEAD converges at every γ_max (worst ρ {max(rho[(g, 'lead')] for g in gammas):.4f}) and is the "
                        f"fastest tuned method (within {tol:g}) at γ_max ∈ {{{', '.join(f'{g:g}' for g in lead_best)}}}",
                        all(rho[(g, "lead")] < 1 for g in gammas)))
    notes.append("\"In more adversarial settings LEAD performs on par with the game-specific methods\": at γ_max > 0 the "
                 "best of EG, OG and CM reaches at worst ρ = " + f"{game_specific:.4f}; LEAD's ρ there: " +
                 ", ".join(f"γ_max {g:g}: LEAD {rho[(g, 'lead')]:.4f} / best of EG, OG, CM "
                           f"{min(rho[(g, n)] for n in ('eg', 'ogda', 'cm')):.4f}" for g in gammas if g > 0) + ".")
    for name in RUNS:
        rate, r = rates.get(name), rho[(1.0, name)]
        claims.append(Claim(f"{METHODS[name][0]} at γ_max = 1 in a run (`minimax train` at its tuned point): fitted "
                            f"contraction {rate if rate is None else round(rate, 5)} per step = its ρ {r:.5f} (within 1%)",
                            None if rate is None else abs(rate - r) <= 0.01 * r))
    return claims, notes


def table(spec: dict, settings: dict) -> str:
    names = list(METHODS)
    lines = ["| γ_max | " + " | ".join(METHODS[n][0] for n in names) + " |", "|---:|" + "---:|" * len(names)]
    for g in settings["gammas"]:
        lines.append(f"| {g:g} | " + " | ".join(f"{spec[(g, n)]['rho']:.4f}" for n in names) + " |")
    lines += ["", "Tuned hyper-parameters (η = lr_x = lr_y):", "", "| γ_max | method | ρ | at |", "|---:|---|---:|---|"]
    for g in settings["gammas"]:
        for n in names:
            s = spec[(g, n)]
            lines.append(f"| {g:g} | {METHODS[n][0]} | {s['rho']:.5f} | "
                         + ", ".join(f"{k} = {v:.4g}" for k, v in s["params"].items()) + " |")
    return "\n".join(lines)


def figure(spec: dict, settings: dict, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2), dpi=100)
    gammas = settings["gammas"]
    for i, name in enumerate(METHODS):
        ax.plot(gammas, [spec[(g, name)]["rho"] for g in gammas], marker="o", ms=3, color=f"C{i}", label=METHODS[name][0])
    ax.axhline(1, color="k", lw=0.8)
    ax.set(xlabel="max adversarialness γ_max", ylabel="spectral radius ρ (tuned)", ylim=(0.5, 1.1),
           title="Eq. 31: cooperative (γ_max = 0) to adversarial (γ_max = 1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def analyze(ctx) -> int:
    settings, spec = QUICK if ctx.quick else FULL, study_of(ctx.quick)
    rates = {}
    for name in RUNS:
        runs = ctx.result.by_label.get(name) or []
        rates[name] = fitted_rate(runs[0]) if runs else None
    claims, notes = check_claims(spec, settings, rates)
    fig = figure(spec, settings, ctx.out / "lead_games.png")
    setting = (f"n = {N} directions, a = b = linspace(1/4, 4, {N}), γ_max ∈ {{{', '.join(f'{g:g}' for g in settings['gammas'])}}}; "
               f"tuning: a {settings['grid']}-point grid per hyper-parameter, then Nelder–Mead ({settings['fev']} evaluations "
               f"at most, from the {settings['starts']} best grid points), on the tool's step-map spectral radius. Figure: {fig.name}.")
    notes = "\n".join(f"* {n}" for n in notes + [
        "The paper gives no matrices, dimension or grid; the game here is its public code's (toy_quad.py). That code "
        "computes LEAD's radius from a matrix whose ω_{t−1} block is −βI + α∇v + αD_qP, not Eq. 52's −βI + αD_qP "
        "(an extra α∇v ω_{t−1}); this study uses Eq. 12 (algo=lead). It also tunes OG's past-gradient weight apart "
        "from η and divides EG's exponent by its two gradients; here OG is the standard OGDA and every ρ is per step.",
        "NM is simultaneous heavy ball with β < 0, as the public code draws it (complex momentum with arg β = π); "
        "Gidel et al. 2019's alternating negative momentum (algo=gda_nm) is another method."])
    extra = {"rows": [{"gamma_max": v["gamma_max"], "method": v["method"], "rho": v["rho"], "rho_closed": v["rho_closed"],
                       "params": v["params"]} for v in spec.values()], "rates": rates}
    return write_outputs(ctx.out, "Askari Hemmat et al. 2023, Fig. 3: spectral radius vs γ_max on the game of Eq. 31",
                         setting, [("Tuned spectral radius per method", table(spec, settings))], claims, ctx.quick,
                         notes=notes, extra=extra)


REPRODUCTION = Reproduction(
    name="lead-games", paper="Askari Hemmat et al. 2023, Fig. 3 / Eq. 31 (cooperative–adversarial game, tuned radii)",
    cost="full ~15 min (11 γ_max × 7 methods tuned); quick ~1 min", variants=variants, analyze=analyze)
