"""Derivatives of a game, all through torch.func, with a count of what each step spends.

Notation: L_x, L_y are the players' own losses; the game vector field is
ξ(x, y) = (∇_x L_x, ∇_y L_y) (for zero-sum games ξ = (∇_x f, -∇_y f)); its Jacobian is

    J = [[∇²_xx L_x, ∇²_xy L_x],
         [∇²_yx L_y, ∇²_yy L_y]].

Second-order products are forward-over-reverse (a JVP of a gradient, ~2 gradients of cost);
no Hessian is materialized except by ``hess_yy`` / ``field_jacobian``, meant for small games.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import grad, jacfwd, jvp, vjp


@dataclass
class CostMeter:
    """Evaluations spent, in comparable units.

    ``grads`` counts game-vector-field evaluations (both players' gradients = 1, one player's
    gradient = 0.5); ``hvps`` counts Hessian-/Jacobian-vector products (each ~ one field
    evaluation of work). Python-side counters: free, and unaffected by vmap over starts.
    """

    grads: float = 0.0
    hvps: float = 0.0

    def reset(self):
        self.grads = self.hvps = 0.0


class Oracle:
    """The derivatives an algorithm may ask for, at any (x, y), on one fixed batch."""

    def __init__(self, game, batch=None, cost: CostMeter | None = None, sampler=None):
        self.game, self.batch, self.sampler = game, batch, sampler
        self.cost = cost if cost is not None else CostMeter()

    def next_batch(self) -> "Oracle":
        """The same oracle on a fresh batch (GDA-k's inner steps); itself for deterministic games."""
        if self.sampler is None:
            return self
        return type(self)(self.game, self.sampler(), self.cost, self.sampler)

    # -- losses ---------------------------------------------------------------------------------
    def losses(self, x, y):
        return self.game.losses(x, y, self.batch)

    def loss_x(self, x, y):
        return self.game.loss_x(x, y, self.batch)

    def loss_y(self, x, y):
        return self.game.loss_y(x, y, self.batch)

    def _gx(self, x, y):
        return grad(self.loss_x, argnums=0)(x, y)

    def _gy(self, x, y):
        return grad(self.loss_y, argnums=1)(x, y)

    # -- first order ------------------------------------------------------------------------------
    def field(self, x, y):
        """ξ = (∇_x L_x, ∇_y L_y)."""
        self.cost.grads += 1.0
        return self._field(x, y)

    def _field(self, x, y):
        if self.game.zero_sum:  # one backward pass gives both
            gx, gy = grad(self.loss_x, argnums=(0, 1))(x, y)
            return gx, -gy
        if self.game.penalized_zero_sum:  # L_y = -L_x + penalty: one backward pass of L_x
            gx, gy = grad(self.loss_x, argnums=(0, 1))(x, y)
            return gx, grad(self.game.penalty, argnums=1)(x, y, self.batch) - gy
        return self._gx(x, y), self._gy(x, y)

    def grad_x(self, x, y):
        self.cost.grads += 0.5
        return self._gx(x, y)

    def grad_y(self, x, y):
        self.cost.grads += 0.5
        return self._gy(x, y)

    # -- second order (products) ----------------------------------------------------------------
    def hvp_yy(self, x, y, v):
        """∇²_yy L_y · v."""
        self.cost.hvps += 1.0
        return jvp(lambda yy: self._gy(x, yy), (y,), (v,))[1]

    def hvp_yx(self, x, y, u):
        """∇²_yx L_y · u = d/dε ∇_y L_y(x + εu, y)."""
        self.cost.hvps += 1.0
        return jvp(lambda xx: self._gy(xx, y), (x,), (u,))[1]

    def hvp_xy(self, x, y, v):
        """∇²_xy L_x · v = d/dε ∇_x L_x(x, y + εv)."""
        self.cost.hvps += 1.0
        return jvp(lambda yy: self._gx(x, yy), (y,), (v,))[1]

    def grad_y_of_leader(self, x, y):
        """∇_y L_x (general-sum FR's total derivative needs the leader's loss in y)."""
        self.cost.grads += 0.5
        return grad(self.loss_x, argnums=1)(x, y)

    def hvp_xy_follower(self, x, y, v):
        """∇²_xy L_y · v = d/dε ∇_x L_y(x, y + εv)."""
        self.cost.hvps += 1.0
        return jvp(lambda yy: grad(self.loss_y, argnums=0)(x, yy), (y,), (v,))[1]

    def hvp_xx(self, x, y, u):
        """∇²_xx L_x · u."""
        self.cost.hvps += 1.0
        return jvp(lambda xx: self._gx(xx, y), (x,), (u,))[1]

    def field_jvp(self, x, y, u, v):
        """J · (u, v), returned as its (x, y) blocks."""
        self.cost.hvps += 1.0
        return jvp(self._field, (x, y), (u, v))[1]

    def field_vjp(self, x, y, a, b):
        """Jᵀ · (a, b), returned as its (x, y) blocks."""
        self.cost.hvps += 1.0
        _, pullback = vjp(self._field, x, y)
        return pullback((a, b))

    # -- dense (small games and tests only) -----------------------------------------------------
    def hess_yy(self, x, y):
        """∇²_yy L_y as a matrix (dim_y Hessian-vector products)."""
        self.cost.hvps += float(y.shape[-1])
        return jacfwd(lambda yy: self._gy(x, yy))(y)

    def field_jacobian(self, x, y):
        """The full Jacobian J of ξ at (x, y), as one (n+m)×(n+m) matrix (n+m products)."""
        n = x.shape[-1]
        self.cost.hvps += float(n + y.shape[-1])

        def flat_field(z):
            gx, gy = self._field(z[:n], z[n:])
            return torch.cat([gx, gy])

        return jacfwd(flat_field)(torch.cat([x, y]))
