"""Complex momentum (Lorraine, Acuna, Vicol & Duvenaud, "Complex Momentum for Optimization in Games",
AISTATS 2022, Alg. 1): heavy-ball momentum whose coefficient β is complex; each player keeps a complex
buffer and moves along its real part,

    μ_{t+1} = β μ_t − ∇_p L_p(z_t),        p_{t+1} = p_t + η_p Re(μ_{t+1})       (p = x, y; μ_0 = 0)

with β = |β| e^{i arg β}. For zero-sum games (L_y = −f) the follower's buffer accumulates +∇_y f, so y
ascends f. arg β = 0 is Polyak's heavy ball (positive momentum), arg β = π negative momentum.

``order: simultaneous`` is SimCM (both gradients at z_t); ``order: alternating`` is AltCM (the follower's
gradient at (x_{t+1}, y_t)). The state holds each buffer's real and imaginary parts as two real tensors
(``mx_re``, ``mx_im``, ``my_re``, ``my_im``), so vmap, checkpoints and the step-map Jacobian see plain
real tensors: μ⁺ = βμ − g is (Re β Re μ − Im β Im μ − g, Im β Re μ + Re β Im μ).
"""

from __future__ import annotations

import math

import torch

from minimax_cli.algos.base import GameOptimizer, check_rate, follower_rate
from minimax_cli.errors import ConfigError

ORDERS = ("simultaneous", "alternating")


class ComplexMomentum(GameOptimizer):
    """Complex momentum (Lorraine et al. 2022, Alg. 1): μ ← βμ − ∇, p ← p + η Re(μ), β complex."""

    def __init__(self, name="cm", lr_x=0.05, lr_y=None, tau=None, beta_abs=0.9, beta_arg=math.pi / 8,
                 order="simultaneous"):
        super().__init__(name)
        self.lr_x = check_rate(lr_x, "algo.lr_x")
        self.lr_y = follower_rate(self.lr_x, lr_y, tau)
        for key, value in (("beta_abs", beta_abs), ("beta_arg", beta_arg)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"algo.{key} must be a finite number (got {value!r})")
        if not 0 <= beta_abs < 1:
            raise ConfigError(f"algo.beta_abs = |β| must be in [0, 1) (got {beta_abs})")
        if order not in ORDERS:
            raise ConfigError(f"algo.order must be one of {', '.join(ORDERS)} (got {order!r})")
        self.beta_abs, self.beta_arg, self.order = float(beta_abs), float(beta_arg), order
        # Re β and Im β once, so a step is real arithmetic only
        self.beta_re = self.beta_abs * math.cos(self.beta_arg)
        self.beta_im = self.beta_abs * math.sin(self.beta_arg)

    def init(self, x, y, oracle):
        return {"x": x, "y": y, "mx_re": torch.zeros_like(x), "mx_im": torch.zeros_like(x),
                "my_re": torch.zeros_like(y), "my_im": torch.zeros_like(y)}

    def _buffer(self, re, im, grad):
        """μ⁺ = βμ − g on (Re μ, Im μ)."""
        return self.beta_re * re - self.beta_im * im - grad, self.beta_im * re + self.beta_re * im

    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        if self.order == "simultaneous":
            gx, gy = oracle.field(x, y, at=oracle.here)
        else:
            gx = oracle.grad_x(x, y, at=oracle.here)
        mx_re, mx_im = self._buffer(state["mx_re"], state["mx_im"], gx)
        x_new = x + self.lr_x * mx_re
        if self.order == "alternating":
            gy = oracle.grad_y(x_new, y)
        my_re, my_im = self._buffer(state["my_re"], state["my_im"], gy)
        y_new = y + self.lr_y * my_re
        return {"x": x_new, "y": y_new, "mx_re": mx_re, "mx_im": mx_im, "my_re": my_re, "my_im": my_im}, {}
