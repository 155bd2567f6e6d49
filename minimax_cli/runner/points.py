"""Derivatives at every analytic start's own point, for all starts at once.

Analytic starts are independent, so the derivatives of a loss summed over starts are each start's
own: the field ξ and FR's follower blocks at the state are taken over all starts by plain
autograd, outside vmap (half the cost of torch.func's per-operation wrappers under vmap), and the
vmapped step reads them through a ``KnownPointOracle`` (oracle.py)."""

from __future__ import annotations

import torch
from torch.func import vmap

from minimax_cli.oracle import CostMeter, Oracle


class StartPoints:
    """The field (and the follower's blocks, where the algorithm reads them) at each start's state."""

    def __init__(self, game, blocks: bool):
        self.game, self.blocks = game, blocks
        #: f written for N starts at once (zero-sum analytic games that have it): no vmap of the loss
        self.f_over_starts = getattr(game, "f_over_starts", None) if game.zero_sum else None

    def summed(self, loss):
        """A player's loss summed over starts, (N, n), (N, m) -> scalar: ``f_over_starts`` where
        the game writes f for N starts at once (elementwise), else the loss vmapped."""
        elementwise = self.f_over_starts
        if elementwise is not None and loss == "x":
            return lambda xs, ys: elementwise(xs, ys).sum()
        single = getattr(Oracle(self.game, None, CostMeter()), f"loss_{loss}")
        return lambda xs, ys: vmap(single)(xs, ys).sum()

    def losses(self, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
        """(L_x, L_y) at every start, (N,) each."""
        if self.f_over_starts is not None:
            f = self.f_over_starts(X, Y)
            return f, -f
        return vmap(Oracle(self.game, None, CostMeter()).losses)(X, Y)

    def at(self, state, blocks: bool | None = None) -> dict:
        """What a step asks at each start's own state: the field ξ and, where the algorithm takes
        them there (``algo.point_blocks``), the follower's Hessian blocks G = ∇²_yy L_y, (N, m, m),
        and G_yx = ∇²_yx L_y, (N, m, n): one backward pass for ξ, and for the blocks one more per
        follower coordinate through ∇_y L_y's graph, which is what a hand-vectorized loop does."""
        blocks = self.blocks if blocks is None else blocks
        x, y = state["x"].detach(), state["y"].detach()
        with torch.enable_grad():
            X, Y = x.requires_grad_(), y.requires_grad_()
            sign = -1.0 if self.game.zero_sum else 1.0   # zero-sum: ∇_y L_y = −∇_y f, from f's pass
            if self.game.zero_sum:   # one backward pass gives both players' gradients
                gx, gy = _grads(self.summed("x")(X, Y), (X, Y), create_graph=blocks)
            else:
                (gx,) = _grads(self.summed("x")(X, Y), (X,))
                (gy,) = _grads(self.summed("y")(X, Y), (Y,), create_graph=blocks)
            point = {"field": (gx.detach(), sign * gy.detach())}
            if blocks:   # row j of both blocks: ∇ of Σ_starts ∂_{y_j} L_y (= sign · ∂_{y_j} of what gy differentiates)
                m = y.shape[-1]
                rows = [_grads(gy, (X, Y), retain_graph=j + 1 < m, seed=_unit(gy, j, sign)) for j in range(m)]
                point["G_yx"], point["G"] = (torch.stack([r[k] for r in rows], dim=1) if m > 1 else rows[0][k].unsqueeze(1)
                                             for k in (0, 1))
        return point


def _grads(value, inputs, create_graph: bool = False, retain_graph: bool | None = None, seed=None):
    """torch.autograd.grad of a scalar (or of Σ seed·value), zeros for inputs it does not depend on."""
    if not value.requires_grad:
        return tuple(torch.zeros_like(i) for i in inputs)
    out = torch.autograd.grad(value, inputs, seed, create_graph=create_graph, retain_graph=retain_graph,
                              allow_unused=True)
    return tuple(torch.zeros_like(i) if g is None else g for i, g in zip(inputs, out))


def _unit(g: torch.Tensor, j: int, value: float) -> torch.Tensor:
    """``value`` in column j of g's shape (N, m), zeros elsewhere."""
    if g.shape[-1] == 1:
        return torch.full_like(g, value)
    seed = torch.zeros_like(g)
    seed[:, j] = value
    return seed
