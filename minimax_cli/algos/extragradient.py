"""Methods that look at a second gradient: optimistic GDA (OGDA = OMD) and extrapolation (EG, PM).

OGDA / OMD (Wang et al. 2020, App. D.1; Liang & Stokes 2019, Eq. 6; Daskalakis et al. 2018), per player:

    z_{t+1} = z_t − 2η ξ(z_t) + η ξ(z_{t−1})        (ξ = (∇_x L_x, ∇_y L_y); ξ(z_{−1}) = ξ(z_0))

i.e. the direction 2ξ_t − ξ_{t−1} through the player's preconditioner.

Extrapolation, EG (Wang et al. 2020, App. D.1; Korpelevich 1976) and PM, the modified predictive method
(Liang & Stokes 2019, Eq. 7), with a look-ahead rate γ per player:

    z_{t+1/2} = z_t − γ ξ(z_t),      z_{t+1} = z_t − η ξ(z_{t+1/2})

EG is γ = η (``lookahead: null``); PM fixes γ (Liang & Stokes 2019: "fix some γ > 0"). With an adaptive
preconditioner the look-ahead uses P's current moments without committing them, and the real step
commits them (one moment update per step).
"""

from __future__ import annotations

from minimax_cli.algos.base import DirectionOptimizer, check_rate


class OGDA(DirectionOptimizer):
    """Optimistic gradient descent-ascent / optimistic mirror descent: direction 2ξ_t − ξ_{t−1}."""

    def init(self, x, y, oracle):
        state = super().init(x, y, oracle)
        # ξ(z_{−1}) = ξ(z_0): the first step is a GDA step (as the reference code starts z_{−1} = z_0)
        state["gx_prev"], state["gy_prev"] = oracle._field(x, y)
        return state

    def step(self, state, oracle):
        gx, gy = oracle.field(state["x"], state["y"], at=oracle.here)
        new = self.move(state, 2 * gx - state["gx_prev"], 2 * gy - state["gy_prev"])
        new["gx_prev"], new["gy_prev"] = gx, gy
        return new, {}


class Extrapolation(DirectionOptimizer):
    """Extra-gradient (lookahead = lr) and the predictive method PM (lookahead = γ)."""

    def __init__(self, name="eg", lr_x=0.05, lr_y=None, tau=None, lookahead=None, momentum=0.0, precond="sgd",
                 precond_x=None, precond_y=None):
        super().__init__(name, lr_x, lr_y, tau, momentum, precond, precond_x, precond_y)
        if lookahead is None:
            self.gamma_x, self.gamma_y = self.lr_x, self.lr_y
        else:
            self.gamma_x = self.gamma_y = check_rate(lookahead, "algo.lookahead")

    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        gx, gy = oracle.field(x, y, at=oracle.here)
        px_dir, _ = self.px.direction(gx, state["px"])
        py_dir, _ = self.py.direction(gy, state["py"])
        gx_half, gy_half = oracle.field(x - self.gamma_x * px_dir, y - self.gamma_y * py_dir)
        return self.move(state, gx_half, gy_half), {}
