"""Each algorithm against its paper's equation, written here in the papers' own notation with numpy
(zero-sum f = ½xᵀAx + xᵀBy + ½yᵀCy: ∇_x f = Ax + By, ∇_y f = Bᵀx + Cy, H_xx = A, H_xy = B,
H_yx = Bᵀ, H_yy = C), independent of the two-loss convention the implementation uses."""

import numpy as np
import pytest
import torch

from minimax_cli.algos.cgd import ACGD, CGD
from minimax_cli.algos.consensus import SGA, ConsensusOptimization
from minimax_cli.algos.extra_adam import ExtraAdam
from minimax_cli.algos.extragradient import OGDA, Extrapolation
from minimax_cli.algos.gda import GDA
from minimax_cli.algos.implicit import ImplicitUpdate
from minimax_cli.algos.lead import LEAD
from minimax_cli.algos.ridge import FollowTheRidge
from minimax_cli.games.toy import G3, GeneralQuadratic, Quadratic
from minimax_cli.oracle import CostMeter, Oracle
from tests.conftest import make_game
from tests.quadratic_case import A, B, C, X0, Y0, m, n, quadratic_game, run_steps
from tests.quadratic_case import grad_x as gx
from tests.quadratic_case import grad_y as gy


def xi(z):  # the game vector field [∇_x f; −∇_y f]
    x, y = z[:n], z[n:]
    return np.concatenate([gx(x, y), -gy(x, y)])


J = np.block([[A, B], [-B.T, -C]])  # Jacobian of ξ
Z0 = np.concatenate([X0, Y0])


@pytest.fixture
def game():
    return quadratic_game()


def run(algo, game, steps, x0=X0, y0=Y0):
    return np.concatenate(run_steps(algo, game, steps, x0, y0))


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- first-order methods --------------------------------------------------------------------------
def test_ogda_two_steps(game):
    eta = 0.1
    z1 = Z0 - 2 * eta * xi(Z0) + eta * xi(Z0)   # ξ(z_{−1}) = ξ(z_0)
    z2 = z1 - 2 * eta * xi(z1) + eta * xi(Z0)
    close(run(OGDA("ogda", lr_x=eta, lr_y=eta), game, 2), z2)


def test_extragradient(game):
    eta = 0.1
    close(run(Extrapolation("eg", lr_x=eta, lr_y=eta), game, 1), Z0 - eta * xi(Z0 - eta * xi(Z0)))


def test_predictive_method(game):
    eta, gamma = 0.05, 0.7
    algo = Extrapolation("pm", lr_x=eta, lr_y=eta, lookahead=gamma)
    close(run(algo, game, 1), Z0 - eta * xi(Z0 - gamma * xi(Z0)))


def test_sga_is_seed000_formula(game):
    eta, lam = 0.1, 0.8
    M = np.block([[np.eye(n), -lam * B], [lam * B.T, np.eye(m)]])  # [[I, −λH_xy], [λH_yx, I]]
    close(run(SGA("sga", lr_x=eta, lr_y=eta, lam=lam), game, 1), Z0 - eta * M @ xi(Z0))


@pytest.mark.parametrize("penalty, factor", [("squared_norm", 2.0), ("half_squared_norm", 1.0)])
def test_consensus_optimization(game, penalty, factor):
    eta, gamma = 0.1, 0.3
    grad_sq = 2 * J.T @ xi(Z0)                    # ∇‖ξ‖²
    expected = {
        "squared_norm": Z0 - eta * xi(Z0) - gamma * eta * grad_sq,             # Wang et al. 2020, App. D.1
        "half_squared_norm": Z0 - eta * (xi(Z0) + gamma * 0.5 * grad_sq),     # Liang & Stokes 2019, Eq. 9, R = ½‖ξ‖²
    }[penalty]
    close(run(ConsensusOptimization("co", lr_x=eta, lr_y=eta, gamma=gamma, penalty=penalty), game, 1), expected)


@pytest.mark.parametrize("inner", ["newton", "fixed_point"])
def test_implicit_update_solves_the_implicit_equation(game, inner):
    """z+ = z − Λξ(z+): for this affine ξ, (I + ΛJ) z+ = z."""
    lam = np.array([0.1] * n + [0.3] * m)
    expected = np.linalg.solve(np.eye(n + m) + lam[:, None] * J, Z0)
    steps = 1 if inner == "newton" else 200
    algo = ImplicitUpdate("iu", lr_x=0.1, lr_y=0.3, inner=inner, inner_steps=steps, inner_tol=0.0)
    close(run(algo, game, 1), expected)


# -- the ridge family ----------------------------------------------------------------------------
def fr_step(z, eta_x, eta_y, eta_y2=0.0):
    x, y = z[:n], z[n:]
    Ci = np.linalg.inv(C)
    x1 = x - eta_x * gx(x, y)
    y1 = y + eta_y * gy(x, y) - eta_y2 * Ci @ gy(x, y) + eta_x * Ci @ B.T @ gx(x, y)
    return np.concatenate([x1, y1])


def test_follow_the_ridge_alg1(game):
    close(run(FollowTheRidge("fr", lr_x=0.1, lr_y=0.2), game, 1), fr_step(Z0, 0.1, 0.2))


def test_hessianfr_alg31(game):
    algo = FollowTheRidge("hfr", lr_x=0.1, lr_y=0.2, lr_y2=0.3)
    close(run(algo, game, 1), fr_step(Z0, 0.1, 0.2, 0.3))


def test_hessianfr_with_finite_difference_matches_exact_on_a_quadratic(game):
    algo = FollowTheRidge("hfr", lr_x=0.1, lr_y=0.2, lr_y2=0.3, mixed="fd", fd_alpha=1e-3)
    close(run(algo, game, 1), fr_step(Z0, 0.1, 0.2, 0.3))


def test_gdn_is_a_newton_step_at_the_new_leader(game):
    """Gao et al. 2022, §3.1.2: x+ = x − η∇_x f, y+ = y − H_yy⁻¹ ∇_y f(x+, y)."""
    algo = FollowTheRidge("gdn", lr_x=0.1, lr_y=0.0, lr_y2=1.0, mixed="fd", hessian_at="updated")
    x1 = X0 - 0.1 * gx(X0, Y0)
    y1 = Y0 - np.linalg.solve(C, gy(x1, Y0))
    close(run(algo, game, 1), np.concatenate([x1, y1]))


def test_hessianfr_0_1_is_gdn_on_quadratic_games(game):
    hfr = FollowTheRidge("hfr", lr_x=0.1, lr_y=0.0, lr_y2=1.0)            # exact products at (x_t, y_t)
    gdn = FollowTheRidge("gdn", lr_x=0.1, lr_y=0.0, lr_y2=1.0, mixed="fd", hessian_at="updated")
    close(run(hfr, game, 3), run(gdn, game, 3))


def test_fr_with_eq9_momentum(game):
    """Wang et al. 2020, Eq. 9: momentum and preconditioning before the correction."""
    ex, ey, g = 0.1, 0.2, 0.6
    Ci = np.linalg.inv(C)
    x, y, mx, my = X0, Y0, np.zeros(n), np.zeros(m)
    for _ in range(3):
        ux, uy = ex * gx(x, y) + g * mx, -ey * gy(x, y) + g * my
        mx, my = g * mx + ex * gx(x, y), g * my - ey * gy(x, y)
        x, y = x - ux, y + Ci @ B.T @ ux - uy
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=ey, momentum=g, momentum_form="eq9")
    close(run(algo, game, 3), np.concatenate([x, y]))


def test_fr_with_eq3_momentum(game):
    """Wang et al. 2020, Eq. 3: heavy ball on the whole displacement, correction on the gradient step."""
    ex, ey, g = 0.1, 0.2, 0.6
    Ci = np.linalg.inv(C)
    xs, ys = [X0, X0], [Y0, Y0]
    for _ in range(3):
        x, y = xs[-1], ys[-1]
        xs.append(x - ex * gx(x, y) + g * (x - xs[-2]))
        ys.append(y + ey * gy(x, y) + ex * Ci @ B.T @ gx(x, y) + g * (y - ys[-2]))
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=ey, momentum=g, momentum_form="eq3")
    close(run(algo, game, 3), np.concatenate([xs[-1], ys[-1]]))


def test_preconditioned_fr_uses_the_preconditioned_leader_step(game):
    """Eq. 2/7 with RMSprop: the correction follows Δx = −η_x P_x ∇_x f."""
    ex, ey, b2, eps = 0.1, 0.2, 0.9, 1e-8
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=ey, precond={"kind": "rmsprop", "beta2": b2, "eps": eps})
    g_x, g_y = gx(X0, Y0), -gy(X0, Y0)        # each player's own-loss gradient
    px = g_x / (np.sqrt(g_x**2) + eps)        # one RMSprop step with bias correction: v̂ = g²
    py = g_y / (np.sqrt(g_y**2) + eps)
    x1 = X0 - ex * px
    y1 = Y0 - ey * py + np.linalg.inv(C) @ B.T @ (ex * px)
    close(run(algo, game, 1), np.concatenate([x1, y1]))


def test_fr_with_cg_solves_the_damped_normal_equations(game):
    lam, ex = 0.3, 0.1
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=0.2, solver={"kind": "cg", "iters": m, "damping": lam, "tol": 0.0})
    x1 = X0 - ex * gx(X0, Y0)
    correction = np.linalg.solve(C @ C + lam * np.eye(m), C @ (ex * B.T @ gx(X0, Y0)))
    close(run(algo, game, 1), np.concatenate([x1, Y0 + 0.2 * gy(X0, Y0) + correction]))


@pytest.mark.parametrize("reuse", [True, False])
def test_fr_with_the_barzilai_borwein_diagonal(game, reuse):
    """Gao et al. 2022, Eq. 3.33: H_yy⁻¹ ≈ ⟨Δ∇_y f, Δy⟩ / ‖Δ∇_y f‖² at the current x; first step: no
    correction."""
    ex, ey = 0.1, 0.2
    algo = FollowTheRidge("frdg", lr_x=ex, lr_y=ey, mixed="fd", solver={"kind": "diag", "diag_reuse": reuse})
    x1, y1 = X0 - ex * gx(X0, Y0), Y0 + ey * gy(X0, Y0)
    dg, dy = gy(x1, y1) - gy(x1, Y0), y1 - Y0
    s = dg @ dy / (dg @ dg)
    x2 = x1 - ex * gx(x1, y1)
    y2 = y1 + ey * gy(x1, y1) + ex * s * B.T @ gx(x1, y1)
    close(run(algo, game, 2), np.concatenate([x2, y2]))


def test_fr_jacobian_eigenvalues_are_real(game):
    """Wang et al. 2020, §4: the step map's Jacobian at (0,0) has eigenvalues
    eig(I + η_y H_yy) ∪ eig(I − η_x (H_xx − H_xy H_yy⁻¹ H_yx)), all real."""
    ex, ey = 0.1, 0.25
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=ey)
    oracle = Oracle(game)

    def step_map(z):
        state = algo.init(z[:n], z[n:], oracle)
        new, _ = algo.step(state, oracle)
        return torch.cat([new["x"], new["y"]])

    Jstep = torch.func.jacrev(step_map)(torch.zeros(n + m, dtype=torch.float64)).numpy()
    eig = np.linalg.eigvals(Jstep)
    schur = A - B @ np.linalg.inv(C) @ B.T
    expected = np.concatenate([np.linalg.eigvalsh(np.eye(m) + ey * C), np.linalg.eigvalsh(np.eye(n) - ex * schur)])
    assert np.abs(eig.imag).max() < 1e-12
    np.testing.assert_allclose(np.sort(eig.real), np.sort(expected), rtol=1e-10)


def test_hessianfr_jacobian_is_eq_3_5(game):
    """Gao et al. 2022, Eq. 3.5: J = I − η_x [[I, 0], [−H_yy⁻¹H_yx, −c1 I + c2 H_yy⁻¹]] ∇²f at (0,0)."""
    ex, ey1, ey2 = 0.1, 0.2, 0.15
    c1, c2 = ey1 / ex, ey2 / ex
    algo = FollowTheRidge("hfr", lr_x=ex, lr_y=ey1, lr_y2=ey2)
    oracle = Oracle(game)

    def step_map(z):
        new, _ = algo.step(algo.init(z[:n], z[n:], oracle), oracle)
        return torch.cat([new["x"], new["y"]])

    Jstep = torch.func.jacrev(step_map)(torch.zeros(n + m, dtype=torch.float64)).numpy()
    Ci = np.linalg.inv(C)
    P = np.block([[np.eye(n), np.zeros((n, m))], [-Ci @ B.T, -c1 * np.eye(m) + c2 * Ci]])
    H = np.block([[A, B], [B.T, C]])
    close(Jstep, np.eye(n + m) - ex * P @ H)


def test_hessianfr_without_newton_term_is_fr_step_for_step():
    game = make_game(G3)
    fr = FollowTheRidge("fr", lr_x=0.05, lr_y=0.05)
    hfr = FollowTheRidge("hessianfr", lr_x=0.05, lr_y=0.05, lr_y2=0.0)
    oracle = Oracle(game)
    s1 = fr.init(torch.tensor([7.0]), torch.tensor([5.0]), oracle)
    s2 = hfr.init(torch.tensor([7.0]), torch.tensor([5.0]), oracle)
    for _ in range(60):
        s1, _ = fr.step(s1, oracle)
        s2, _ = hfr.step(s2, oracle)
        assert torch.equal(s1["x"], s2["x"]) and torch.equal(s1["y"], s2["y"])


# -- general-sum FR (Wang et al. 2020, Alg. 2 / Eq. 8) ----------------------------------------------------------
AX, BX, CX = np.array([[1.5, 0.2], [0.2, 0.8]]), np.array([[0.5, -1.0, 0.2], [1.0, 0.3, -0.4]]), np.diag([0.3, -0.2, 0.5])
AY, BY, CY = np.diag([0.1, -0.4]), np.array([[-0.7, 0.4, 0.1], [0.2, -0.9, 0.6]]), np.array([[2.0, 0.3, 0.0], [0.3, 1.5, 0.2], [0.0, 0.2, 1.0]])


@pytest.fixture
def general_game():
    return make_game(GeneralQuadratic, Ax=AX.tolist(), Bx=BX.tolist(), Cx=CX.tolist(),
                     Ay=AY.tolist(), By=BY.tolist(), Cy=CY.tolist())


def test_general_sum_fr_alg2_one_step(general_game):
    """f = L_x, g = L_y: x+ = x − η_x D_x f, y+ = y − η_y ∇_y g + η_x G_yy⁻¹ G_yx D_x f."""
    ex, ey = 0.1, 0.2
    fx = AX @ X0 + BX @ Y0                     # ∇_x f
    fy = BX.T @ X0 + CX @ Y0                   # ∇_y f
    g_y = BY.T @ X0 + CY @ Y0                  # ∇_y g
    Dxf = fx - BY @ np.linalg.solve(CY, fy)    # ∇²_xy g = BY, ∇²_yy g = CY
    x1 = X0 - ex * Dxf
    y1 = Y0 - ey * g_y + ex * np.linalg.solve(CY, BY.T @ Dxf)
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=ey, leader="total")
    close(run(algo, general_game, 1), np.concatenate([x1, y1]))


def test_general_sum_fr_jacobian_is_real_with_the_theorem3_spectrum(general_game):
    """Wang et al. 2020, Thm 3: eigenvalues of I − η_x H̃_xx and of I − η_y G_yy, where H̃_xx (Prop. 7) is the
    Hessian of φ(x) = f(x, r(x)); for quadratic games r(x) = −Kx, K = G_yy⁻¹G_yx, so
    H̃_xx = H_xx − H_xy K − Kᵀ H_yx + Kᵀ H_yy K. The fixed point is the local Stackelberg point (0,0)."""
    ex, ey = 0.1, 0.2
    algo = FollowTheRidge("fr", lr_x=ex, lr_y=ey, leader="total")
    oracle = Oracle(general_game)

    def step_map(z):
        new, _ = algo.step(algo.init(z[:n], z[n:], oracle), oracle)
        return torch.cat([new["x"], new["y"]])

    zero = torch.zeros(n + m, dtype=torch.float64)
    torch.testing.assert_close(step_map(zero), zero)
    eig = np.linalg.eigvals(torch.func.jacrev(step_map)(zero).numpy())
    K = np.linalg.solve(CY, BY.T)
    h_tilde = AX - BX @ K - K.T @ BX.T + K.T @ CX @ K
    expected = np.concatenate([np.linalg.eigvals(np.eye(n) - ex * h_tilde), np.linalg.eigvals(np.eye(m) - ey * CY)])
    assert np.abs(eig.imag).max() < 1e-10
    np.testing.assert_allclose(np.sort(eig.real), np.sort(expected.real), rtol=1e-9)


# -- LEAD ---------------------------------------------------------------------------------------------
def test_lead_eq12_two_steps(game):
    eta, alpha, beta = 0.1, 0.05, 0.3
    xs, ys = [X0, X0], [Y0, Y0]
    for _ in range(2):
        x, y, dx, dy = xs[-1], ys[-1], xs[-1] - xs[-2], ys[-1] - ys[-2]
        xs.append(x + beta * dx - eta * gx(x, y) - alpha * B @ dy)       # ∇_xy f = B
        ys.append(y + beta * dy + eta * gy(x, y) + alpha * B.T @ dx)     # ∇_yx f = Bᵀ
    algo = LEAD("lead", lr_x=eta, lr_y=eta, alpha=alpha, momentum=beta)
    close(run(algo, game, 2), np.concatenate([xs[-1], ys[-1]]))


def test_lead_adam_alg2_two_steps(game):
    lx, ly, ax, ay, b1, b2, eps = 0.01, 0.02, 0.1, 0.3, 0.5, 0.99, 1e-8
    x, y, x_prev, y_prev = X0, Y0, X0, Y0
    mom = {k: 0.0 for k in ("mx", "vx", "my", "vy")}
    for t in (1, 2):
        g = gx(x, y) + ax * B @ (y - y_prev)                                  # lines 5–7
        mom["mx"] = b1 * mom["mx"] + (1 - b1) * g
        mom["vx"] = b2 * mom["vx"] + (1 - b2) * g * g
        x_new = x - lx * (mom["mx"] / (1 - b1**t)) / (np.sqrt(mom["vx"] / (1 - b2**t)) + eps)
        h = gy(x_new, y) + ay * B.T @ (x_new - x)                              # lines 13–15
        mom["my"] = b1 * mom["my"] + (1 - b1) * h
        mom["vy"] = b2 * mom["vy"] + (1 - b2) * h * h
        y_new = y + ly * (mom["my"] / (1 - b1**t)) / (np.sqrt(mom["vy"] / (1 - b2**t)) + eps)  # ascent
        x_prev, y_prev, x, y = x, y, x_new, y_new
    algo = LEAD("lead_adam", lr_x=lx, lr_y=ly, alpha_x=ax, alpha_y=ay, coupling="inside", order="alternating",
                precond={"kind": "adam", "beta1": b1, "beta2": b2, "eps": eps})
    close(run(algo, game, 2), np.concatenate([x, y]))


def test_lead_converges_linearly_on_a_bilinear_game_where_gda_diverges():
    """f = x·y: GDA's Jacobian has |1 ± iη| > 1; LEAD's coupling pulls the spectrum inside the unit
    circle (Askari Hemmat et al. 2023, Thm 2: roots of X² − X(1 − (η+α)λ + β) + β − αλ = 0, λ = ±i)."""
    eta, alpha, beta = 0.3, 0.5, 0.2
    rho = max(np.abs(np.roots([1, -(1 - (eta + alpha) * lam + beta), beta - alpha * lam])).max() for lam in (1j, -1j))
    assert rho < 1
    game = make_game(Quadratic, A=[[0.0]], B=[[1.0]], C=[[0.0]])
    oracle = Oracle(game)
    lead = LEAD("lead", lr_x=eta, lr_y=eta, alpha=alpha, momentum=beta)
    gda = GDA(lr_x=eta, lr_y=eta)
    s, g = lead.init(torch.tensor([1.0]), torch.tensor([1.0]), oracle), gda.init(torch.tensor([1.0]), torch.tensor([1.0]), oracle)
    dists = []
    for _ in range(200):
        s, _ = lead.step(s, oracle)
        g, _ = gda.step(g, oracle)
        dists.append(float(torch.cat([s["x"], s["y"]]).norm()))
    # GDA on a bilinear game: ‖z_{t+1}‖² = (1 + η²)‖z_t‖² exactly
    assert float(torch.cat([g["x"], g["y"]]).norm()) == pytest.approx(np.sqrt(2) * (1 + eta**2) ** 100, rel=1e-9)
    # linear: the distance shrinks by the predicted spectral radius per step
    rate = (dists[-1] / dists[99]) ** (1 / 100)
    assert rate == pytest.approx(rho, rel=1e-3)
    assert dists[-1] < 1e-20


# -- cost accounting ------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo, grads, hvps", [
    (GDA(lr_x=0.1, lr_y=0.1), 1.0, 0.0),
    (OGDA("ogda", lr_x=0.1, lr_y=0.1), 1.0, 0.0),
    (Extrapolation("eg", lr_x=0.1, lr_y=0.1), 2.0, 0.0),
    (SGA("sga", lr_x=0.1, lr_y=0.1), 1.0, 2.0),
    (ConsensusOptimization("co", lr_x=0.1, lr_y=0.1), 1.0, 1.0),
    (LEAD("lead", lr_x=0.1, lr_y=0.1), 1.0, 2.0),
    (ExtraAdam(lr_x=0.1, lr_y=0.1), 2.0, 0.0),
    (FollowTheRidge("fr", lr_x=0.1, lr_y=0.1), 1.0, 1.0 + m),                        # H_yx Δx + dense H_yy
    (FollowTheRidge("fr", lr_x=0.1, lr_y=0.1, solver={"kind": "cg", "iters": 5}), 1.0, 1.0 + 1 + 2 * 5),
    (FollowTheRidge("fr", lr_x=0.1, lr_y=0.1, mixed="fd", solver={"kind": "cg", "iters": 5, "adaptive": True, "damping": 1.0}),
     1.0 + 0.5 + 0.5, 1 + 2 * 5),                                                     # fd gradient, ρ's gradient; G z from CG
    (FollowTheRidge("frdg", lr_x=0.1, lr_y=0.1, mixed="fd", solver={"kind": "diag"}), 1.5, 0.0),
    (CGD("cgd", lr_x=0.1, lr_y=0.1, cg={"max_iters": 2}), 1.0, 1 + 2 * 2 + 1),        # rhs, 2 CG steps, derived
    (ACGD("acgd", lr_x=0.1, lr_y=0.1, cg={"max_iters": 2}), 1.0, 1 + 2 * 2 + 1),
])
def test_cost_per_step(game, algo, grads, hvps):
    cost = CostMeter()
    oracle = Oracle(game, cost=cost)
    state = algo.init(torch.tensor(X0), torch.tensor(Y0), oracle)
    cost.reset()
    algo.step(state, oracle)
    assert (cost.grads, cost.hvps) == (grads, hvps)
