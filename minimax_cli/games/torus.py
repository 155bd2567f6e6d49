"""Fiez & Ratliff 2021's location game on the torus (App. K.4, Eq. 55):

    f(x1, x2) = −0.15 cos(x1) + cos(x1 − x2) + 0.15 cos(x2),   x1, x2 angles

Player 1 (min) wants to be far from player 2 but near 0; player 2 (max) wants to be near player 1.
Critical points: (0, 0) and (π, π) are DSEs, not DNEs, with τ* = 0.85/1.15 ≈ 0.739 and
1.15/0.85 ≈ 1.353; (0, π) and ±(1.646, 1.496) are unstable for every τ. The paper says (π, 0) is
too, but J_τ there is [[0.85, −1], [τ, −0.85τ]] (trace 0.85(1 − τ), det 0.2775τ): it is a stable
non-equilibrium for τ ∈ (0, 1), unstable for τ > 1 (test_tau_star.py).

Angles are NOT wrapped: the iterates live in R², which is the torus' universal cover (f is
2π-periodic, so the dynamics are the same modulo 2π, and wrapping, a non-smooth projection, would
break the pure step maps that vmap/jacrev need). Hence ``dist_to_eq`` is the plain Euclidean
distance to (0, 0); the metric ``torus_dist`` is the distance on the torus (each coordinate
difference wrapped to [−π, π)). The authors' notebook wrapped angles to [−π, π] each step.
"""

from __future__ import annotations

import math

import torch

from minimax_cli.games.base import CriticalPoint
from minimax_cli.games.toy import ScalarGame


def wrap(angle: torch.Tensor) -> torch.Tensor:
    """angle modulo 2π, in [−π, π)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


class Torus(ScalarGame):
    """Location game on the torus (Fiez & Ratliff 2021, Eq. 55)."""

    start = (2.0, -1.0)   # one of the paper's two initial conditions (the other: (1.9, -2.1))
    POINTS = (
        (0.0, 0.0, "DSE (0, 0)"),
        (math.pi, math.pi, "DSE (pi, pi)"),
        (math.pi, 0.0, "neither (pi, 0), stable for tau < 1"),
        (0.0, math.pi, "neither (0, pi)"),
        (-1.6458668178716118, -1.495725835718176, "neither (-1.646, -1.496)"),
        (1.6458668178716118, 1.495725835718176, "neither (1.646, 1.496)"),
    )

    def value(self, x, y):
        return -0.15 * torch.cos(x) + torch.cos(x - y) + 0.15 * torch.cos(y)

    def critical_points(self):
        return [CriticalPoint(self.tensor([x]), self.tensor([y]), label) for x, y, label in self.POINTS]

    def extra_metrics(self, x, y, step):
        eq = self.equilibrium()
        return {"torus_dist": (wrap(x - eq.x).pow(2).sum(-1) + wrap(y - eq.y).pow(2).sum(-1)).sqrt()}
