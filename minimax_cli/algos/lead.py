"""LEAD, least action dynamics (Askari Hemmat et al. 2023): momentum plus the counter-rotational coupling of the
players' latest moves, through the mixed derivatives of each player's own loss.

Eq. 12 / Alg. 1 (``coupling: outside``, ``order: simultaneous``), with Δp_k = p_k − p_{k−1}:

    Δx_{k+1} = β Δx_k − η_x ∇_x L_x(z_k) − α_x ∇²_xy L_x(z_k) Δy_k
    Δy_{k+1} = β Δy_k − η_y ∇_y L_y(z_k) − α_y ∇²_yx L_y(z_k) Δx_k

For zero-sum games (L_y = −f) these are the paper's x_{k+1} = x_k + βΔx_k − η∇_x f − α∇_xy f Δy_k
and y_{k+1} = y_k + βΔy_k + η∇_y f + α∇_yx f Δx_k. The first step uses Δ = 0 (x_{−1} = x_0).

LEAD-Adam, Alg. 2 (``coupling: inside``, ``order: alternating``, ``precond: adam``): the coupled
gradient is fed to the preconditioner, the follower answers the leader's new move:

    x_{t+1} = x_t − η_x Adam(∇_x L_x(x_t, y_t) + α_x ∇²_xy L_x(x_t, y_t)(y_t − y_{t−1}))
    y_{t+1} = y_t − η_y Adam(∇_y L_y(x_{t+1}, y_t) + α_y ∇²_yx L_y(x_{t+1}, y_t)(x_{t+1} − x_t))

Alg. 2 lists α as an input but leaves it out of lines 7 and 15; the experiments give α per player
(α_d, α_g), so α multiplies the coupling term here. Products are forward-over-reverse HVPs.

``order: alternating_follower_first`` is the reference code's 8-Gaussians loop (a D step, then a G
step against the new D, each coupled to the other's latest move):

    y_{t+1} = y_t − η_y Adam(∇_y L_y(x_t, y_t) + α_y ∇²_yx L_y(x_t, y_t)(x_t − x_{t−1}))
    x_{t+1} = x_t − η_x Adam(∇_x L_x(x_t, y_{t+1}) + α_x ∇²_xy L_x(x_t, y_{t+1})(y_{t+1} − y_t))

``fresh_batch`` (alternating orders) evaluates the second player's step on a new batch, as that
loop draws new noise for G's step. ``precond_x`` / ``precond_y``: each player's own Adam fields.
"""

from __future__ import annotations

import torch

from minimax_cli.algos.base import GameOptimizer, check_fresh_batch, check_rate, follower_rate, player_preconds
from minimax_cli.algos.precond import Precond
from minimax_cli.errors import ConfigError


ORDERS = ("simultaneous", "alternating", "alternating_follower_first")


class LEAD(GameOptimizer):
    """Least action dynamics (Askari Hemmat et al. 2023, Eq. 12 / Alg. 1) and LEAD-Adam (Alg. 2)."""

    def __init__(self, name="lead", lr_x=0.05, lr_y=None, tau=None, alpha=0.05, alpha_x=None, alpha_y=None,
                 momentum=0.0, coupling="outside", order="simultaneous", precond="sgd", precond_x=None,
                 precond_y=None, fresh_batch=False):
        super().__init__(name)
        self.lr_x = check_rate(lr_x, "algo.lr_x")
        self.lr_y = follower_rate(self.lr_x, lr_y, tau)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ConfigError(f"algo.alpha must be a number (got {alpha!r})")
        self.alpha_x = float(alpha if alpha_x is None else alpha_x)
        self.alpha_y = float(alpha if alpha_y is None else alpha_y)
        if coupling not in ("outside", "inside"):
            raise ConfigError(f"algo.coupling must be outside (Eq. 12) or inside (Alg. 2) (got {coupling!r})")
        if order not in ORDERS:
            raise ConfigError(f"algo.order must be one of {', '.join(ORDERS)} (got {order!r})")
        self.coupling, self.order = coupling, order
        self.fresh_batch = check_fresh_batch(fresh_batch, order)
        self.momentum = float(momentum)
        Precond.build(precond, momentum)  # validates the momentum range
        # β acts on the whole displacement (coupling included), so it lives here, not in P
        self.px, self.py = player_preconds(precond, precond_x, precond_y)

    def init(self, x, y, oracle):
        return {"x": x, "y": y, "dx": torch.zeros_like(x), "dy": torch.zeros_like(y),
                "px": self.px.init(x), "py": self.py.init(y)}

    @staticmethod
    def _gradient_and_coupling(grad_fn, product_fn, alpha, x, y, delta, at=None):
        """(the player's gradient, α · mixed derivative · the opponent's last move) at (x, y): the
        gradient is the primal of the product's JVP; with α = 0 (LEAD-Adam's α_g) only the gradient
        (coupling None: no term, and no parameter-sized zeros to add). ``at``: the oracle's token of
        the step's point when (x, y) is it."""
        if alpha == 0.0:
            return grad_fn(x, y, at=at), None
        g, product = product_fn(x, y, delta, with_grad=True, at=at)
        return g, alpha * product

    def _move(self, p, grad, coupling, delta_prev, precond, st, lr):
        inside = coupling is not None and self.coupling == "inside"
        step, st = precond.step(grad + coupling if inside else grad, st, lr)
        delta = step if self.momentum == 0.0 else self.momentum * delta_prev + step
        if coupling is not None and self.coupling == "outside":
            delta = delta - coupling
        return p + delta, delta, st

    def step(self, state, oracle):
        x, y, dx, dy = state["x"], state["y"], state["dx"], state["dy"]
        second = oracle.next_batch() if self.fresh_batch else oracle   # the second mover's batch
        if self.order == "alternating_follower_first":
            gy, cy = self._gradient_and_coupling(oracle.grad_y, oracle.hvp_yx, self.alpha_y, x, y, dx, oracle.here)
            y_new, dy_new, py = self._move(y, gy, cy, dy, self.py, state["py"], self.lr_y)
            gx, cx = self._gradient_and_coupling(second.grad_x, second.hvp_xy, self.alpha_x, x, y_new, dy_new)
            x_new, dx_new, px = self._move(x, gx, cx, dx, self.px, state["px"], self.lr_x)
            return {"x": x_new, "y": y_new, "dx": dx_new, "dy": dy_new, "px": px, "py": py}, {}
        gx, cx = self._gradient_and_coupling(oracle.grad_x, oracle.hvp_xy, self.alpha_x, x, y, dy, oracle.here)
        x_new, dx_new, px = self._move(x, gx, cx, dx, self.px, state["px"], self.lr_x)
        if self.order == "simultaneous":
            gy, cy = self._gradient_and_coupling(oracle.grad_y, oracle.hvp_yx, self.alpha_y, x, y, dx, oracle.here)
        else:
            gy, cy = self._gradient_and_coupling(second.grad_y, second.hvp_yx, self.alpha_y, x_new, y, dx_new)
        y_new, dy_new, py = self._move(y, gy, cy, dy, self.py, state["py"], self.lr_y)
        return {"x": x_new, "y": y_new, "dx": dx_new, "dy": dy_new, "px": px, "py": py}, {}
