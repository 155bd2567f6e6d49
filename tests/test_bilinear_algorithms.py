"""Liang & Stokes 2019 Theorems 3–6 with the project's REAL algorithms: on random bilinear games
U = θᵀCω every theorem bound holds for its algorithm at the theorem step size, simultaneous gradient
ascent (Liang & Stokes 2019's "SGA" = algo=gda) diverges, and PM ≡ CO step by step.

The algorithms are built from conf/algo/*.yaml exactly as `minimax train` builds them (compose +
build) and run by the project's Runner over many starts at distance r; test_bilinear_bounds.py
checks the same statements on numpy matrices of the update rules.
"""

import math

import numpy as np
import pytest
import torch
from torch.func import vmap

from minimax_cli.build import build
from minimax_cli.config import compose
from minimax_cli.metrics import bilinear_bounds
from minimax_cli.oracle import Oracle
from minimax_cli.runner import CONVERGED, DIVERGED, LoopSettings, Runner

R, EPS, GAMMA = 0.5, 1e-6, 1.0
# (name, overrides of the algorithm): the step size is added from the theorem
ALGOS = {
    "OMD": ["algo=ogda"],
    "PM": ["algo=pm", f"algo.lookahead={GAMMA}"],
    "IU": ["algo=iu", "algo.inner_steps=1"],
    "CO": ["algo=co", "algo.penalty=half_squared_norm", f"algo.gamma={GAMMA}"],
}


def uniform_C(seed, p):
    """C_ij ~ U[0, 1] (Liang & Stokes 2019, Fig. 1's distribution)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(p, p))


def rotated_C(seed, p, low=1.0, high=1.6):
    """A random C = Q1 diag(s) Q2ᵀ with random orthogonal Q1, Q2 and singular values s in [low, high]."""
    rng = np.random.default_rng(seed)
    q1, _ = np.linalg.qr(rng.normal(size=(p, p)))
    q2, _ = np.linalg.qr(rng.normal(size=(p, p)))
    return q1 @ np.diag(rng.uniform(low, high, size=p)) @ q2.T


def starts_on_sphere(seed, p, n=8):
    """n starts at distance r from (0, 0) in random directions."""
    z = np.random.default_rng(1000 + seed).normal(size=(n, 2 * p))
    return R * z / np.linalg.norm(z, axis=1, keepdims=True)


def game_and_algo(C, starts, algo_overrides, eta):
    text = lambda rows: "[" + ",".join("[" + ",".join(repr(float(v)) for v in r) + "]" for r in rows) + "]"  # noqa: E731
    cfg = compose(["game=bilinear", f"game.C={text(C)}", f"game.starts={text(starts)}", *algo_overrides,
                   f"algo.lr_x={eta!r}", "algo.tau=1.0"])
    game, algo = build(cfg.game, "game"), build(cfg.algo, "algo")
    game.setup("cpu", torch.float64, 0)
    return game, algo


# U[0, 1] games are badly conditioned from p = 3 on (T_PM ≥ 2000 at the best of 200 seeds): p = 2 there, rotated
# games with a bounded spectrum for p = 3..5
GAMES = [("uniform", 178, 2), ("uniform", 43, 2), ("rotated", 2, 3), ("rotated", 0, 4), ("rotated", 1, 5)]


@pytest.mark.parametrize("kind, seed, p", GAMES)
def test_every_theorem_bound_holds_for_the_real_algorithm(kind, seed, p):
    C = uniform_C(seed, p) if kind == "uniform" else rotated_C(seed, p)
    starts = starts_on_sphere(seed, p)
    etas = bilinear_bounds.step_sizes(C, GAMMA)
    bounds = bilinear_bounds.iteration_bounds(C, R, EPS, GAMMA)
    # OMD also assumes ‖z1‖ ≤ r: our OGDA's z1 = z0 − ηξ(z0) lies at most √(1 + η²λ_max) r away
    _, lmax = bilinear_bounds.interaction_spectrum(C)
    bounds["OMD"] = bilinear_bounds.iteration_bounds(C, R * math.sqrt(1 + etas["OMD"] ** 2 * lmax), EPS, GAMMA)["OMD"]
    first = {}
    for name, overrides in ALGOS.items():
        game, algo = game_and_algo(C, starts, overrides, etas[name])
        T = bounds[name]
        result = Runner(game, algo, LoopSettings(steps=T + 1, log_every=T + 1, tol=EPS, converge_on="dist_to_eq",
                        progress=False)).run()
        assert bool((result.start_status == CONVERGED).all()), f"{name}: not every start reached ε by T = {T}"
        first[name] = result.stop_step
        worst = int(result.stop_step.max())
        assert worst <= T, (name, worst, T)
        assert worst > T / 20, (name, worst, T)                    # the runs did real work: the bound is not vacuous
        z = torch.cat([result.state["x"], result.state["y"]], 1)
        assert float(z.norm(dim=1).max()) < EPS
        if name == "IU":                                          # one Newton step is exact on θᵀCω
            assert result.metrics["algo/residual"] < 1e-12
    # CO coincides with PM (Thm 6): the same first iteration under ε for every start
    assert torch.equal(first["PM"], first["CO"])


def _trajectory(game, algo, steps):
    runner = Runner(game, algo, LoopSettings(steps=1, log_every=1, tol=0.0, progress=False))
    state = runner.init_state()
    step = vmap(lambda s: algo.step(s, Oracle(game, None)))
    out = [torch.cat([state["x"], state["y"]], 1)]
    infos = []
    for _ in range(steps):
        state, info = step(state)
        out.append(torch.cat([state["x"], state["y"]], 1))
        infos.append(info)
    return torch.stack(out), infos


@pytest.mark.parametrize("eta_scale", [1.0, 40.0])
def test_pm_and_co_coincide_step_by_step(eta_scale):
    """Liang & Stokes 2019, Thm 6 with the real algo=pm and algo=co (penalty half_squared_norm), at the theorem η
    and at a larger one (the two maps are the same linear map for every η)."""
    C = uniform_C(7, 4)
    starts = starts_on_sphere(7, 4)
    eta = eta_scale * bilinear_bounds.step_sizes(C, GAMMA)["PM"]
    pm, _ = _trajectory(*game_and_algo(C, starts, ALGOS["PM"], eta), steps=200)
    co, _ = _trajectory(*game_and_algo(C, starts, ALGOS["CO"], eta), steps=200)
    torch.testing.assert_close(pm, co, rtol=1e-12, atol=1e-15)
    assert float((pm[0] - pm[-1]).abs().max()) > 1e-3              # they moved


@pytest.mark.parametrize("eta", [0.01, 0.1, 1.0])
def test_simultaneous_gradient_ascent_diverges_for_every_step_size(eta):
    """Liang & Stokes 2019, §3: ‖z_{t+1}‖² ≥ (1 + η²λ_min(CCᵀ)) ‖z_t‖² for algo=gda on θᵀCω, from every
    start."""
    C = uniform_C(5, 4)
    starts = starts_on_sphere(5, 4, n=6)
    growth = bilinear_bounds.sga_growth(C, eta)
    game, algo = game_and_algo(C, starts, ["algo=gda"], eta)
    path, _ = _trajectory(game, algo, steps=60)
    sq = path.pow(2).sum(-1)                                       # (steps + 1, starts)
    assert bool((sq[1:] >= growth * sq[:-1] * (1 - 1e-12)).all())
    if eta < 0.1:
        return                                                    # (slow to leave the ball at small η)
    # and the runner reports it as divergence
    result = Runner(game, algo, LoopSettings(steps=200_000, log_every=200_000, tol=EPS, converge_on="dist_to_eq",
                    diverge_norm=1e3, progress=False)).run()
    assert result.status == "diverged" and bool((result.start_status == DIVERGED).all())
