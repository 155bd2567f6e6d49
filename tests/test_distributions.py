"""W1, KDE/KL and mode metrics against closed forms and independent computations."""

import math

import numpy as np
import pytest
from scipy.stats import gaussian_kde, norm

from minimax_cli.metrics.distributions import GridKL, kde_on_grid, mode_coverage, w1


def kl_gauss(m1, s1, m2, s2):
    """KL(N(m1, s1²) ‖ N(m2, s2²)) in closed form."""
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


def quantiles(n, mean, std):
    """n stratified 'samples' Φ⁻¹((i + ½)/n): a sample set without sampling noise."""
    return mean + std * norm.ppf((np.arange(n) + 0.5) / n)


# -- W1 --------------------------------------------------------------------------------------------------
def test_w1_between_two_diracs_is_their_distance():
    p = np.tile([0.0, 0.0], (7, 1))
    q = np.tile([3.0, 4.0], (5, 1))   # unequal sizes: uniform weights 1/7 and 1/5
    assert w1(p, q) == pytest.approx(5.0, abs=1e-12)


def test_w1_in_1d_is_the_mean_gap_of_sorted_samples():
    rng = np.random.default_rng(0)
    p, q = rng.normal(0, 1, 200), rng.exponential(2.0, 200)
    expected = np.abs(np.sort(p) - np.sort(q)).mean()
    assert w1(p[:, None], q[:, None]) == pytest.approx(expected, rel=1e-10)


def test_w1_in_1d_closed_form_is_the_linear_programs_optimum():
    """The 1-D closed form (sorted samples) and POT's network simplex give the same W1, also for
    unequal sample sizes (weights 1/m and 1/n)."""
    import ot
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(3)
    for m, n in ((512, 512), (300, 200)):
        p, q = rng.normal(0, 1, (m, 1)), rng.normal(0.5, 2.0, (n, 1))
        lp = ot.emd2(np.full(m, 1 / m), np.full(n, 1 / n), cdist(p, q), numItermax=10_000_000)
        assert w1(p, q) == pytest.approx(lp, rel=1e-12, abs=1e-14)


def test_w1_of_a_translated_cloud_is_the_translation_length():
    # W1 >= |E p - E q| = |s| (Jensen), and moving every point by s attains it
    rng = np.random.default_rng(1)
    p = rng.normal(size=(64, 2))
    shift = np.array([0.3, -0.4])
    assert w1(p, p + shift) == pytest.approx(0.5, abs=1e-9)
    assert w1(p, p) == pytest.approx(0.0, abs=1e-12)


# -- KDE --------------------------------------------------------------------------------------------------
def test_kde_on_grid_matches_scipy_in_1d_and_a_direct_sum_in_2d():
    rng = np.random.default_rng(2)
    s = rng.normal(size=300)
    grid = np.linspace(-4, 4, 101)
    h = 0.3
    reference = gaussian_kde(s, bw_method=h / s.std(ddof=1))(grid)  # scipy's kernel std = factor · std
    np.testing.assert_allclose(kde_on_grid(s[:, None], [grid], h), reference, rtol=1e-10)

    s2 = rng.normal(size=(50, 2))
    gx, gy = np.linspace(-3, 3, 7), np.linspace(-2, 2, 5)
    hx, hy = 0.4, 0.25
    direct = np.zeros((7, 5))
    for i, a in enumerate(gx):
        for j, b in enumerate(gy):
            k = np.exp(-0.5 * ((a - s2[:, 0]) / hx) ** 2 - 0.5 * ((b - s2[:, 1]) / hy) ** 2)
            direct[i, j] = k.sum() / (len(s2) * 2 * math.pi * hx * hy)
    np.testing.assert_allclose(kde_on_grid(s2, [gx, gy], [hx, hy]), direct, rtol=1e-12)


# -- KL ---------------------------------------------------------------------------------------------------
def test_kl_matches_the_closed_form_of_the_smoothed_gaussians():
    # Without sampling noise the KDE of N(m, s²) is N(m, s² + h²): the estimator must reproduce
    # KL(N(0, 1 + h²) ‖ N(1, 2.25 + h²)) up to grid and tail-truncation error (measured: 1.3e-4).
    h = 0.2
    est = GridKL(quantiles(4096, 0, 1), [-7], [8], h)(quantiles(4096, 1, 1.5))
    assert est == pytest.approx(kl_gauss(0, math.sqrt(1 + h * h), 1, math.sqrt(2.25 + h * h)), abs=2e-3)


def test_kl_from_random_samples_is_close_to_the_true_closed_form():
    # 4,096 random samples per side, h = 0.1: over seeds the estimate of KL(N(0,1) ‖ N(1,1.5²)) = 0.350
    # spreads by about ±0.03 (the samples' own noise); 0.06 ≈ 17% is the tolerance
    rng = np.random.default_rng(3)
    est = GridKL(rng.normal(0, 1, 4096), [-7], [8], 0.1)(rng.normal(1, 1.5, 4096))
    assert est == pytest.approx(kl_gauss(0, 1, 1, 1.5), abs=0.06)
    same = GridKL(rng.normal(0, 1, 4096), [-7], [8], 0.2)(rng.normal(0, 1, 4096))
    assert 0 <= same < 0.02


def test_kl_in_2d_of_product_sets_is_the_sum_of_the_1d_kls():
    # KDEs of product sets are products of 1-D KDEs, so the KL of independent axes adds up
    h, n = 0.2, 48
    a0, b0, a1, b1 = quantiles(n, 0, 1), quantiles(n, 0, 0.5), quantiles(n, 1, 1.5), quantiles(n, -0.5, 0.5)
    P = np.stack(np.meshgrid(a0, b0, indexing="ij"), -1).reshape(-1, 2)
    Q = np.stack(np.meshgrid(a1, b1, indexing="ij"), -1).reshape(-1, 2)
    est2 = GridKL(P, [-7, -4], [8, 4], h)(Q)
    sum1 = GridKL(a0, [-7], [8], h)(a1) + GridKL(b0, [-4], [4], h)(b1)
    assert est2 == pytest.approx(sum1, abs=2e-3)
    smoothed = (kl_gauss(0, math.sqrt(1 + h * h), 1, math.sqrt(2.25 + h * h))
                + kl_gauss(0, math.sqrt(0.25 + h * h), -0.5, math.sqrt(0.25 + h * h)))
    assert est2 == pytest.approx(smoothed, rel=0.08)  # 48 quantiles per axis truncate the tails


def test_kl_of_a_missed_mode_is_large_but_finite():
    rng = np.random.default_rng(4)
    data = np.concatenate([rng.normal(-4, 0.1, 2000), rng.normal(4, 0.1, 2000)])
    one_mode = rng.normal(-4, 0.1, 4000)
    kl = GridKL(data, [-5], [5], 0.1, floor=1e-10)(one_mode)
    # the missed mode (mass ½, density ≈ 2 at its peak) costs about ½·log(p/1e-10) ≈ 10 nats
    assert 8 < kl < 14


# -- modes ------------------------------------------------------------------------------------------------
def test_mode_coverage_counts_by_hand():
    centres, sigma = np.array([[-4.0], [0.0], [4.0]]), 0.1
    samples = np.concatenate([np.full(50, -4.0), np.full(40, 0.25), np.full(5, 4.0), np.full(5, 2.0)])[:, None]
    weights = np.full(3, 1 / 3)
    # 95 of 100 samples within 3σ = 0.3 of a centre; the threshold is 0.2 · 100/3 = 6.7 samples
    covered, quality = mode_coverage(samples, centres, [0, 1, 2], weights, sigma, cover_frac=0.2)
    assert (covered, quality) == (2, 0.95)
    covered, _ = mode_coverage(samples, centres, [0, 1, 2], weights, sigma, cover_frac=0.1)  # 3.3: mode 3 too
    assert covered == 3
