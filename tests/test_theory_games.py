"""Seed 003/004 games against their closed forms: Dirac-GAN, covariance learning, polynomial,
torus, random bilinear."""

import math

import numpy as np
import pytest
import torch

from minimax_cli.algos.gda import GDA
from minimax_cli.catalog import list_options
from minimax_cli.errors import ConfigError
from minimax_cli.games.covariance import RELU_CONST, CovarianceQuadratic, CovarianceReLU
from minimax_cli.games.dirac import DiracGAN
from minimax_cli.games.polynomial import Poly53, Poly54
from minimax_cli.games.toy import Bilinear
from minimax_cli.games.torus import Torus
from minimax_cli.metrics import spectrum, tau_star
from minimax_cli.oracle import Oracle
from minimax_cli.runner import LoopSettings, Runner
from tests.conftest import make_game


def field(game, x, y):
    gx, gy = Oracle(game)._field(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64))
    return gx.numpy(), gy.numpy()


def dl(t):
    """ℓ'(t) = 1/(1 + e^t) for ℓ(t) = −log(1 + e^{−t})."""
    return 1.0 / (1.0 + math.exp(t))


# -- Dirac-GAN ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("theta, omega", [(1.0, 1.0), (-0.7, 2.3), (3.0, -0.4)])
def test_dirac_gradients_match_the_closed_form(theta, omega):
    mu = 0.3
    gx, gy = field(make_game(DiracGAN, mu=mu), [theta], [omega])
    assert gx[0] == pytest.approx(omega * dl(theta * omega), rel=1e-12)
    assert gy[0] == pytest.approx(-theta * dl(theta * omega) + mu * omega, rel=1e-12)
    gx, gy = field(make_game(DiracGAN, mu=mu, objective="non_saturating"), [theta], [omega])
    assert gx[0] == pytest.approx(omega * dl(-theta * omega), rel=1e-12)
    assert gy[0] == pytest.approx(-theta * dl(theta * omega) + mu * omega, rel=1e-12)
    game = make_game(DiracGAN, mu=mu)
    value = game.f(torch.tensor([theta]), torch.tensor([omega]))
    assert float(value) == pytest.approx(-math.log1p(math.exp(-theta * omega)) - math.log(2) - mu / 2 * omega**2)


def dirac_J_tau(mu, tau, objective="saturating"):
    game = make_game(DiracGAN, mu=mu, objective=objective)
    J = spectrum.game_jacobian(game, torch.zeros(1), torch.zeros(1))
    np.testing.assert_allclose(J, [[0.0, 0.5], [-0.5, mu]], atol=1e-15)   # Eq. 57 at τ = 1
    return tau_star.tau_jacobian(J, 1, tau)


@pytest.mark.parametrize("tau", [1.0, 4.0, 16.0])
def test_unregularized_dirac_gda_cycles(tau):
    eig = np.linalg.eigvals(dirac_J_tau(0.0, tau))
    np.testing.assert_allclose(np.sort(eig.imag), [-math.sqrt(tau) / 2, math.sqrt(tau) / 2], rtol=1e-12)
    np.testing.assert_allclose(eig.real, 0.0, atol=1e-15)                 # purely imaginary
    gamma = 0.01
    game = make_game(DiracGAN, mu=0.0)
    step = spectrum.step_jacobian(GDA(lr_x=gamma, tau=tau), game, torch.zeros(1), torch.zeros(1))
    radius = float(np.abs(np.linalg.eigvals(step["matrix"])).max())
    assert radius == pytest.approx(math.sqrt(1 + gamma**2 * tau / 4), rel=1e-12)   # |1 − γλ| > 1


def test_unregularized_dirac_trajectory_circles_without_converging():
    game = make_game(DiracGAN, mu=0.0)
    result = Runner(game, GDA(lr_x=0.01, tau=4.0), LoopSettings(steps=800, log_every=800, tol=0.0, progress=False)).run()
    theta = result.trajectory[:, 0, 0].numpy()
    assert np.sum(np.diff(np.sign(theta)) != 0) >= 2                      # it goes around
    assert float(result.metrics["dist_to_eq"]) >= math.sqrt(2)            # and never closer


@pytest.mark.parametrize("mu", [0.3, 1.0])
@pytest.mark.parametrize("tau", [0.5, 1.0, 4.0, 8.0, 16.0, 100.0])
def test_regularized_dirac_is_stable_for_every_tau(mu, tau):
    for objective in ("saturating", "non_saturating"):
        eig = np.sort_complex(np.linalg.eigvals(dirac_J_tau(mu, tau, objective)))
        root = np.sqrt(complex(tau**2 * mu**2 - tau))
        np.testing.assert_allclose(eig, np.sort_complex(np.array([(tau * mu - root) / 2, (tau * mu + root) / 2])),
                                   atol=1e-12)
        assert eig.real.min() > 0
        assert (abs(eig.imag).max() < 1e-12) == (tau >= 1 / mu**2)         # real iff τ ≥ 1/μ²
    game = make_game(DiracGAN, mu=mu)
    step = spectrum.step_jacobian(GDA(lr_x=0.01, tau=tau), game, torch.zeros(1), torch.zeros(1))
    assert float(np.abs(np.linalg.eigvals(step["matrix"])).max()) < 1


def test_regularized_dirac_tau8_contracts_faster_than_tau16():
    """Seed 003 Fig. 1 at μ = 0.3: τ = 8 (complex eigenvalues 1.2 ± 0.748i) beats τ = 16 (real 1.073,
    3.727): the real step map's spectral radius is |1 − γλ| at the slowest eigenvalue. The
    trajectories themselves are compared in test_reproduce_dirac.py (through the CLI)."""
    gamma, radius = 0.01, {}
    for tau in (8.0, 16.0):
        step = spectrum.step_jacobian(GDA(lr_x=gamma, tau=tau), make_game(DiracGAN, mu=0.3), torch.zeros(1),
                                      torch.zeros(1))
        radius[tau] = float(np.abs(np.linalg.eigvals(step["matrix"])).max())
    assert radius[8.0] == pytest.approx(abs(1 - gamma * complex(1.2, math.sqrt(8 - 5.76) / 2)), rel=1e-12)
    assert radius[16.0] == pytest.approx(1 - gamma * (4.8 - math.sqrt(4.8**2 - 16)) / 2, rel=1e-12)
    assert radius[8.0] < radius[16.0] < 1


# -- covariance learning --------------------------------------------------------------------------------
def test_relu_covariance_value_is_the_expectation_of_eq_10():
    game = make_game(CovarianceReLU, d=2, k=3, hidden=4, sigma=[[2.0, 0.6], [0.6, 1.0]], seed=1)
    x, y = game.initial_points()
    x, y = x[0], y[0]
    V = x.reshape(2, 3)
    W, v = y[:8].reshape(4, 2), y[8:]
    gen = torch.Generator().manual_seed(0)
    n = 400_000
    real = torch.randn(n, 2, generator=gen, dtype=torch.float64) @ game.chol.T   # N(0, Σ)
    fake = torch.randn(n, 3, generator=gen, dtype=torch.float64) @ V.T            # V z
    critic = lambda pts: torch.relu(pts @ W.T) @ v                               # noqa: E731
    samples = critic(real) - critic(fake)
    estimate, err = float(samples.mean()), float(samples.std()) / math.sqrt(n)
    closed = float(game.f(x, y))
    assert abs(closed - estimate) < 4 * err
    # and by hand: c Σ_i v_i (√(w_iᵀΣw_i) − ‖Vᵀw_i‖)
    S = np.array([[2.0, 0.6], [0.6, 1.0]])
    Wn, Vn, vn = W.numpy(), V.numpy(), v.numpy()
    hand = RELU_CONST * sum(vn[i] * (math.sqrt(Wn[i] @ S @ Wn[i]) - np.linalg.norm(Vn.T @ Wn[i])) for i in range(4))
    assert closed == pytest.approx(hand, rel=1e-12)


def test_relu_covariance_starts_equilibrium_and_metric():
    game = make_game(CovarianceReLU, starts=3, seed=5)
    assert (game.dim_x, game.dim_y) == (2 * 16, 128 * 3)
    x, y = game.initial_points()
    assert x.shape == (3, 32) and y.shape == (3, 384)
    assert not torch.allclose(x[0], x[1])                                   # independent draws
    for i in range(3):   # start i = the single start of seed 5 + i: N starts are N seeds, vectorized
        again = make_game(CovarianceReLU, starts=1, seed=5 + i).initial_points()
        torch.testing.assert_close(again[0][0], x[i])
        torch.testing.assert_close(again[1][0], y[i])
    assert float(x.std()) == pytest.approx(1 / 4, rel=0.25)                  # V ~ N(0, 1/k)
    V = x.reshape(3, 2, 16)
    Sigma = torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    want = torch.linalg.matrix_norm(Sigma - V @ V.transpose(-1, -2))
    torch.testing.assert_close(game.extra_metrics(x, y, 0)["cov_error"], want)
    assert game.equilibrium() is None                                        # not isolated
    cp = game.critical_points()[0]
    assert spectrum.field_norm(game, cp.x, cp.y) < 1e-12
    assert float(game.extra_metrics(cp.x.unsqueeze(0), cp.y.unsqueeze(0), 0)["cov_error"]) < 1e-12


def test_quadratic_covariance_gradients_and_spectrum():
    mu = 0.75
    game = make_game(CovarianceQuadratic, d=3, sigma="random", sigma_seed=2, mu=mu)
    U = np.random.default_rng(2).standard_normal((3, 3))
    S = U @ U.T + np.eye(3)
    np.testing.assert_allclose(game.Sigma.numpy(), S, rtol=1e-14)
    rng = np.random.default_rng(0)
    V, W = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    gx, gy = field(game, V.reshape(-1), W.reshape(-1))
    np.testing.assert_allclose(gx, (-(W + W.T) @ V).reshape(-1), rtol=1e-12)
    np.testing.assert_allclose(gy, (-(S - V @ V.T) + mu * W).reshape(-1), rtol=1e-12)
    for cp in game.critical_points():
        assert spectrum.field_norm(game, cp.x, cp.y) < 1e-12
    # d = 1: (±σ, 0), spec(J_τ) = (τμ ± √(τ²μ² − 16τσ²))/2 (NOTES-003 §7.6)
    game = make_game(CovarianceQuadratic, d=1, sigma=[[1.0975]], mu=mu)
    assert float(game.equilibrium().x[0]) == pytest.approx(math.sqrt(1.0975))
    J = spectrum.game_jacobian(game, game.equilibrium().x, game.equilibrium().y)
    for tau in (1.0, 5.0, 25.0):
        root = np.sqrt(complex(tau**2 * mu**2 - 16 * tau * 1.0975))
        want = np.sort_complex(np.array([(tau * mu - root) / 2, (tau * mu + root) / 2]))
        np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(tau_star.tau_jacobian(J, 1, tau))), want,
                                   atol=1e-12)


@pytest.mark.parametrize("cls, kw, message", [
    (CovarianceReLU, {"k": 1}, "game.k must be >= game.d"),
    (CovarianceReLU, {"sigma": [[1.0, 2.0], [2.0, 1.0]]}, "positive definite"),
    (CovarianceReLU, {"sigma": [[1.0, 0.0], [0.5, 1.0]]}, "symmetric"),
    (CovarianceReLU, {"x0": [0.0] * 32}, "init=random draws every start"),
    (CovarianceQuadratic, {"sigma": "uniform"}, "nested list or 'random'"),
    (CovarianceQuadratic, {"d": 2}, "game.sigma must be 2×2"),
    (DiracGAN, {"mu": -1}, "game.mu must be a number >= 0"),
    (DiracGAN, {"objective": "wasserstein"}, "game.objective must be one of"),
    (Bilinear, {"C": "random"}, "needs game.dim"),
    (Bilinear, {"C": [[1.0]], "dim": 3}, "only used with game.C=random"),
    (Bilinear, {"C": "gaussian"}, "nested list or 'random'"),
    (Bilinear, {"C": [[1.0]], "start_radius": -1}, "start_radius"),
])
def test_bad_game_config_is_one_clear_error(cls, kw, message):
    with pytest.raises(ConfigError, match=message):
        cls("g", **kw)


# -- polynomial and torus games ---------------------------------------------------------------------------
EXPECTED_CLASS = {"DNE": ("local_nash", True), "DSE": ("local_minimax", True)}


@pytest.mark.parametrize("cls", [Poly53, Poly54, Torus])
def test_known_critical_points_are_critical_and_labelled_right(cls):
    game = make_game(cls)
    for cp in game.critical_points():
        assert spectrum.field_norm(game, cp.x, cp.y) < 1e-10, cp.label
        c = spectrum.classify(spectrum.game_jacobian(game, cp.x, cp.y), game.dim_x)
        kind = cp.label.split()[0]
        want = EXPECTED_CLASS.get(kind, ("neither", None))
        assert (c["class"], c["strict"]) == want, cp.label


def test_poly53_value_and_its_origin_is_example2():
    game = make_game(Poly53)
    z = np.array([0.3, -1.2, 0.7, 2.0])
    x11, x12, x21, x22 = z
    hand = (1.25 * (x11**2 + 2 * x11 * x21 + 0.5 * x21**2 - 0.5 * x12**2 + 2 * x12 * x22 - x22**2) * (x11 - 1) ** 2
            + x11**2 * ((x11 - 1) ** 2 + (x12 - 1) ** 2 - (x21 - 1) ** 2 - (x22 - 1) ** 2))
    assert float(game.f(torch.tensor(z[:2]), torch.tensor(z[2:]))) == pytest.approx(hand, rel=1e-13)
    J = spectrum.game_jacobian(game, torch.zeros(2), torch.zeros(2))
    v = 5.0    # Example 2: D1²f = diag(v/2, −v/4), D12f = diag(v/2, v/2), D2²f = diag(v/4, −v/2)
    np.testing.assert_allclose(J, np.block([[np.diag([v / 2, -v / 4]), np.diag([v / 2, v / 2])],
                                            [-np.diag([v / 2, v / 2]), -np.diag([v / 4, -v / 2])]]), atol=1e-12)


def test_poly54_value():
    game = make_game(Poly54)
    a, b = -2.5, 4.0
    hand = -math.exp(-(0.01 * a**2 + 0.01 * b**2)) * ((0.3 * a**2 + b) ** 2 + (0.3 * b**2 + a) ** 2)
    assert float(game.f(torch.tensor([a]), torch.tensor([b]))) == pytest.approx(hand, rel=1e-13)
    assert len(game.critical_points()) == 11


def test_torus_is_periodic_and_its_distance_wraps():
    game = make_game(Torus)
    a, b = torch.tensor([0.4]), torch.tensor([-1.1])
    assert float(game.f(a + 2 * math.pi, b - 4 * math.pi)) == pytest.approx(float(game.f(a, b)), abs=1e-13)
    x = torch.tensor([[2 * math.pi], [0.3], [math.pi + 0.1]])
    y = torch.tensor([[-2 * math.pi], [0.4], [0.0]])
    got = game.extra_metrics(x, y, 0)["torus_dist"]
    torch.testing.assert_close(got, torch.tensor([0.0, 0.5, math.pi - 0.1], dtype=torch.float64), atol=1e-12, rtol=0)


def test_every_new_game_config_has_a_description():
    options = dict(list_options("game"))
    for name in ("dirac", "dirac_ns", "covariance", "covariance_quad", "poly53", "poly54", "torus",
                 "bilinear", "bilinear_random", "tau_example1", "tau_example2"):
        # each names its paper by authors and year
        assert options[name] and any(paper in options[name] for paper in (
            "Wang et al. 2020", "Gao et al. 2022", "Askari Hemmat et al. 2023", "Fiez & Ratliff 2021",
            "Liang & Stokes 2019")), name
