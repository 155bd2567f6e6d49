"""Second-order corrections of the vector field: SGA and consensus optimization.

With ξ = (∇_x L_x, ∇_y L_y) and J its Jacobian:

SGA, symplectic gradient adjustment (Balduzzi et al. 2018; Wang et al. 2020, App. D.1):

    z_{t+1} = z_t − η (ξ + λ Aᵀξ),    A = (J − Jᵀ)/2

For zero-sum games Aᵀξ = [[0, −H_xy], [H_yx, 0]] ξ, which is Wang et al. 2020's
z_{t+1} = z_t − η [[I, −λH_xy], [λH_yx, I]] [∇_x f; −∇_y f]. Aᵀξ = ½(Jᵀξ − Jξ): one JVP and one
VJP.

CO, consensus optimization (Mescheder et al. 2017), the penalty's gradient added to ξ:

    Wang et al. 2020, App. D.1       z_{t+1} = z_t − η ξ − γη ∇‖ξ‖²      = z_t − η (ξ + 2γ Jᵀξ)
                                     penalty: squared_norm
    Liang & Stokes 2019, Eq. 8–9     z_{t+1} = z_t − η (ξ + γ ∇R),  R = ½‖ξ‖²  = z_t − η (ξ + γ Jᵀξ)
                                     penalty: half_squared_norm

The two papers' γ differ by that factor of 2 (the FR reference code uses the second form with
Wang et al. 2020's γ = 0.1).

``consensus_on``: ``field`` (R from ξ itself, the players' full losses) or ``value``: R = ½‖ξ_U‖²
from the field of the game's value function without the follower's regularizer
(``Game.value_losses``), as Liang & Stokes 2019, §4 does for WGAN-GP ("R is defined with respect
to the value function ... without including the gradient penalty"): direction ξ + c·γ J_Uᵀ ξ_U, where the first
term still carries the penalty (L_dis = −U + R + Λ). For games without a regularizer both agree.
"""

from __future__ import annotations

from minimax_cli.algos.base import DirectionOptimizer, check_rate
from minimax_cli.errors import ConfigError

PENALTIES = {"squared_norm": 2.0, "half_squared_norm": 1.0}
CONSENSUS_ON = ("field", "value")


class SGA(DirectionOptimizer):
    """Symplectic gradient adjustment: direction ξ + λ Aᵀξ."""

    def __init__(self, name="sga", lr_x=0.05, lr_y=None, tau=None, lam=1.0, momentum=0.0, precond="sgd",
                 precond_x=None, precond_y=None):
        super().__init__(name, lr_x, lr_y, tau, momentum, precond, precond_x, precond_y)
        if isinstance(lam, bool) or not isinstance(lam, (int, float)):
            raise ConfigError(f"algo.lam must be a number (got {lam!r})")
        self.lam = float(lam)

    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        (gx, gy), transpose = oracle.field_with_vjp(x, y)
        jx, jy = oracle.field_jvp(x, y, gx, gy)      # J ξ
        tx, ty = transpose(gx, gy)                   # Jᵀ ξ
        ax, ay = 0.5 * (tx - jx), 0.5 * (ty - jy)    # Aᵀ ξ
        return self.move(state, gx + self.lam * ax, gy + self.lam * ay), {}


class ConsensusOptimization(DirectionOptimizer):
    """Consensus optimization: direction ξ + c·γ Jᵀξ, c = 2 (Wang et al. 2020) or 1 (Liang & Stokes 2019)."""

    def __init__(self, name="co", lr_x=0.05, lr_y=None, tau=None, gamma=0.1, penalty="squared_norm",
                 consensus_on="field", momentum=0.0, precond="sgd", precond_x=None, precond_y=None):
        super().__init__(name, lr_x, lr_y, tau, momentum, precond, precond_x, precond_y)
        self.gamma = check_rate(gamma, "algo.gamma")
        if penalty not in PENALTIES:
            raise ConfigError(f"algo.penalty must be one of {', '.join(PENALTIES)} (got {penalty!r})")
        if consensus_on not in CONSENSUS_ON:
            raise ConfigError(f"algo.consensus_on must be one of {', '.join(CONSENSUS_ON)} (got {consensus_on!r})")
        self.penalty, self.consensus_on = penalty, consensus_on

    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        if self.consensus_on == "field":
            (gx, gy), transpose = oracle.field_with_vjp(x, y)
            tx, ty = transpose(gx, gy)                # Jᵀξ = ∇(½‖ξ‖²)
        else:
            gx, gy = oracle.field(x, y, at=oracle.here)
            (ux, uy), transpose = oracle.value_field_with_vjp(x, y)
            tx, ty = transpose(ux, uy)                # J_Uᵀξ_U = ∇(½‖ξ_U‖²)
        c = PENALTIES[self.penalty] * self.gamma
        return self.move(state, gx + c * tx, gy + c * ty), {}
