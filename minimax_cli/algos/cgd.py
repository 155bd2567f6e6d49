"""CGD, competitive gradient descent (Schäfer & Anandkumar 2019), and ACGD, its adaptive form.

Each step plays the Nash equilibrium of the regularized bilinear local game. For a zero-sum game f
(x minimizes, y maximizes; B = ∇²_xy f, Bᵀ = ∇²_yx f):

    Δx = −η_x (I + η_x η_y B Bᵀ)⁻¹ (∇_x f + η_y B ∇_y f)
    Δy = +η_y (I + η_x η_y Bᵀ B)⁻¹ (∇_y f − η_x Bᵀ ∇_x f)

As the official code (the ``CGDs`` package, ``BCGD``), one player's system is solved by conjugate
gradient and the other's step is derived from the equilibrium condition instead of a second solve:
Δx = −η_x (∇_x f + B Δy) given Δy, Δy = η_y (∇_y f + Bᵀ Δx) given Δx. Which player's system is
solved alternates every step, the follower's first (``cg.solve_first``). The first step starts CG
from zero and runs at most n steps (n: the solved player's size); every later step starts it from
that player's previous direction (kept in the state as ``cx``, ``cy``, so a resumed run goes on
exactly) and runs at most n − 1 (at least 1: the reference fails on a one-parameter player). CG
stops once ‖r‖² < tol·‖b‖² or ‖r‖² < atol.

ACGD (``CGDs.ACGD``) replaces η by per-parameter rates from RMSprop-like second moments,

    v ← β v + (1 − β) g²,   a = η √(1 − βᵗ) / (√v + ε)    (each player, t = 1, 2, …)

and solves the symmetrized system (I + A_x^½ B A_y Bᵀ A_x^½) c_x = A_x^½ (∇_x f + B (a_y ⊙ ∇_y f)),
Δx = −A_x^½ c_x (A = diag(a)); its warm starts run at most n CG steps, as the reference's.

Games: zero-sum, or penalized zero-sum (L_y = −f + R): the interaction B is f's, each player steps
on its own gradient (the follower's carries R). That is the exact CGD of the penalized game when R
depends on y alone (an L2 or R1 penalty on the discriminator); WGAN-GP's penalty also depends on the
generator and its mixed curvature is left out. General-sum games are refused: their system is not
symmetric (the reference's GACGD solves it by GMRES).

Products: B v and Bᵀ u are pullbacks through one kept graph of f's field (``value_field_with_vjp``),
one HVP each; the counted cost of a step is one field (and ½ for the follower's own gradient in a
penalized game), 1 product for the right-hand side, 2 for a warm start's residual, 2 per CG step
taken, 1 for the derived step. CG takes no product once every lane has stopped, so a vectorized run
(starts, seeds) counts the CG steps of its slowest lane. Differentiated (analyze's step-map
Jacobian), the step solves its system exactly instead (n products): the CGD map itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch._C._functorch import TransformType

from minimax_cli import linalg
from minimax_cli.algos.base import GameOptimizer, check_rate, follower_rate, settings_of
from minimax_cli.errors import ConfigError

PLAYERS = ("x", "y")


@dataclass(frozen=True)
class CGSettings:
    """The inner solve; defaults are the official code's."""
    tol: float = 1e-12              # stop once ‖r‖² < tol·‖b‖² (relative, on the squared residual)
    atol: float = 1e-20             # ... or ‖r‖² < atol
    max_iters: int | None = None    # a cap below the reference's n (n − 1 after a warm start); null: none
    warm_start: bool = True         # start from the player's previous direction (false: from zero, cap n)
    solve_first: str = "y"          # whose system the first step solves; then they alternate

    def __post_init__(self):
        check_rate(self.tol, "algo.cg.tol")
        check_rate(self.atol, "algo.cg.atol")
        if self.max_iters is not None and (isinstance(self.max_iters, bool) or not isinstance(self.max_iters, int)
                                           or self.max_iters < 1):
            raise ConfigError(f"algo.cg.max_iters must be an integer >= 1 or null (got {self.max_iters!r})")
        if not isinstance(self.warm_start, bool):
            raise ConfigError(f"algo.cg.warm_start must be true or false (got {self.warm_start!r})")
        if self.solve_first not in PLAYERS:
            raise ConfigError(f"algo.cg.solve_first must be x or y (got {self.solve_first!r})")

    @classmethod
    def build(cls, spec) -> "CGSettings":
        return settings_of(cls, spec, "algo.cg")


class CGD(GameOptimizer):
    """Competitive gradient descent (Schäfer & Anandkumar 2019): the Nash step of the regularized
    bilinear local game, one player's system solved by CG (the official BCGD)."""

    #: the warm starts only seed the inner solve: bookkeeping, not dynamics of the step map
    static_keys = frozenset({"t", "cx", "cy"})
    #: the reference's cap after a warm start: BCGD one step fewer than the system's size
    warm_cap_offset = 1

    def __init__(self, name="cgd", lr_x=0.05, lr_y=None, tau=None, cg=None):
        super().__init__(name)
        self.lr_x = check_rate(lr_x, "algo.lr_x")
        self.lr_y = follower_rate(self.lr_x, lr_y, tau)
        self.cg = CGSettings.build(cg)

    def check_game(self, game, dim_x, dim_y):
        if not (getattr(game, "zero_sum", True) or getattr(game, "penalized_zero_sum", False)):
            raise ConfigError(f"algo={self.name} needs a zero-sum game (its linear system is symmetric only then; "
                              "general-sum CGD needs GMRES): this game's players have losses of their own")

    def init(self, x, y, oracle):
        self.check_game(oracle.game, x.shape[-1], y.shape[-1])
        return {"x": x, "y": y, "cx": torch.zeros_like(x), "cy": torch.zeros_like(y),
                "t": torch.zeros((), dtype=x.dtype, device=x.device)}

    # -- the rates ----------------------------------------------------------------------------------
    def _rates(self, state, gx, gy, k, new):
        """(a_x, a_y): the players' rates this step (ACGD: per parameter)."""
        return self.lr_x, self.lr_y

    # -- the step -------------------------------------------------------------------------------------
    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        k = int(linalg.lanes_of(state["t"]).max())     # steps taken: the same in every lane
        (gx, gy), transpose = oracle.value_field_with_vjp(x, y)     # ξ of f: (∇_x f, −∇_y f)
        if not getattr(oracle.game, "zero_sum", True):               # penalized: the follower's own gradient
            gy = oracle.grad_y(x, y, at=oracle.here)
        zx, zy = torch.zeros_like(x), torch.zeros_like(y)

        def B(v):    # ∇²_xy f v: the x part of J_fᵀ(0, v) is −∇_x(∇_y f · v)
            return -transpose(zx, v)[0]

        def Bt(u):   # ∇²_yx f u: the y part of J_fᵀ(u, 0)
            return transpose(u, zy)[1]

        new = {"t": state["t"] + 1}
        ax, ay = self._rates(state, gx, gy, k, new)
        first = self.cg.solve_first
        if (first if k % 2 == 0 else ("x" if first == "y" else "y")) == "y":
            # y's system (sign +: y's gradient is −∇_y f); x answers y's move
            cy, dy = self._solve(gy, gx, ay, ax, B, Bt, +1.0, state["cy"], k)
            cx, dx = self._answer(gx, ax, B, +1.0, cy, dy, ay)
        else:
            cx, dx = self._solve(gx, gy, ax, ay, Bt, B, -1.0, state["cx"], k)
            cy, dy = self._answer(gy, ay, Bt, -1.0, cx, dx, ax)
        new.update(x=x + dx, y=y + dy, cx=cx, cy=cy)
        return new, {}

    # The solved player ("own", rate a, gradient g) and the other (ao, go); K maps the own player's
    # vectors to the other's (B for y, Bᵀ for x), Kt back; ``sign`` is +1 when y solves, −1 when x does.
    # CGD keeps the reference's order of operations (scalar rates outside the products), so its
    # iterates match it to the last bits.
    def _rhs(self, g, go, ao, Kt, sign):
        """The right-hand side of the solved player's equation (y: gy + η_x Bᵀ gx; x: gx − η_y B gy)."""
        return g + sign * ao * Kt(go)

    def _coupling(self, K, Kt, a, ao):
        """v ↦ η_x η_y Kᵀ K v (the reference multiplies by η_x inside, η_y outside, either system)."""
        return lambda v: self.lr_y * Kt(self.lr_x * K(v))

    def _answer(self, go, ao, K, sign, c, d, a):
        """(c, Δ) of the other player, its best response to the solved player's move d = −a c:
        Δ_o = −η_o (g_o − sign · a K c); CGD's c is the bracket."""
        h = go - sign * a * K(c)
        return h, -ao * h

    def _symmetrizer(self, a):
        """S in (I + S C S) c = S b: none for CGD."""
        return None

    def _solve(self, g, go, a, ao, K, Kt, sign, warm, k):
        """(c, Δ) of the solved player: c solves (I + S C S) c = S b, with b the right-hand side, C the
        coupling and S the symmetrizer (ACGD: diag √a), Δ = −S c (ACGD) or −η c (CGD)."""
        rhs, coupling, s = self._rhs(g, go, ao, Kt, sign), self._coupling(K, Kt, a, ao), self._symmetrizer(a)
        b = rhs if s is None else s * rhs

        def matvec(v):
            return v + (coupling(v) if s is None else s * coupling(s * v))

        n = b.shape[-1]
        if _differentiated():
            # the step map's Jacobian (analyze): CG stops at once where b = 0 (a critical point) and its
            # derivative would be lost, so the system is solved exactly, as CG converged would
            eye = torch.eye(n, dtype=b.dtype, device=b.device)
            c = linalg.solve(torch.stack([matvec(e) for e in eye], dim=-1), b)
        else:
            warm_start = self.cg.warm_start and k > 0
            cap = max(n - self.warm_cap_offset, 1) if warm_start else n
            if self.cg.max_iters is not None:
                cap = min(cap, self.cg.max_iters)
            c = linalg.cg(matvec, b, cap, self.cg.tol, x0=warm if warm_start else None, atol=self.cg.atol,
                          early_exit=True)
        return c, (-a * c if s is None else -s * c)


def _differentiated() -> bool:
    """Whether the step is being differentiated by a torch.func transform (grad, jacrev, jvp), as
    analyze's step-map Jacobian does; vmap over starts alone is not."""
    stack = torch._C._functorch.get_interpreter_stack() or []
    return any(i.key() in (TransformType.Grad, TransformType.Jvp) for i in stack)


class ACGD(CGD):
    """Adaptive competitive gradient descent: CGD with RMSprop-like per-parameter rates (the
    official ACGD)."""

    warm_cap_offset = 0        # the reference's ACGD caps a warm-started solve at n, not n − 1

    def __init__(self, name="acgd", lr_x=0.05, lr_y=None, tau=None, beta=0.99, eps=1e-5, cg=None):
        super().__init__(name, lr_x, lr_y, tau, cg)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
            raise ConfigError(f"algo.beta must be in [0, 1) (got {beta!r})")
        self.beta = float(beta)
        self.eps = check_rate(eps, "algo.eps", allow_zero=False)

    def init(self, x, y, oracle):
        return {**super().init(x, y, oracle), "vx": torch.zeros_like(x), "vy": torch.zeros_like(y)}

    def _rhs(self, g, go, ao, Kt, sign):
        return g + sign * Kt(ao * go)

    def _coupling(self, K, Kt, a, ao):
        return lambda v: Kt(ao * K(v))

    def _symmetrizer(self, a):
        return a.sqrt()

    def _answer(self, go, ao, K, sign, c, d, a):
        """Δ_o = −a_o (g_o + sign · K Δ), and c_o = √a_o · (the bracket), the reference's warm start."""
        h = go + sign * K(d)
        return ao.sqrt() * h, -ao * h

    def _rates(self, state, gx, gy, k, new):
        vx = self.beta * state["vx"] + (1 - self.beta) * gx * gx
        vy = self.beta * state["vy"] + (1 - self.beta) * gy * gy
        new["vx"], new["vy"] = vx, vy
        correction = math.sqrt(1 - self.beta ** (k + 1))
        return correction * self.lr_x / (vx.sqrt() + self.eps), correction * self.lr_y / (vy.sqrt() + self.eps)
