"""Dirac-GAN (Mescheder et al. 2018) as used by Fiez & Ratliff 2021 (§5, Fig. 1; App. K.5, Eqs. 56–57).

Generator p_θ = δ_θ, linear discriminator D(x; ω) = ωx, data p_D = δ_0, and
ℓ(t) = −log(1 + e^{−t}) (the original GAN; ℓ'(t) = 1/(1 + e^t), ℓ'(0) = ½, ℓ''(0) = −¼):

    saturating, zero-sum      f(θ, ω) = ℓ(θω) + ℓ(0) − (μ/2) ω²          L_x = f, L_y = −f
    non-saturating (Eq. 56)   L_x = −ℓ(−θω) + ℓ(0) − (μ/2) ω²,   L_y = −ℓ(θω) − ℓ(0) + (μ/2) ω²

The R1 penalty (μ/2) E_{p_D}‖∇_x D(x; ω)‖² = (μ/2) ω² (R2 gives the same here) acts on the
discriminator only; μ = 0 is the unregularized game. The unique critical point is (0, 0), where
both objectives have the game Jacobian J = [[0, ℓ'(0)], [−ℓ'(0), μ]] (Eq. 57 at τ = 1), so
spec(J_τ) = (τμ ± √(τ²μ² − τ))/2: purely imaginary for μ = 0 (τ-GDA cycles), stable for every
τ > 0 when μ > 0, real iff τ ≥ 1/μ².
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minimax_cli.errors import ConfigError
from minimax_cli.games.base import AnalyticGame, CriticalPoint

OBJECTIVES = ("saturating", "non_saturating")


def ell(t: torch.Tensor) -> torch.Tensor:
    """ℓ(t) = −log(1 + e^{−t}) = −softplus(−t) (numerically stable for large |t|)."""
    return -F.softplus(-t)


class DiracGAN(AnalyticGame):
    """Dirac-GAN: θ (generator) against ω (linear discriminator), R1-regularized with μ."""

    dim_x = dim_y = 1

    def __init__(self, name, mu=0.3, objective="saturating", **kw):
        super().__init__(name, **kw)
        if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not math.isfinite(mu) or mu < 0:
            raise ConfigError(f"game.mu must be a number >= 0 (got {mu!r})")
        if objective not in OBJECTIVES:
            raise ConfigError(f"game.objective must be one of {', '.join(OBJECTIVES)} (got {objective!r})")
        self.mu, self.objective = float(mu), objective
        self.zero_sum = objective == "saturating"
        self._check_dims()

    def default_start(self):
        return [1.0], [1.0]   # (θ0, ω0) = (1, 1) (the authors' notebook)

    def f(self, x, y, batch=None):
        theta, omega = x[0], y[0]
        return ell(theta * omega) + math.log(0.5) - 0.5 * self.mu * omega**2   # ℓ(0) = −log 2

    def losses(self, x, y, batch=None):
        if self.zero_sum:
            value = self.f(x, y, batch)
            return value, -value
        theta, omega = x[0], y[0]
        reg = 0.5 * self.mu * omega**2
        lx = -ell(-theta * omega) + math.log(0.5) - reg
        ly = -ell(theta * omega) - math.log(0.5) + reg
        return lx, ly

    def critical_points(self):
        zero = self.tensor([0.0])
        return [CriticalPoint(zero, zero, "(0, 0): p_θ = p_D, D = 0")]
