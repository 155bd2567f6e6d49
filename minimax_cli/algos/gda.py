"""The gradient descent-ascent family, one mechanism configured (Wang et al. 2020, Eq. 1; Fiez & Ratliff 2021, Eq. 2;
Gao et al. 2022, App. A):

    simultaneous   x_{t+1} = x_t + P_x(∇_x L_x(x_t, y_t))
                   y_{t+1} = y_t + P_y(∇_y L_y(x_t, y_t))
    alternating    the follower's gradient is taken at (x_{t+1}, y_t)
    τ-GDA          lr_y = τ · lr_x  (timescale separation, Fiez & Ratliff 2021)
    heavy ball     P(d) = momentum · Δ_prev − lr · d, momentum ∈ (−1, 1), negative allowed
    GDA-k          the follower takes k steps per leader step (Gao et al. 2022's GDA-2 / GDA-5)
    fresh_batch    alternating orders: the second player's gradient on a new batch (the training
                   loops of seeds 002/003 draw new noise for the generator's step)

with P the player's preconditioner (sgd | rmsprop | adam, see precond.py). For zero-sum games
∇_y L_y = −∇_y f, so the follower ascends f.
"""

from __future__ import annotations

from minimax_cli.algos.base import DirectionOptimizer, check_fresh_batch
from minimax_cli.errors import ConfigError

ORDERS = ("simultaneous", "alternating", "alternating_follower_first")


class GDA(DirectionOptimizer):
    """Gradient descent-ascent: simultaneous or alternating, τ-scaled, heavy-ball, GDA-k."""

    def __init__(self, name="gda", lr_x=0.05, lr_y=None, tau=None, order="simultaneous",
                 momentum=0.0, precond="sgd", follower_steps=1, precond_x=None, precond_y=None, fresh_batch=False):
        super().__init__(name, lr_x, lr_y, tau, momentum, precond, precond_x, precond_y)
        self.tau = self.lr_y / self.lr_x if self.lr_x > 0 else None
        if order not in ORDERS:
            raise ConfigError(f"algo.order must be one of {', '.join(ORDERS)} (got {order!r})")
        if isinstance(follower_steps, bool) or not isinstance(follower_steps, int) or follower_steps < 1:
            raise ConfigError(f"algo.follower_steps must be an integer >= 1 (got {follower_steps!r})")
        self.order, self.k = order, follower_steps
        self.fresh_batch = check_fresh_batch(fresh_batch, order)

    @property
    def batches_per_step(self) -> int:
        return self.k    # each follower step on its own batch

    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        second = oracle.next_batch() if self.fresh_batch else oracle   # the second mover's batch
        if self.order == "alternating_follower_first":
            y, py = self._follower(x, y, state["py"], oracle, at=oracle.here)
            x_next, px = self.px.advance(x, second.grad_x(x, y), state["px"], self.lr_x)
            return {"x": x_next, "y": y, "px": px, "py": py}, {}
        if self.order == "simultaneous":
            gx, gy = oracle.field(x, y, at=oracle.here)
            x_next, px = self.px.advance(x, gx, state["px"], self.lr_x)
            y_next, py = self._follower(x, y, state["py"], oracle, first_grad=gy)
            return {"x": x_next, "y": y_next, "px": px, "py": py}, {}
        x_next, px = self.px.advance(x, oracle.grad_x(x, y, at=oracle.here), state["px"], self.lr_x)
        y_next, py = self._follower(x_next, y, state["py"], second)
        return {"x": x_next, "y": y_next, "px": px, "py": py}, {}

    def _follower(self, x, y, py, oracle, first_grad=None, at=None):
        """k follower steps at leader position x (each inner step on a fresh batch); ``at``: the
        oracle's token of the step's point when (x, y) is it (the first inner step's point)."""
        for i in range(self.k):
            g = first_grad if (i == 0 and first_grad is not None) else oracle.grad_y(x, y, at=at if i == 0 else None)
            y, py = self.py.advance(y, g, py, self.lr_y)
            if i + 1 < self.k:
                oracle = oracle.next_batch()
        return y, py
