"""Classification (seed 000 Props. 2–3), step-map Jacobians through the real algo.step, Newton."""

import numpy as np
import pytest
import torch

from minimax_cli.algos.gda import GDA
from minimax_cli.errors import ConfigError
from minimax_cli.games.dirac import DiracGAN
from minimax_cli.games.toy import G1, G2, G3, Quadratic
from minimax_cli.games.torus import Torus
from minimax_cli.metrics import spectrum
from tests.conftest import make_game

ZERO = torch.zeros(1)


def analyze_point(game, x=None, y=None):
    cp = game.equilibrium() if x is None else None
    x = cp.x if x is None else x
    y = cp.y if y is None else y
    return spectrum.classify(spectrum.game_jacobian(game, x, y), game.dim_x)


def test_g1_is_a_strict_local_minimax_but_not_nash():
    # g1 = −3x² − y² + 4xy: H_xx = −6, H_yy = −2, S = −6 − 4·(−½)·4 = 2
    c = analyze_point(make_game(G1))
    assert (c["class"], c["strict"], c["dse"], c["dne"]) == ("local_minimax", True, True, False)
    assert c["H_xx_eigs"] == pytest.approx([-6.0])
    assert c["H_yy_eigs"] == pytest.approx([-2.0])
    assert c["schur_eigs"] == pytest.approx([2.0])


def test_g2_is_neither():
    # g2 = 3x² + y² + 4xy: H_yy = 2 > 0 violates the necessary condition; S = 6 − 16/2 = −2
    c = analyze_point(make_game(G2))
    assert (c["class"], c["strict"], c["dse"], c["dne"]) == ("neither", None, False, False)
    assert c["H_yy_eigs"] == pytest.approx([2.0])
    assert c["schur_eigs"] == pytest.approx([-2.0])


def test_g3_origin_is_a_local_minimax():
    # g3 near 0: 4x² − (y − 3x)² + O(3): H_xx = 8 − 18 = −10, H_yy = −2, H_xy = 6, S = −10 + 36/2 = 8
    c = analyze_point(make_game(G3))
    assert c["class"] == "local_minimax" and c["strict"]
    assert c["schur_eigs"] == pytest.approx([8.0])


def test_strongly_convex_concave_game_is_a_strict_local_nash():
    A = [[2.0, 0.5], [0.5, 1.0]]
    C = [[-1.0, 0.2], [0.2, -3.0]]
    B = [[1.0, -2.0], [0.3, 1.0]]
    game = make_game(Quadratic, A=A, B=B, C=C)
    c = analyze_point(game)
    assert (c["class"], c["strict"], c["dne"], c["dse"]) == ("local_nash", True, True, True)
    np.testing.assert_allclose(c["H_xx_eigs"], np.linalg.eigvalsh(np.array(A)), rtol=1e-12)
    np.testing.assert_allclose(c["H_yy_eigs"], np.linalg.eigvalsh(np.array(C)), rtol=1e-12)
    S = np.array(A) - np.array(B) @ np.linalg.inv(np.array(C)) @ np.array(B).T
    np.testing.assert_allclose(c["schur_eigs"], np.linalg.eigvalsh(S), rtol=1e-12)


def test_non_strict_cases():
    # unregularized Dirac-GAN: H_xx = H_yy = 0, H_xy = ½: local Nash (paper), necessary conditions only
    c = analyze_point(make_game(DiracGAN, mu=0.0))
    assert (c["class"], c["strict"], c["dse"]) == ("local_nash", False, False)
    # f = −y²: H_xx = 0 and S = 0, so the second-order tests are inconclusive; necessary conditions hold
    game = make_game(Quadratic, A=[[0.0]], B=[[0.0]], C=[[-2.0]])
    c = analyze_point(game)
    assert c["class"] == "local_nash" and c["strict"] is False


def test_general_sum_uses_the_followers_own_hessian():
    # non-saturating Dirac-GAN: L_y = −ℓ(θω) + (μ/2)ω² has ∇²_yy L_y = μ, so H_yy := −μ
    c = analyze_point(make_game(DiracGAN, mu=0.7, objective="non_saturating"))
    assert c["H_yy_eigs"] == pytest.approx([-0.7])
    assert c["schur_eigs"] == pytest.approx([0.25 / 0.7])   # ℓ'(0)²/μ
    assert c["class"] == "local_minimax" and c["dse"]


@pytest.mark.parametrize("tau", [1.0, 3.5])
def test_gda_step_jacobian_is_identity_minus_eta_lambda_j(tau):
    A = np.array([[2.0, 0.5], [0.5, -1.0]])
    B = np.array([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0]])
    C = np.array([[-1.0, 0.2, 0.0], [0.2, -2.0, 0.1], [0.0, 0.1, -0.5]])
    game = make_game(Quadratic, A=A.tolist(), B=B.tolist(), C=C.tolist())
    eta = 0.03
    step = spectrum.step_jacobian(GDA(lr_x=eta, tau=tau), game, torch.zeros(2), torch.zeros(3))
    J = np.block([[A, B], [-B.T, -C]])          # ξ = (∇_x f, −∇_y f)
    expected = np.eye(5) - eta * np.diag([1, 1, tau, tau, tau]) @ J
    np.testing.assert_allclose(step["matrix"], expected, rtol=1e-13, atol=1e-15)
    assert step["layout"] == [["x", 2], ["y", 3]] and step["fixed_point_residual"] == 0.0


def test_momentum_is_analyzed_on_its_augmented_state():
    # heavy ball z' = z − ηΛξ(z) + β Δ,  Δ' = z' − z  =>  [[I − ηΛJ + ·, βI], [−ηΛJ, βI]] in (z, Δ)
    game = make_game(G1)
    eta, tau, beta = 0.05, 2.0, 0.4
    step = spectrum.step_jacobian(GDA(lr_x=eta, tau=tau, momentum=beta), game, ZERO, ZERO)
    assert [name for name, _ in step["layout"]] == ["x", "y", "px.delta", "py.delta"]
    J = np.array([[-6.0, 4.0], [-4.0, 2.0]])
    L = np.diag([1.0, tau])
    # state order: x, y, Δx, Δy
    M = np.zeros((4, 4))
    M[:2, :2] = np.eye(2) - eta * L @ J
    M[:2, 2:] = beta * np.eye(2)
    M[2:, :2] = -eta * L @ J
    M[2:, 2:] = beta * np.eye(2)
    np.testing.assert_allclose(step["matrix"], M, rtol=1e-13, atol=1e-15)


def test_adaptive_state_counters_are_static():
    game = make_game(G1)
    algo = GDA(lr_x=0.05, lr_y=0.05, precond="rmsprop")
    state = algo.init(torch.ones(1), torch.ones(1), None)
    names = [".".join(p) for p, _ in spectrum.dynamic_leaves(algo, state)]
    assert names == ["x", "y", "px.v", "py.v"]   # the counters px.t, py.t are bookkeeping
    with pytest.raises(ConfigError, match="not finite"):
        spectrum.step_jacobian(algo, game, ZERO, ZERO)   # √v is not differentiable at v = 0


def test_newton_finds_the_torus_critical_points():
    game = make_game(Torus)
    x, y, its, norm = spectrum.newton(game, torch.tensor([1.5]), torch.tensor([1.4]))
    assert norm < 1e-12 and its > 0
    assert float(x) == pytest.approx(1.6458668178716118, abs=1e-12)
    assert float(y) == pytest.approx(1.495725835718176, abs=1e-12)
    x, y, _, _ = spectrum.newton(game, torch.tensor([3.0]), torch.tensor([3.3]))
    assert (float(x), float(y)) == pytest.approx((np.pi, np.pi), abs=1e-12)


def test_newton_failure_is_one_line():
    game = make_game(Quadratic, A=[[1.0]], B=[[0.0]], C=[[0.0]])   # f = ½x²: a line of critical points
    x, y, _, norm = spectrum.newton(game, torch.tensor([2.0]), torch.tensor([5.0]))
    assert norm < 1e-12 and float(x) == pytest.approx(0.0) and float(y) == pytest.approx(5.0)
    with pytest.raises(ConfigError, match="did not reach a critical point"):
        spectrum.newton(make_game(Torus), torch.tensor([0.3]), torch.tensor([2.0]), max_iter=0)
