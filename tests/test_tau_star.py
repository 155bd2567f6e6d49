"""τ* and the non-convergence thresholds of τ-GDA (seed 003 Theorems 1–2; NOTES-003 §2, §3, §10)."""

import math

import numpy as np
import pytest
import torch

from minimax_cli.games.dirac import DiracGAN
from minimax_cli.games.polynomial import Poly53, Poly54
from minimax_cli.games.toy import Quadratic
from minimax_cli.games.torus import Torus
from minimax_cli.metrics import spectrum, tau_star
from tests.conftest import make_game


def quadratic_J(A, B, C):
    """Game Jacobian of f = ½xᵀAx + xᵀBy + ½yᵀCy: [[A, B], [−Bᵀ, −C]] (seed 003 Eq. 1)."""
    return np.block([[A, B], [-B.T, -C]])


def random_dse(rng, n1, n2):
    """A random zero-sum quadratic game where 0 is a DSE but not a DNE (so τ* > 0 is typical)."""
    while True:
        A = rng.normal(size=(n1, n1))
        A = A + A.T
        B = rng.normal(size=(n1, n2))
        M = rng.normal(size=(n2, n2))
        C = -(M @ M.T + 0.2 * np.eye(n2))
        S = A - B @ np.linalg.inv(C) @ B.T
        if np.linalg.eigvalsh(S).min() > 1e-3 and np.linalg.eigvalsh(A).min() < 0:
            return quadratic_J(A, B, C)


@pytest.mark.parametrize("n1", [1, 2, 3])
@pytest.mark.parametrize("n2", [1, 2, 3])
def test_theorem1_equals_the_stability_boundary_on_random_games(n1, n2):
    rng = np.random.default_rng(100 * n1 + n2)
    for _ in range(3):
        J = random_dse(rng, n1, n2)
        q = tau_star.theorem1_tau_star(J, n1)
        scan = tau_star.scan_last_change(J, n1, stable_at_infinity=True)
        assert q > 0
        assert scan == pytest.approx(q, rel=1e-6)
        assert tau_star.guard_roots(J, n1)[-1] == pytest.approx(q, rel=1e-6)
        # and it is the boundary: unstable just below, stable just above
        assert not tau_star.is_stable(J, n1, q * (1 - 1e-4))
        assert tau_star.is_stable(J, n1, q * (1 + 1e-4))
        report = tau_star.analyze(J, n1)
        assert report["dse"] and report["agree"] and report["rel_diff"] < 1e-6
        assert report["stable_intervals"][-1] == [pytest.approx(q, rel=1e-6), None]


def test_dne_has_tau_star_zero():
    rng = np.random.default_rng(7)
    for n1, n2 in ((1, 1), (2, 3), (3, 2)):
        A = rng.normal(size=(n1, n1))
        A = A @ A.T + 0.1 * np.eye(n1)
        M = rng.normal(size=(n2, n2))
        J = quadratic_J(A, rng.normal(size=(n1, n2)), -(M @ M.T + 0.1 * np.eye(n2)))
        report = tau_star.analyze(J, n1)
        assert report["value"] == 0.0 and report["scan"] == 0.0 and report["guard_map"] == 0.0


def example1(v):
    """Seed 003 Example 1 (NOTES-003 §7.1): D1²f = diag(−v, v/2), D12f = diag(−v, v/2), D2²f = diag(−v/2, −v)."""
    return quadratic_J(np.diag([-v, v / 2]), np.diag([-v, v / 2]), np.diag([-v / 2, -v]))


@pytest.mark.parametrize("v", [1.0, 4.0, 10.0])
def test_example1_tau_star_is_2(v):
    report = tau_star.analyze(example1(v), 2)
    assert report["dse"]
    assert report["value"] == pytest.approx(2.0, rel=1e-9)
    assert report["guard_map"] == pytest.approx(2.0, rel=1e-9)
    assert report["scan"] == pytest.approx(2.0, rel=1e-9)


def test_example1_spectrum_matches_the_closed_form():
    # spec(J_τ) = { v(2τ+1 ± √(4τ²−8τ+1))/4 , v(τ−2 ± √(τ²−12τ+4))/4 }; real from τ = 1+√3/2 and 6+√32
    v = 4.0
    for tau in (0.5, 1.5, 2.0, 3.0, 12.0):
        got = np.sort_complex(np.linalg.eigvals(tau_star.tau_jacobian(example1(v), 2, tau)))
        r1, r2 = np.sqrt(complex(4 * tau**2 - 8 * tau + 1)), np.sqrt(complex(tau**2 - 12 * tau + 4))
        want = np.sort_complex(np.array([v * (2 * tau + 1 + r1) / 4, v * (2 * tau + 1 - r1) / 4,
                                         v * (tau - 2 + r2) / 4, v * (tau - 2 - r2) / 4]))
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_example2_thresholds():
    # Example 2 (v = 4): D1²f = diag(2, −1), D2²f = diag(1, −2), D12f = diag(2, 2): neither DNE nor DSE,
    # stable exactly for τ ∈ (½, 2); corrected Theorem 2: τ0 = 6.25 (P_i = A_i⁻¹), 4.0 (P_i = A_i)
    J = quadratic_J(np.diag([2.0, -1.0]), np.diag([2.0, 2.0]), np.diag([1.0, -2.0]))
    report = tau_star.analyze(J, 2)
    assert not report["dse"] and report["value"] is None
    assert report["guard_roots"] == pytest.approx([0.5, 2.0], rel=1e-9)
    assert report["stable_intervals"] == [[pytest.approx(0.5), pytest.approx(2.0)]]
    assert report["instability_threshold"] == pytest.approx(2.0, rel=1e-9)
    assert report["scan"] == pytest.approx(2.0, rel=1e-9) and report["agree"]
    assert report["tau0"] == pytest.approx(6.25, rel=1e-12)
    assert tau_star.theorem2_tau0(J, 2, choice="same") == pytest.approx(4.0, rel=1e-12)


def test_corrected_tau0_bounds_the_exact_threshold_on_random_non_dse_games():
    rng = np.random.default_rng(3)
    checked = 0
    while checked < 15:
        n1, n2 = rng.integers(1, 4, size=2)
        A = rng.normal(size=(n1, n1))
        C = rng.normal(size=(n2, n2))
        J = quadratic_J(A + A.T, rng.normal(size=(n1, n2)), C + C.T)
        if spectrum.classify(J, n1)["dse"]:
            continue
        report = tau_star.analyze(J, n1)
        if report["tau0"] is None:
            continue
        checked += 1
        assert report["agree"]
        assert not tau_star.is_stable(J, n1, report["tau0"] * 1.001 + 1e-9)   # Theorem 2
        if report["instability_threshold"] is not None:
            assert report["tau0"] >= report["instability_threshold"] * (1 - 1e-9)


def analyze_game(game, k):
    cp = game.critical_points()[k]
    J = spectrum.game_jacobian(game, cp.x, cp.y)
    return tau_star.analyze(J, game.dim_x, zero_sum=game.zero_sum)


@pytest.mark.parametrize("cls, kw, k, expected", [
    (Torus, {}, 0, 0.85 / 1.15),        # NOTES-003 §10: 0.739
    (Torus, {}, 1, 1.15 / 0.85),        # 1.353
    (Poly54, {}, 0, 1.0),               # DSE (−11.03, −11.03)
    (Poly54, {}, 1, 1.0),               # DSE (−1.62, −1.62)
    (Poly54, {}, 2, 0.0),               # DNE (10.57, −8.95)
    (Poly53, {}, 0, 0.0),               # DNE (1, 1, 1, 1)
    (Poly53, {}, 1, 0.0),               # DNE (−4.73, …)
    (DiracGAN, {"mu": 0.3}, 0, 0.0),
    (DiracGAN, {"mu": 1.0}, 0, 0.0),
    (DiracGAN, {"mu": 0.3, "objective": "non_saturating"}, 0, 0.0),
])
def test_notes_table_values(cls, kw, k, expected):
    report = analyze_game(make_game(cls, **kw), k)
    assert report["dse"]
    assert report["value"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert report["agree"]


def test_non_equilibria_of_the_notes_table():
    # K.2 origin is locally Example 2 with v = 5: stable only on (½, 2) (the paper says (0, 2))
    report = analyze_game(make_game(Poly53), 2)
    assert not report["dse"]
    assert report["stable_intervals"] == [[pytest.approx(0.5), pytest.approx(2.0)]]
    assert report["instability_threshold"] == pytest.approx(2.0, rel=1e-9)
    # the other critical points of K.3 and K.4 are unstable for every τ (NOTES-003 §7.3, §7.4) ...
    for game, labels in ((make_game(Poly54), (3, 4, 5, 6, 7, 9, 10)), (make_game(Torus), (3, 4, 5))):
        for k in labels:
            report = analyze_game(game, k)
            assert not report["dse"] and report["stable_intervals"] == [], (game.name, k)
            assert report["tau0"] is not None and report["agree"]
    # ... except K.3's (9.32, 9.32) and K.4's (π, 0), against the papers' claims: there
    # J_τ = [[a, b], [−τb, −τa]] with a > 0 and b² > a², so trace a(1 − τ) > 0 and det τ(b² − a²) > 0
    # for τ < 1 (torus: a = 0.85, b = −1)
    for game, k in ((make_game(Poly54), 8), (make_game(Torus), 2)):
        cp = game.critical_points()[k]
        J = spectrum.game_jacobian(game, cp.x, cp.y)
        a, b = J[0, 0], J[0, 1]
        assert a > 0 and b**2 > a**2 and J[1, 1] == pytest.approx(-a) and J[1, 0] == pytest.approx(-b)
        report = analyze_game(game, k)
        assert not report["dse"] and report["stable_intervals"] == [[0.0, pytest.approx(1.0, rel=1e-9)]]
        assert report["instability_threshold"] == pytest.approx(1.0, rel=1e-9)
        assert report["tau0"] >= 1.0 and report["agree"]


def test_unregularized_dirac_is_never_stable():
    report = analyze_game(make_game(DiracGAN, mu=0.0), 0)
    assert report["guard_roots"] is None and report["stable_intervals"] == []
    assert report["instability_threshold"] is None and report["scan"] is None and report["agree"]


def test_large_games_are_skipped_with_a_reason():
    J = np.eye(50)
    assert "skipped" in tau_star.analyze(J, 25, max_dim=40)


def test_box_plus_eigenvalues_are_pairwise_sums():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3))
    lam = np.linalg.eigvals(A)
    want = np.sort_complex(np.array([lam[i] + lam[j] for i in range(3) for j in range(i, 3)]))
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(tau_star.box_plus(A))), want, atol=1e-12)
    assert math.isclose(float(torch.tensor(tau_star.duplication(3)).sum()), 9.0)
