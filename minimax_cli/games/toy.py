"""Closed-form toy games (Wang et al. 2020, §6.1, Gao et al. 2022, §4.1; bilinear and quadratic games).

All are zero-sum: the leader x minimizes f, the follower y maximizes it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from minimax_cli.errors import ConfigError
from minimax_cli.games.base import AnalyticGame, CriticalPoint, matrix


class ScalarGame(AnalyticGame):
    """A game with x, y in R (the 2-D toy functions)."""

    dim_x = dim_y = 1
    start = (1.0, 1.0)

    def __init__(self, name, **kw):
        super().__init__(name, **kw)
        self._check_dims()

    def default_start(self):
        return [self.start[0]], [self.start[1]]

    def f(self, x, y, batch=None):
        return self.value(x[0], y[0])

    def f_over_starts(self, xs, ys):
        """f at N starts at once, (N, 1) tensors -> (N,): ``value`` is elementwise, so the runner's
        convergence check differentiates its sum with plain autograd, without vmap."""
        return self.value(xs.squeeze(-1), ys.squeeze(-1))   # views whose backward is a view too

    def value(self, x, y):
        raise NotImplementedError

    def critical_points(self):
        zero = self.tensor([0.0])
        return [CriticalPoint(zero, zero, "(0, 0)")]


class G1(ScalarGame):
    """g1 = -3x² - y² + 4xy: (0,0) is a local (and global) minimax but not a Nash point; GDA diverges."""

    start = (5.0, 7.0)

    def value(self, x, y):
        return -3 * x**2 - y**2 + 4 * x * y


class G2(ScalarGame):
    """g2 = 3x² + y² + 4xy: (0,0) is not a local minimax (H_yy > 0), yet GDA converges to it."""

    start = (6.0, 5.0)

    def value(self, x, y):
        return 3 * x**2 + y**2 + 4 * x * y


class G3(ScalarGame):
    """g3 = (4x² - (y - 3x + 0.05x³)² - 0.1y⁴)·exp(-0.01(x² + y²)): (0,0) is a local minimax.

    This is the paper's g3 (Wang et al. 2020, §6.1); ``scale: 0.1`` gives the reference code's version
    (its f3 is 0.1× the paper's), which acts like 10× smaller step sizes.
    """

    start = (7.0, 5.0)

    def __init__(self, name, scale=1.0, **kw):
        super().__init__(name, **kw)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ConfigError(f"game.scale must be a number > 0 (got {scale!r})")
        self.scale = float(scale)

    def value(self, x, y):
        polynomial = 4 * x**2 - (y - 3 * x + 0.05 * x**3) ** 2 - 0.1 * y**4
        if self.scale != 1.0:   # (a product with 1 would cost a pass forward and two backward over all starts)
            polynomial = self.scale * polynomial
        return polynomial * torch.exp(-0.01 * (x**2 + y**2))


class Quadratic(AnalyticGame):
    """f = ½xᵀAx + xᵀBy + ½yᵀCy with A (n×n), B (n×m), C (m×m) symmetric, from the config."""

    def __init__(self, name, A, B, C, **kw):
        super().__init__(name, **kw)
        self.A_rows, self.B_rows, self.C_rows = matrix(A, "game.A"), matrix(B, "game.B"), matrix(C, "game.C")
        n, m = len(self.A_rows), len(self.C_rows)
        _square(self.A_rows, "game.A")
        _square(self.C_rows, "game.C")
        if len(self.B_rows) != n or len(self.B_rows[0]) != m:
            raise ConfigError(f"game.B must be {n}×{m} to couple x (game.A is {n}×{n}) with y "
                              f"(game.C is {m}×{m}); got {len(self.B_rows)}×{len(self.B_rows[0])}")
        self.dim_x, self.dim_y = n, m
        self._check_dims()

    def setup(self, device, dtype, seed):
        super().setup(device, dtype, seed)
        self.A, self.B, self.C = (self.tensor(r) for r in (self.A_rows, self.B_rows, self.C_rows))

    def f(self, x, y, batch=None):
        return 0.5 * x @ self.A @ x + x @ self.B @ y + 0.5 * y @ self.C @ y

    def hessian(self) -> torch.Tensor:
        return torch.cat([torch.cat([self.A, self.B], 1), torch.cat([self.B.T, self.C], 1)], 0)

    def critical_points(self):
        # (0,0) is always critical; it is the only one when the Hessian is non-singular.
        return [CriticalPoint(self.tensor([0.0] * self.dim_x), self.tensor([0.0] * self.dim_y), "origin")]


class Bilinear(Quadratic):
    """f = xᵀCy: the pure-rotation game where GDA spirals out (Liang & Stokes 2019, §3: U(θ, ω) = θᵀCω).

    ``C`` is an n×m nested list, or ``random``: a dim×dim matrix with C_ij ~ U[0, 1) i.i.d. drawn
    by numpy.random.default_rng(C_seed) (Liang & Stokes 2019, Fig. 1: p = q = 5). ``start_radius`` r > 0 makes
    the default start a point at distance r from the equilibrium in a direction drawn from the
    run's seed (Fig. 1: r = 0.5); null keeps the all-ones start.
    """

    def __init__(self, name, C, dim=None, C_seed=0, start_radius=None, **kw):
        if isinstance(C, str):
            if C != "random":
                raise ConfigError(f"game.C must be a nested list or 'random' (got {C!r})")
            if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
                raise ConfigError(f"game.C=random needs game.dim, an integer >= 1 (p = q = dim; got {dim!r})")
            if isinstance(C_seed, bool) or not isinstance(C_seed, int) or C_seed < 0:
                raise ConfigError(f"game.C_seed must be an integer >= 0 (got {C_seed!r})")
            rows = np.random.default_rng(C_seed).uniform(0.0, 1.0, size=(dim, dim)).tolist()
        else:
            if dim is not None:
                raise ConfigError("game.dim is only used with game.C=random (the matrix given fixes the dimensions)")
            rows = matrix(C, "game.C")
        if start_radius is not None and (isinstance(start_radius, bool) or not isinstance(start_radius, (int, float))
                                         or not math.isfinite(start_radius) or start_radius <= 0):
            raise ConfigError(f"game.start_radius must be null or a number > 0 (got {start_radius!r})")
        self.start_radius = None if start_radius is None else float(start_radius)
        n, m = len(rows), len(rows[0])
        zeros = lambda k: [[0.0] * k for _ in range(k)]  # noqa: E731
        super().__init__(name, A=zeros(n), B=rows, C=zeros(m), **kw)

    def default_start(self):
        if self.start_radius is None:
            return super().default_start()
        gen = torch.Generator().manual_seed(self._seed)
        z = torch.randn(self.dim_x + self.dim_y, generator=gen, dtype=torch.float64)
        z = self.start_radius * z / z.norm()
        return z[: self.dim_x].tolist(), z[self.dim_x:].tolist()


class GeneralQuadratic(AnalyticGame):
    """General-sum quadratic game: each player its own quadratic loss,

        L_x = ½xᵀA_x x + xᵀB_x y + ½yᵀC_x y,     L_y = ½xᵀA_y x + xᵀB_y y + ½yᵀC_y y

    (Wang et al. 2020, §5 / App. C.2: Stackelberg games). The zero-sum game is A_y = −A_x, B_y = −B_x, C_y = −C_x.
    """

    zero_sum = False

    def __init__(self, name, Ax, Bx, Cx, Ay, By, Cy, **kw):
        super().__init__(name, **kw)
        mats = {k: matrix(v, f"game.{k}") for k, v in (("Ax", Ax), ("Bx", Bx), ("Cx", Cx), ("Ay", Ay), ("By", By), ("Cy", Cy))}
        for k in ("Ax", "Cx", "Ay", "Cy"):
            _square(mats[k], f"game.{k}")
        n, m = len(mats["Ax"]), len(mats["Cx"])
        for k, shape in (("Ay", (n, n)), ("Cy", (m, m)), ("Bx", (n, m)), ("By", (n, m))):
            got = (len(mats[k]), len(mats[k][0]))
            if got != shape:
                raise ConfigError(f"game.{k} must be {shape[0]}×{shape[1]} (got {got[0]}×{got[1]})")
        self.rows, self.dim_x, self.dim_y = mats, n, m
        self._check_dims()

    def setup(self, device, dtype, seed):
        super().setup(device, dtype, seed)
        self.M = {k: self.tensor(v) for k, v in self.rows.items()}

    def losses(self, x, y, batch=None):
        M = self.M
        lx = 0.5 * x @ M["Ax"] @ x + x @ M["Bx"] @ y + 0.5 * y @ M["Cx"] @ y
        ly = 0.5 * x @ M["Ay"] @ x + x @ M["By"] @ y + 0.5 * y @ M["Cy"] @ y
        return lx, ly

    def critical_points(self):
        return [CriticalPoint(self.tensor([0.0] * self.dim_x), self.tensor([0.0] * self.dim_y), "origin")]


def _square(rows, key):
    if len(rows) != len(rows[0]):
        raise ConfigError(f"{key} must be square (got {len(rows)}×{len(rows[0])})")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if abs(v - rows[j][i]) > 1e-12 * max(1.0, abs(v)):
                raise ConfigError(f"{key} must be symmetric: {key}[{i}][{j}] = {v} but {key}[{j}][{i}] = {rows[j][i]}")
