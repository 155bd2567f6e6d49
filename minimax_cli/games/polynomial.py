"""Fiez & Ratliff 2021's polynomial games (App. K.2 Eq. 53 and K.3 Eq. 54).

Both are zero-sum: the leader x1 minimizes f, the follower x2 maximizes it. The garbled
equations are restored (checked against the authors' notebooks), and the
critical points below were refined by Newton's method to |ξ| < 1e-11 (tests re-check them).
"""

from __future__ import annotations

import torch

from minimax_cli.games.base import AnalyticGame, CriticalPoint
from minimax_cli.games.toy import ScalarGame


class Poly53(AnalyticGame):
    """K.2, Eq. 53 (a = 1, b = 1.25), x1 = (x11, x12), x2 = (x21, x22):

        f = (5/4)(x11² + 2x11x21 + ½x21² − ½x12² + 2x12x22 − x22²)(x11 − 1)²
            + x11² Σ_{i=1,2} [(x1i − 1)² − (x2i − 1)²]

    Critical points: (1,1,1,1) and (−4.734, 0.278, −92.474, 0.533) are DNEs (τ* = 0); the origin is
    neither a DNE nor a DSE (locally Fiez & Ratliff 2021's Example 2 with v = 5: stable only for τ ∈ (½, 2)).
    """

    dim_x = dim_y = 2
    POINTS = (
        ((1.0, 1.0), (1.0, 1.0), "DNE (1, 1, 1, 1)"),
        ((-4.734045036753715, 0.27789636944643625), (-92.47439404724904, 0.5327086291826797),
         "DNE (-4.73, 0.28, -92.47, 0.53)"),
        ((0.0, 0.0), (0.0, 0.0), "origin: neither DNE nor DSE (Example 2, v = 5)"),
    )

    def __init__(self, name, **kw):
        super().__init__(name, **kw)
        self._check_dims()

    def default_start(self):
        return [-1.5, 2.5], [2.5, 3.0]   # the text's (x1⁰, x2⁰) (the notebook uses x11 = −1)

    def f(self, x, y, batch=None):
        x11, x12, x21, x22 = x[0], x[1], y[0], y[1]
        quad = x11**2 + 2 * x11 * x21 + 0.5 * x21**2 - 0.5 * x12**2 + 2 * x12 * x22 - x22**2
        pull = (x11 - 1) ** 2 + (x12 - 1) ** 2 - (x21 - 1) ** 2 - (x22 - 1) ** 2
        return 1.25 * quad * (x11 - 1) ** 2 + x11**2 * pull

    def critical_points(self):
        return [CriticalPoint(self.tensor(x), self.tensor(y), label) for x, y, label in self.POINTS]


class Poly54(ScalarGame):
    """K.3, Eq. 54: f = −exp(−0.01(x1² + x2²)) · ((0.3x1² + x2)² + (0.3x2² + x1)²).

    Eleven critical points (the authors' Mathematica list): one DNE (10.57, −8.95) (τ* = 0), two
    DSEs that are not DNEs, (−11.03, −11.03) and (−1.62, −1.62) (τ* = 1), and eight points that
    are neither. The paper says those eight are unstable for every τ; seven are, but (9.32, 9.32)
    (both players at a local minimum of f) is stable for τ ∈ (0, 1): J_τ = [[a, b], [−τb, −τa]]
    with a = 5.28 > 0, b² > a², has trace a(1 − τ) and determinant τ(b² − a²) (test_tau_star.py).
    The first listed is the DSE that trajectories from the paper's start (−9, −9) reach.
    """

    start = (-9.0, -9.0)
    POINTS = (
        (-11.029738508573407, -11.029738508573407, "DSE (-11.03, -11.03)"),
        (-1.6216535911507022, -1.6216535911507022, "DSE (-1.62, -1.62)"),
        (10.572163992478098, -8.95173917676807, "DNE (10.57, -8.95)"),
        (1.3290523981301108, -13.820094037878516, "neither"),
        (-3.3333333333333335, -3.3333333333333335, "neither"),
        (0.0, 0.0, "neither"),
        (-13.820094037878516, 1.3290523981301108, "neither"),
        (13.643388740325724, 2.1578773928584454, "neither"),
        (9.318058766390775, 9.318058766390775, "neither (stable for tau < 1)"),
        (-8.95173917676807, 10.572163992478098, "neither"),
        (2.1578773928584454, 13.643388740325724, "neither"),
    )

    def value(self, x, y):
        return -torch.exp(-(0.01 * x**2 + 0.01 * y**2)) * ((0.3 * x**2 + y) ** 2 + (0.3 * y**2 + x) ** 2)

    def critical_points(self):
        return [CriticalPoint(self.tensor([x]), self.tensor([y]), label) for x, y, label in self.POINTS]
