"""Known behaviour of the GDA family on the paper games and on quadratic games."""

import numpy as np
import pytest
import torch

from minimax_cli.algos.gda import GDA
from minimax_cli.games.toy import G1, G2, G3, Bilinear, Quadratic
from minimax_cli.runner import CONVERGED, DIVERGED, LoopSettings, Runner
from minimax_cli.runlog import RunLog
from tests.conftest import load_metrics, make_game


def run(game, algo, steps=3000, **kw):
    kw.setdefault("log_every", 50)
    return Runner(game, algo, LoopSettings(steps=steps, tol=kw.pop("tol", 1e-8), progress=False, **kw)).run()


def test_gda_converges_to_the_non_minimax_point_of_g2():
    """Wang et al. 2020, Example A: GDA's Jacobian at (0,0) has eigenvalue 1 - 2η (double), so it converges
    to (0,0) although H_yy = 2 > 0 makes it no local minimax."""
    result = run(make_game(G2), GDA(lr_x=0.05, lr_y=0.05))
    assert result.status == "converged"
    assert result.metrics["dist_to_eq"] < 1e-6


def test_gda_diverges_on_g1_and_keeps_its_metrics(tmp_path):
    """Wang et al. 2020, Example B: both eigenvalues of GDA's Jacobian exceed 1; the run stops diverged."""
    log = RunLog(tmp_path, tensorboard=False)
    result = run(make_game(G1), GDA(lr_x=0.05, lr_y=0.05), log=log, log_every=10)
    log.close()
    assert result.status == "diverged"
    assert 10 < result.step < 3000
    rows = load_metrics(tmp_path)
    assert rows[0]["step"] == 0 and rows[-1]["step"] == result.step
    assert all(np.isfinite(r["dist_to_eq"]) for r in rows)
    assert rows[-1]["dist_to_eq"] > 1e5  # frozen at the last finite iterate, far out


def test_gda_jacobian_on_g1_has_eigenvalues_outside_the_unit_circle():
    eta = 0.05
    J = np.eye(2) - eta * np.array([[-6.0, 4.0], [-4.0, 2.0]])  # I - η [[H_xx, H_xy], [-H_yx, -H_yy]]
    assert np.all(np.abs(np.linalg.eigvals(J)) > 1)


def test_gda_cycles_on_g3():
    """Wang et al. 2020, Fig. 3(c): GDA enters a limit cycle around the local minimax of g3."""
    result = run(make_game(G3), GDA(lr_x=0.05, lr_y=0.05), steps=1500)
    assert result.status == "finished"
    assert 0.5 < result.metrics["dist_to_eq"] < 5


def test_gda_spirals_out_on_a_bilinear_game():
    result = run(make_game(Bilinear, C=[[1.0]]), GDA(lr_x=0.1, lr_y=0.1), steps=200)
    start = float(np.hypot(1.0, 1.0))
    assert result.metrics["dist_to_eq"] > start * (1 + 0.1**2) ** (199 / 2)


# τ-GDA on f = -x² + 2xy - ½y² (Fiez & Ratliff 2021, App. J, eq. 50 with ε = 1), written as the quadratic game
# A = -2, B = 2, C = -1. Its continuous-time Jacobian J_τ = [[A, B], [-τBᵀ, -τC]] = [[-2, 2], [-2τ, τ]]
# has trace τ - 2 and determinant 2τ: Hurwitz-stable exactly when τ > τ* = 2.
TAU_GAME = dict(A=[[-2.0]], B=[[2.0]], C=[[-1.0]], x0=[1.0], y0=[0.5])
TAU_STAR = 2.0


def jacobian_tau(tau):
    return np.array([[-2.0, 2.0], [-2.0 * tau, tau]])


def test_tau_star_is_where_the_jacobian_becomes_stable():
    taus = np.linspace(0.05, 6, 1200)
    stable = [np.all(np.linalg.eigvals(jacobian_tau(t)).real > 0) for t in taus]
    crossing = taus[np.argmax(stable)]
    assert crossing == pytest.approx(TAU_STAR, abs=0.01)
    assert all(stable[int(np.argmax(stable)):])


@pytest.mark.parametrize("tau, expected", [(1.0, "diverged"), (1.8, "diverged"), (3.0, "converged"), (6.0, "converged")])
def test_tau_gda_converges_exactly_above_tau_star(tau, expected):
    game = make_game(Quadratic, **TAU_GAME)
    lr = 0.05
    result = run(game, GDA(lr_x=lr, tau=tau), steps=5000, tol=1e-7, log_every=1000, diverge_norm=1e4)
    # the discrete map I - lr·J_τ agrees with the continuous-time verdict at this step size
    rho = max(abs(np.linalg.eigvals(np.eye(2) - lr * jacobian_tau(tau))))
    assert (rho < 1) == (expected == "converged")
    assert result.status == expected


def test_tau_gda_on_seed003_example1_four_dimensional():
    """Fiez & Ratliff 2021, Example 1 (v = 4): x* = 0 is a DSE with τ* = 2; τ-GDA fails at τ = 1, works at τ = 4."""
    v = 4.0
    game = dict(A=[[-v, 0], [0, v / 2]], B=[[-v, 0], [0, v / 2]], C=[[-v / 2, 0], [0, -v]],
                x0=[5.0, 4.0], y0=[3.0, 2.0])
    fail = run(make_game(Quadratic, **game), GDA(lr_x=0.02, tau=1.0), steps=5000, log_every=1000)
    ok = run(make_game(Quadratic, **game), GDA(lr_x=0.02, tau=4.0), steps=5000, log_every=1000, tol=1e-6)
    assert fail.status == "diverged"
    assert ok.status == "converged"


def test_many_starts_report_fractions():
    game = make_game(G2, starts=64, init_radius=3.0)
    result = run(game, GDA(lr_x=0.05, lr_y=0.05), steps=3000)
    assert result.n_starts == 64
    assert result.status == "converged"
    assert result.fractions()["fraction_converged"] == 1.0
    assert "dist_to_eq/max" in result.metrics
    assert (result.start_status == CONVERGED).all()


def test_mixed_outcomes_freeze_diverged_starts_at_a_finite_point():
    """Some starts of g1 diverge and some sit exactly at the equilibrium: status 'finished', with fractions."""
    game = make_game(G1, starts=[[0.0, 0.0], [5.0, 7.0], [0.0, 0.0]])
    result = run(game, GDA(lr_x=0.05, lr_y=0.05), steps=500)
    assert result.status == "finished"
    assert result.start_status.tolist() == [CONVERGED, DIVERGED, CONVERGED]
    assert torch.isfinite(result.state["x"]).all() and torch.isfinite(result.state["y"]).all()
    assert result.fractions() == {"fraction_converged": 2 / 3, "fraction_diverged": 1 / 3}


def test_ema_of_the_leader_is_kept_per_start_and_used_for_evaluation():
    game = make_game(G3, starts=[[7.0, 5.0], [1.0, 1.0]])
    seen = []
    game.extra_metrics = lambda x, y, step: seen.append(x.clone()) or {}
    beta = 0.8
    result = run(game, GDA(lr_x=0.01, lr_y=0.01), steps=30, log_every=30, ema_beta=beta, tol=0.0)
    xs = result.trajectory[:, :, 0]                     # the plotted leader path, every step
    ema = xs[0].clone()
    for t in range(1, 31):
        ema = beta * ema + (1 - beta) * xs[t]
    torch.testing.assert_close(result.ema[:, 0], ema)
    torch.testing.assert_close(seen[-1][:, 0], ema)     # extra metrics saw the EMA, not the iterate
