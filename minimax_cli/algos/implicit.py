"""IU, implicit updates (Liang & Stokes 2019, Thm 5; Kulis & Bartlett 2010):

    z_{t+1} = z_t − Λ ξ(z_{t+1}),     Λ = diag(η_x I, η_y I),  ξ = (∇_x L_x, ∇_y L_y)

Each step solves F(w) = w − z_t + Λ ξ(w) = 0 for w = z_{t+1}:

* ``inner: newton`` — w ← w − (I + Λ J(w))⁻¹ F(w) with the dense Jacobian J of ξ (small games).
  For quadratic games ξ is affine, so the first Newton step from w = z_t solves the equation
  exactly: (I + Λ J) z_{t+1} = z_t − Λ ξ(0).
* ``inner: fixed_point`` — w ← z_t − Λ ξ(w) (a proximal-point iteration; contracts when
  max(η)·Lip(ξ) < 1), for games too large for a dense Jacobian.
* ``inner: auto`` — newton on analytic games, fixed_point on neural games (Liang & Stokes 2019 does not say
  how IU was solved for its GANs). Newton is refused above NEWTON_MAX_DIM parameters.

``inner_steps`` iterations at most; iterations stop improving (masked) once ‖F(w)‖ ≤ inner_tol.
The final residual ‖F(z_{t+1})‖ is logged as algo/residual.
"""

from __future__ import annotations

import torch

from minimax_cli import linalg
from minimax_cli.algos.base import GameOptimizer, check_rate, follower_rate
from minimax_cli.errors import ConfigError


INNER = ("auto", "newton", "fixed_point")
#: Newton's inner step materializes the (dim_x + dim_y)² Jacobian: small games only
NEWTON_MAX_DIM = 2000


class ImplicitUpdate(GameOptimizer):
    """Implicit (proximal) gradient descent-ascent: z_{t+1} = z_t − Λ ξ(z_{t+1})."""

    def __init__(self, name="iu", lr_x=0.05, lr_y=None, tau=None, inner="auto", inner_steps=10, inner_tol=1e-12):
        super().__init__(name)
        self.lr_x = check_rate(lr_x, "algo.lr_x")
        self.lr_y = follower_rate(self.lr_x, lr_y, tau)
        if inner not in INNER:
            raise ConfigError(f"algo.inner must be one of {', '.join(INNER)} (got {inner!r})")
        if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 1:
            raise ConfigError(f"algo.inner_steps must be an integer >= 1 (got {inner_steps!r})")
        self.inner, self.inner_steps = inner, inner_steps
        self.inner_tol = check_rate(inner_tol, "algo.inner_tol")

    def check_game(self, game, dim_x, dim_y):
        if self.inner == "auto":
            self.inner = "newton" if getattr(game, "analytic", True) else "fixed_point"
        dim = dim_x + dim_y
        if self.inner == "newton" and dim > NEWTON_MAX_DIM:
            raise ConfigError(f"algo.inner=newton builds the dense {dim}x{dim} Jacobian of the field (at most "
                              f"{NEWTON_MAX_DIM} parameters): use algo.inner=fixed_point")

    def init(self, x, y, oracle):
        self.check_game(oracle.game, x.shape[-1], y.shape[-1])
        return super().init(x, y, oracle)

    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        if self.inner == "auto":   # a resumed run restores its state without init
            self.inner = "newton" if getattr(oracle.game, "analytic", True) else "fixed_point"
        n = x.shape[-1]
        z = torch.cat([x, y])
        lam = torch.cat([torch.full_like(x, self.lr_x), torch.full_like(y, self.lr_y)])

        def residual(w, counted=True):
            gx, gy = (oracle.field if counted else oracle._field)(w[:n], w[n:])
            return w - z + lam * torch.cat([gx, gy])

        w = z
        for _ in range(self.inner_steps):
            F = residual(w)
            active = F.norm() > self.inner_tol
            if self.inner == "newton":
                J = oracle.field_jacobian(w[:n], w[n:])
                step = linalg.solve(torch.eye(w.shape[-1], dtype=w.dtype, device=w.device) + lam[:, None] * J, F)
                w_next = w - step
            else:
                w_next = w - F          # = z − Λ ξ(w)
            w = torch.where(active, w_next, w)
        return {"x": w[:n], "y": w[n:]}, {"residual": residual(w, counted=False).norm()}
