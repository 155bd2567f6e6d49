"""Learning the covariance of a Gaussian N(0, Σ) with a linear generator (closed-form games).

Two discriminators, both zero-sum (the generator V minimizes, the discriminator maximizes), both
logging ``cov_error`` = ‖Σ − VVᵀ‖_F (the generator's law is N(0, VVᵀ)):

* ``CovarianceReLU`` — Liang & Stokes 2019, §4.1: V ∈ R^{d×k}, a
  one-hidden-layer ReLU discriminator without biases f_ω(x) = Σ_i v_i ReLU(⟨w_i, x⟩), i ∈ [H], and
  the WGAN value in closed form, Eq. (10):

      U(V, ω) = c Σ_i v_i (‖Aᵀw_i‖ − ‖Vᵀw_i‖),   Σ = AAᵀ, so ‖Aᵀw‖ = √(wᵀΣw),

  with c = 1/√(2π): E[ReLU(s·N(0,1))] = s/√(2π). The paper writes "const" and never gives it; any
  c > 0 only rescales the game (and so the step size). Paper: k = 16, d = 2, H = 128.
* ``CovarianceQuadratic`` — Fiez & Ratliff 2021, App. K.6 (Daskalakis et al. 2018): V, W ∈
  R^{d×d}, D_W(x) = xᵀWx, and with the discriminator-only regularizer (Eq. 58)

      f(V, W) = Σ_ij W_ij (Σ_ij − (VVᵀ)_ij) − (μ/2) Tr(WᵀW).

Σ is a nested list (symmetric positive definite) or ``random``: Σ = UUᵀ + I with
U ~ N(0, 1)^{d×d} from numpy.random.default_rng(sigma_seed) (the recipe of the authors' K.6
notebook). Equilibria are not isolated (VVᵀ = Σ leaves V free up to V → VO, O orthogonal), so
``dist_to_eq`` is not logged (except K.6 with d = 1, where (±σ, 0) are isolated); ``cov_error``
measures the distance to the equilibrium set instead, and ``critical_points()`` lists one
representative for `minimax analyze`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax_cli.errors import ConfigError
from minimax_cli.games.base import AnalyticGame, CriticalPoint, matrix

RELU_CONST = 1.0 / math.sqrt(2.0 * math.pi)


def _positive_int(value, key):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be an integer >= 1 (got {value!r})")
    return value


def covariance_matrix(sigma, d: int, sigma_seed) -> np.ndarray:
    """Σ from the config: a d×d SPD nested list, or ``random`` (Σ = UUᵀ + I, U ~ N(0,1)^{d×d})."""
    if isinstance(sigma, str):
        if sigma != "random":
            raise ConfigError(f"game.sigma must be a nested list or 'random' (got {sigma!r})")
        if isinstance(sigma_seed, bool) or not isinstance(sigma_seed, int) or sigma_seed < 0:
            raise ConfigError(f"game.sigma_seed must be an integer >= 0 (got {sigma_seed!r})")
        U = np.random.default_rng(sigma_seed).standard_normal((d, d))
        return U @ U.T + np.eye(d)
    S = np.array(matrix(sigma, "game.sigma"))
    if S.shape != (d, d):
        raise ConfigError(f"game.sigma must be {d}×{d} (game.d = {d}); got {S.shape[0]}×{S.shape[1]}")
    if not np.allclose(S, S.T, rtol=0, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise ConfigError("game.sigma must be symmetric")
    if np.linalg.eigvalsh(S).min() <= 0:
        raise ConfigError("game.sigma must be positive definite (a covariance matrix of a non-degenerate Gaussian)")
    return S


class _Covariance(AnalyticGame):
    """Shared: Σ, the generator V (x, row-major d×k), cov_error."""

    def setup(self, device, dtype, seed):
        super().setup(device, dtype, seed)
        self.Sigma = self.tensor(self.sigma)
        self.chol = torch.linalg.cholesky(self.Sigma)

    def generator(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(*x.shape[:-1], self.d, self.k)

    def extra_metrics(self, x, y, step):
        V = self.generator(x)
        return {"cov_error": torch.linalg.matrix_norm(self.Sigma - V @ V.transpose(-1, -2))}

    def _representative_V(self) -> torch.Tensor:
        V = torch.zeros(self.d, self.k, dtype=self.dtype, device=self.device)
        V[:, : self.d] = self.chol   # V = [chol(Σ) | 0]: VVᵀ = Σ
        return V.reshape(-1)


class CovarianceReLU(_Covariance):
    """Liang & Stokes 2019, §4.1: linear generator V ∈ R^{d×k} against a bias-free one-hidden-layer ReLU
    discriminator with H units; closed-form WGAN value Eq. (10) with const = 1/√(2π).

    y = (w_1, …, w_H, v_1, …, v_H): the H×d first-layer weights row by row, then the output weights.
    Starts (``init: random``): start i drawn from the run's seed + i (so N vectorized starts are
    the starts of N consecutive seeds), std 1/√fan-in
    times ``init_scale`` (V ~ N(0, 1/k), w_i ~ N(0, I/d), v_i ~ N(0, 1/H); the paper gives no
    initialization). The representative equilibrium is V = [chol(Σ) | 0], v = 0, W = the
    first start's W (any W with non-zero rows works: the set is VVᵀ = Σ, Σ_i v_i w_iw_iᵀ/‖Aᵀw_i‖ = 0).
    """

    INITS = AnalyticGame.INITS + ("random",)

    def __init__(self, name, d=2, k=16, hidden=128, sigma=None, sigma_seed=0, init_scale=1.0, **kw):
        kw.setdefault("init", "random")
        super().__init__(name, **kw)
        self.d, self.k, self.hidden = _positive_int(d, "game.d"), _positive_int(k, "game.k"), \
            _positive_int(hidden, "game.hidden")
        if self.k < self.d:
            raise ConfigError(f"game.k must be >= game.d for a well-specified generator (got k={k}, d={d})")
        self.sigma = covariance_matrix([[1.0, 0.5], [0.5, 1.0]] if sigma is None else sigma, self.d, sigma_seed)
        if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) or not init_scale > 0:
            raise ConfigError(f"game.init_scale must be a number > 0 (got {init_scale!r})")
        self.init_scale = float(init_scale)
        self.dim_x, self.dim_y = self.d * self.k, self.hidden * (self.d + 1)
        if self.init == "random" and (self._x0 is not None or self._y0 is not None):
            raise ConfigError("game.init=random draws every start; set game.x0/game.y0 to null, or choose "
                              "game.init=ball|box|normal|grid to spread starts around them")
        self._check_dims()

    def _draws(self, n: int) -> torch.Tensor:
        """n starts: start i is drawn from seed + i, so ``game.starts=N seed=s`` runs exactly the
        single starts of seeds s, …, s+N−1 (N seeds as one vectorized run)."""
        scale = torch.cat([torch.full((self.dim_x,), 1 / math.sqrt(self.k)),
                           torch.full((self.hidden * self.d,), 1 / math.sqrt(self.d)),
                           torch.full((self.hidden,), 1 / math.sqrt(self.hidden))]).double()
        z = torch.stack([torch.randn(self.dim_x + self.dim_y, generator=torch.Generator().manual_seed(self._seed + i),
                                     dtype=torch.float64) for i in range(n)])
        return (z * scale * self.init_scale).to(self.device, self.dtype)

    def default_start(self):
        z = self._draws(1)[0]
        return z[: self.dim_x].tolist(), z[self.dim_x:].tolist()

    def initial_points(self):
        if self.init != "random" or self._explicit is not None:
            return super().initial_points()
        z = self._draws(self.n_starts)
        return z[:, : self.dim_x].clone(), z[:, self.dim_x:].clone()

    def discriminator(self, y):
        return y[: self.hidden * self.d].reshape(self.hidden, self.d), y[self.hidden * self.d:]

    def f(self, x, y, batch=None):
        V = self.generator(x)
        W, v = self.discriminator(y)
        real = ((W @ self.Sigma) * W).sum(-1).sqrt()     # ‖Aᵀw_i‖ = √(w_iᵀΣw_i)
        fake = (W @ V).norm(dim=-1)                      # ‖Vᵀw_i‖
        return RELU_CONST * (v * (real - fake)).sum()

    def equilibrium(self):
        return None   # a manifold of equilibria: cov_error, not dist_to_eq

    def critical_points(self):
        _, y0 = self.default_start()
        W = self.tensor(y0)[: self.hidden * self.d]
        y = torch.cat([W, torch.zeros(self.hidden, dtype=self.dtype, device=self.device)])
        return [CriticalPoint(self._representative_V(), y, "V = [chol(Sigma) | 0], v = 0, W = the start's")]


class CovarianceQuadratic(_Covariance):
    """Fiez & Ratliff 2021, App. K.6 (Eq. 58): V, W ∈ R^{d×d}, D_W(x) = xᵀWx, regularizer −(μ/2)‖W‖²_F on
    the discriminator (μ = 0: the unregularized WGAN of Daskalakis et al., purely imaginary
    Jacobian at equilibrium). Gradients: (−(W + Wᵀ)V, −(Σ − VVᵀ) + μW). Critical points:
    VVᵀ = Σ, W = 0 (with μ > 0); d = 1: (±σ, 0) with spec(J_τ) = (τμ ± √(τ²μ² − 16τσ²))/2.
    """

    def __init__(self, name, d=1, sigma=None, sigma_seed=0, mu=0.5, **kw):
        super().__init__(name, **kw)
        self.d = self.k = _positive_int(d, "game.d")
        self.sigma = covariance_matrix([[1.0975]] if sigma is None else sigma, self.d, sigma_seed)
        if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not math.isfinite(mu) or mu < 0:
            raise ConfigError(f"game.mu must be a number >= 0 (got {mu!r})")
        self.mu = float(mu)
        self.dim_x = self.dim_y = self.d * self.d
        self._check_dims()

    def default_start(self):
        gen = torch.Generator().manual_seed(self._seed)   # V0, W0 ~ N(0, 1) (the K.6 notebook)
        z = torch.randn(2 * self.d * self.d, generator=gen, dtype=torch.float64)
        return z[: self.dim_x].tolist(), z[self.dim_x:].tolist()

    def f(self, x, y, batch=None):
        V, W = self.generator(x), y.reshape(self.d, self.d)
        return (W * (self.Sigma - V @ V.T)).sum() - 0.5 * self.mu * (W * W).sum()

    def equilibrium(self):
        return self.critical_points()[0] if self.d == 1 else None

    def critical_points(self):
        zero = torch.zeros(self.dim_y, dtype=self.dtype, device=self.device)
        V = self._representative_V()
        return [CriticalPoint(V, zero, "V = chol(Sigma), W = 0"), CriticalPoint(-V, zero, "V = -chol(Sigma), W = 0")]
