"""CG on the normal equations, the Levenberg–Marquardt damping rule and the BB estimate."""

import numpy as np
import pytest
import torch

from minimax_cli import linalg
from minimax_cli.algos.ridge import FollowTheRidge
from minimax_cli.games.toy import G3, Quadratic
from minimax_cli.oracle import Oracle
from tests.conftest import make_game


def random_spd(k, seed, cond=50.0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(k, k)))
    return q @ np.diag(np.geomspace(1.0, cond, k)) @ q.T


@pytest.mark.parametrize("k", [1, 3, 8])
def test_cg_with_k_equal_to_the_dimension_solves_exactly(k):
    M = random_spd(k, seed=k)
    b = np.random.default_rng(100 + k).normal(size=k)
    z = linalg.cg(lambda v: torch.tensor(M) @ v, torch.tensor(b), iters=k)
    np.testing.assert_allclose(z.numpy(), np.linalg.solve(M, b), rtol=1e-8, atol=1e-10)


def test_cg_with_fewer_steps_is_not_exact_but_reduces_the_residual():
    M, b = random_spd(8, seed=3, cond=1e3), np.ones(8)
    errors = [np.linalg.norm(M @ linalg.cg(lambda v: torch.tensor(M) @ v, torch.tensor(b), iters=k).numpy() - b)
              for k in (1, 3, 6)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_cg_normal_equations_handle_an_indefinite_hessian():
    """(H² + λI) z = H b is well posed for indefinite H; with λ = 0 it gives H⁻¹b."""
    H = np.diag([3.0, -2.0, 0.5]) + 0.1
    b = np.array([1.0, -1.0, 2.0])
    hvp = lambda v: torch.tensor(H) @ v  # noqa: E731
    z0 = linalg.cg_normal(hvp, torch.tensor(b), iters=3, damping=0.0)
    np.testing.assert_allclose(z0.numpy(), np.linalg.solve(H, b), rtol=1e-8)
    z1 = linalg.cg_normal(hvp, torch.tensor(b), iters=3, damping=0.7)
    np.testing.assert_allclose(z1.numpy(), np.linalg.solve(H @ H + 0.7 * np.eye(3), H @ b), rtol=1e-8)


@pytest.mark.parametrize("iters, damping", [(1, 0.0), (1, 1.0), (3, 0.3), (8, 0.0)])
def test_cg_normal_returns_g_z_from_its_own_products(iters, damping):
    """with_product: the same z, and G z accumulated from CG's inner products G p equals G applied
    to z, with one HVP fewer than computing it (2k + 1 products in all)."""
    rng = np.random.default_rng(iters)
    A = rng.normal(size=(6, 6))
    H = torch.tensor(A + A.T)                       # symmetric, indefinite
    b = torch.tensor(rng.normal(size=6))
    calls = []

    def hvp(v):
        calls.append(1)
        return H @ v

    z_plain = linalg.cg_normal(hvp, b, iters, damping)
    calls.clear()
    z, gz = linalg.cg_normal(hvp, b, iters, damping, with_product=True)
    assert len(calls) == 2 * iters + 1
    torch.testing.assert_close(z, z_plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(gz, H @ z, rtol=1e-10, atol=1e-12)


def test_cg_early_stop_is_masked_and_stays_finite():
    z = linalg.cg(lambda v: 2.0 * v, torch.tensor([1.0, 2.0]), iters=20, tol=1e-20)
    np.testing.assert_allclose(z.numpy(), [0.5, 1.0])
    assert torch.isfinite(linalg.cg(lambda v: 0 * v, torch.zeros(3), iters=5)).all()


@pytest.mark.parametrize("rho, factor", [(-0.5, 2.0), (0.0, 2.0), (0.2, 1.1), (0.5, 1.1), (0.7, 1.0), (0.95, 1.0), (0.96, 0.9), (1.0, 0.9)])
def test_damping_rule_follows_the_seed000_table(rho, factor):
    """App. D.4: ×1.1 if 0 < ρ ≤ 0.5, ×0.9 if ρ > 0.95, ×2 if ρ ≤ 0, unchanged otherwise."""
    lam = linalg.lm_damping(torch.tensor(0.4), torch.tensor(rho))
    assert float(lam) == pytest.approx(0.4 * factor)


def test_damping_is_clamped():
    assert float(linalg.lm_damping(torch.tensor(1e-8), torch.tensor(1.0), low=1e-8)) == pytest.approx(1e-8)
    assert float(linalg.lm_damping(torch.tensor(1.0), torch.tensor(-1.0), high=1.5)) == pytest.approx(1.5)


def test_reduction_ratio_is_one_for_an_exact_quadratic_model():
    """ρ = 1 in the quadratic case (App. D.4): the model g(x+, y + z) ≈ g(x+, y) + G z is exact, so the
    ratio is 1 whatever the damping, and λ is lowered by 0.9."""
    game = make_game(Quadratic, A=[[1.0, 0.2], [0.2, 2.0]], B=[[1.0, 0.5], [-0.3, 1.0]], C=[[-2.0, 0.3], [0.3, -1.0]])
    algo = FollowTheRidge("fr", lr_x=0.1, lr_y=0.1, mixed="fd",
                          solver={"kind": "cg", "iters": 2, "damping": 1e-3, "adaptive": True, "tol": 0.0})
    oracle = Oracle(game)
    state = algo.init(torch.tensor([1.0, -1.0]), torch.tensor([0.5, 2.0]), oracle)
    new, info = algo.step(state, oracle)
    assert float(info["rho"]) == pytest.approx(1.0, abs=1e-6)
    assert float(new["damping"]) == pytest.approx(0.9e-3)


def test_a_bad_model_drops_the_correction_and_doubles_the_damping():
    """On g3 a large leader step from (0.5, 0.5) leaves the region where the quadratic model of the
    follower's gradient holds: ρ ≤ 0 must zero the ridge correction and double λ."""
    game = make_game(G3)
    algo = FollowTheRidge("fr", lr_x=0.5, lr_y=0.0, mixed="fd",
                          solver={"kind": "cg", "iters": 1, "damping": 1e-3, "adaptive": True})
    oracle = Oracle(game)
    state = algo.init(torch.tensor([0.5]), torch.tensor([0.5]), oracle)
    new, info = algo.step(state, oracle)
    assert float(info["rho"]) <= 0
    assert float(new["damping"]) == pytest.approx(2e-3)
    assert float(info["ridge_norm"]) == 0.0
    torch.testing.assert_close(new["y"], state["y"])   # lr_y = 0 and no correction


def test_bb_inverse_of_a_scalar_quadratic_is_exact_and_safeguarded():
    # g = c·y  ⇒  ⟨Δg, Δy⟩/‖Δg‖² = 1/c
    s = linalg.bb_inverse(torch.tensor([4.0 * 0.3]), torch.tensor([0.3]))
    assert float(s) == pytest.approx(0.25)
    assert float(linalg.bb_inverse(torch.zeros(2), torch.zeros(2), default=0.0)) == 0.0        # first step
    assert float(linalg.bb_inverse(torch.tensor([-1.0]), torch.tensor([1.0]))) == 0.0          # negative curvature
    assert float(linalg.bb_inverse(torch.tensor([1e-3]), torch.tensor([1.0]), upper=10.0)) == 10.0


def test_solve_gives_nan_where_singular_and_the_lu_solution_elsewhere():
    """The 1×1 shortcut (a division) equals LU's answer, and both make a singular start NaN."""
    A1 = torch.tensor([[[2.0]], [[0.0]], [[-0.5]]], dtype=torch.float64)
    b1 = torch.tensor([[3.0], [1.0], [2.0]], dtype=torch.float64)
    z1 = torch.func.vmap(linalg.solve)(A1, b1)
    assert torch.equal(z1[[0, 2]], torch.linalg.solve(A1[[0, 2]], b1[[0, 2]]))
    assert torch.isnan(z1[1]).all()
    A2 = torch.tensor([[[2.0, 1.0], [1.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]]], dtype=torch.float64)
    b2 = torch.tensor([[1.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    z2 = torch.func.vmap(linalg.solve)(A2, b2)
    torch.testing.assert_close(z2[0], torch.linalg.solve(A2[0], b2[0]))
    assert torch.isnan(z2[1]).all()
