"""Seed 004 on bilinear games U = θᵀCω: theorem step sizes and bounds hold for their update rules.

The update rules are simulated here directly (NOTES-004 §2 and §8) with numpy; the same statements
for the project's algorithms (algo=gda/ogda/pm/iu/co) are in test_bilinear_algorithms.py.
"""

import math

import numpy as np
import pytest
import torch

from minimax_cli.games.toy import Bilinear
from minimax_cli.metrics import bilinear_bounds
from tests.conftest import make_game


def random_C(seed, p):
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(p, p))


def maps(C, eta, gamma=1.0):
    """One step of each method on z = (θ, ω), as matrices (NOTES-004 §8)."""
    p = C.shape[0]
    I, O = np.eye(p), np.zeros((p, p))
    Z = np.block([[O, C], [-C.T, O]])          # (∇_θU, −∇_ωU) = Z z
    sga = np.eye(2 * p) - eta * Z
    pm = np.block([[I - eta * gamma * C @ C.T, -eta * C], [eta * C.T, I - eta * gamma * C.T @ C]])
    iu = np.linalg.inv(np.eye(2 * p) + eta * Z)  # [[I, ηC], [−ηCᵀ, I]] z_{t+1} = z_t
    omd = np.block([[np.eye(2 * p) - 2 * eta * Z, eta * Z], [np.eye(2 * p), np.zeros((2 * p, 2 * p))]])
    return {"SGA": sga, "PM": pm, "IU": iu, "OMD": omd}


def worst_case_distance(C, name, T, r, gamma=1.0):
    """sup ‖z_T‖ over starts with ‖z_0‖ ≤ r (and OMD's ‖z_1‖ ≤ r): an operator-norm bound."""
    eta = bilinear_bounds.step_sizes(C, gamma)[name]
    M = maps(C, eta, gamma)[name]
    if name != "OMD":
        return r * np.linalg.norm(np.linalg.matrix_power(M, T), 2)
    n = 2 * C.shape[0]
    K = np.linalg.matrix_power(M, T - 1)       # (z_T, z_{T−1}) = K (z_1, z_0)
    return r * (np.linalg.norm(K[:n, :n], 2) + np.linalg.norm(K[:n, n:], 2))


def test_figure1_game_constants_match_the_notes():
    # NOTES-004 §9: p = q = 5, C_ij ~ U[0,1] (numpy seed 0), γ = 1, r = 0.5, ε = 1e-6
    game = make_game(Bilinear, C="random", dim=5, C_seed=0, start_radius=0.5)
    C = game.B.numpy()
    np.testing.assert_array_equal(C, random_C(0, 5))
    lmin, lmax = bilinear_bounds.interaction_spectrum(C)
    assert (round(lmin, 4), round(lmax, 3), round(lmax / lmin, 1)) == (0.0540, 7.026, 130.1)
    T = bilinear_bounds.iteration_bounds(C, r=0.5, eps=1e-6, gamma=1.0)
    assert (T["OMD"], T["PM"], T["IU"], T["CO"], T["SGA"]) == (30919, 507312, 5829, 507312, None)
    x0, y0 = game.initial_points()
    assert float(torch.cat([x0, y0], -1).norm()) == pytest.approx(0.5)


def test_step_sizes_and_bounds_closed_forms():
    C = np.diag([1.0, 2.0])                       # λ(CCᵀ) = {1, 4}
    eta = bilinear_bounds.step_sizes(C, gamma=2.0)
    assert eta["OMD"] == pytest.approx(1 / (2 * math.sqrt(8)))
    assert eta["PM"] == eta["CO"] == pytest.approx(2 * 1 / (4 * 16 + 4))
    assert eta["IU"] == pytest.approx(0.5)
    T = bilinear_bounds.iteration_bounds(C, r=1.0, eps=1e-3, gamma=2.0)
    assert T["OMD"] == math.ceil(16 * 4 * math.log(4 * math.sqrt(2) * 1e3))
    assert T["PM"] == T["CO"] == math.ceil(2 * (4 * 16 + 4) / (4 * 1) * math.log(1e3))
    assert T["IU"] == math.ceil((2 + math.sqrt(2)) * 4 * math.log(1e3))
    assert bilinear_bounds.iteration_bounds(C, r=1e-4, eps=1e-3)["IU"] == 0   # already inside


@pytest.mark.parametrize("seed, p", [(1, 2), (2, 3), (3, 3), (4, 5), (0, 5)])
def test_every_theorem_bound_holds_for_its_update_rule(seed, p):
    C = random_C(seed, p)
    r, eps = 0.5, 1e-6
    T = bilinear_bounds.iteration_bounds(C, r, eps, gamma=1.0)
    for name in ("OMD", "PM", "IU"):
        assert worst_case_distance(C, name, T[name], r) <= eps, name
    # the bounds are not vacuous: the worst start is still outside the ε-ball well before T
    for name in ("PM", "IU"):
        assert worst_case_distance(C, name, max(T[name] // 20, 1), r) > eps, name


@pytest.mark.parametrize("eta", [1e-3, 0.1, 1.0])
def test_sga_diverges_for_every_step_size(eta):
    C = random_C(5, 4)
    growth = bilinear_bounds.sga_growth(C, eta)
    assert growth > 1
    M = maps(C, eta)["SGA"]
    z = np.random.default_rng(0).normal(size=(8, 16))   # 16 starts
    start = np.linalg.norm(z, axis=0)
    for _ in range(100):
        nxt = M @ z
        assert np.all(np.sum(nxt**2, 0) >= growth * np.sum(z**2, 0) * (1 - 1e-12))
        z = nxt
    assert np.all(np.linalg.norm(z, axis=0) >= start * growth**50 * (1 - 1e-9))


def test_pm_and_co_coincide():
    """PM's two-stage rule (Eq. 7) and CO's gradient of R = ½‖∇U‖² (Eqs. 8–9), by autodiff."""
    C = torch.tensor(random_C(6, 3))
    gamma = 0.7
    eta = bilinear_bounds.step_sizes(C.numpy(), gamma)["PM"] * 50   # any η: the maps are identical

    def U(theta, omega):
        return theta @ C @ omega

    def R(theta, omega):
        gt, go = torch.func.grad(U, argnums=(0, 1))(theta, omega)
        return 0.5 * (gt @ gt + go @ go)

    grad_U = torch.func.grad(U, argnums=(0, 1))
    grad_R = torch.func.grad(R, argnums=(0, 1))
    gen = torch.Generator().manual_seed(0)
    th_pm, om_pm = torch.randn(3, generator=gen, dtype=torch.float64), torch.randn(3, generator=gen, dtype=torch.float64)
    th_co, om_co = th_pm.clone(), om_pm.clone()
    for _ in range(60):
        gt, go = grad_U(th_pm, om_pm)
        th_half, om_half = th_pm - gamma * gt, om_pm + gamma * go
        gt, go = grad_U(th_half, om_half)
        th_pm, om_pm = th_pm - eta * gt, om_pm + eta * go
        gt, go = grad_U(th_co, om_co)
        rt, ro = grad_R(th_co, om_co)
        th_co, om_co = th_co - eta * (gt + gamma * rt), om_co + eta * (go - gamma * ro)
    torch.testing.assert_close(th_pm, th_co, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(om_pm, om_co, rtol=1e-12, atol=1e-14)
