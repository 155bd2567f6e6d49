"""Follow-the-Ridge, HessianFR and GDN: one mechanism, configured.

The follower tracks the ridge ∇_y L_y(x, y) = 0 as the leader moves. With G = ∇²_yy L_y and
G_yx = ∇²_yx L_y (zero-sum: G = −H_yy, G_yx = −H_yx, so the signs below reproduce the papers'):

    x_{t+1} = x_t + Δx                        Δx: the leader's (preconditioned, momentum) step on
                                              ∇_x L_x, or on the total derivative D_x L_x (Alg. 2)
    y_{t+1} = y_t + Δy_grad + z               Δy_grad: the follower's step on ∇_y L_y, rate lr_y
    G z = −(lr_y2 · P_y ∇_y L_y + G_yx Δx)     the ridge correction and the Newton term, one solve

* FR (Wang et al. 2020, Alg. 1): lr_y2 = 0, so z = −G⁻¹G_yx Δx = η_x H_yy⁻¹ H_yx ∇_x f for plain steps.
  Preconditioned FR (Eq. 2/7): P_x, P_y in the steps and Δx = −η_x P_x ∇_x f in the correction.
  FR with momentum: Eq. 9 (the GAN form, ``momentum_form: eq9``) applies momentum and
  preconditioning before the correction (z uses the full leader step; the follower's momentum
  buffer holds only its gradient part); Eq. 3 (``eq3``) corrects for the plain gradient step and
  adds γ (z_t − z_{t−1}) to the whole displacement.
* General-sum FR (Wang et al. 2020, Alg. 2 / Eq. 8): ``leader: total`` steps on
  D_x L_x = ∇_x L_x − ∇²_xy L_y (∇²_yy L_y)⁻¹ ∇_y L_x; the follower's rule is unchanged (it is
  already written with the follower's own loss).
* HessianFR (Gao et al. 2022, Alg. 3.1): lr_y = η_y1, lr_y2 = η_y2; HFR-P (Prop. 3.3) preconditions the
  Newton term with P_y. lr_y2 = 0 is exactly FR.
* GDN (Gao et al. 2022, §3.1.2): y_{t+1} = y_t − G⁻¹ ∇_y L_y(x_{t+1}, y_t) is lr_y = 0, lr_y2 = 1 with the
  mixed product by finite difference along Δx and G at (x_{t+1}, y_t): then the right-hand side is
  −∇_y L_y(x_{t+1}, y_t) exactly. ``precond_y`` gives the follower its own preconditioner (default:
  ``precond``); GDN's is sgd, so a preconditioned leader (Adam) leaves the Newton step intact.

``mixed`` chooses G_yx Δx: ``jvp`` (exact, at (x_t, y_t)) or ``fd`` (Gao et al. 2022, Eq. 3.3 / Wang et al. 2020,
App. D.4 step 1): (∇_y L_y(x_t + αΔx, y_t) − ∇_y L_y(x_t, y_t)) / α, α = ``fd_alpha`` (1: along
the actual step, as App. D.4). ``hessian_at``: where G is evaluated — auto = (x_t, y_t) for jvp,
(x_t + Δx, y_t) for fd (App. D.4 step 2). ``solver`` (linalg.py): exact | cg | diag, or auto
(exact on analytic games, cg on neural games; exact is refused above EXACT_MAX_DIM follower
parameters); with ``solver.adaptive`` the damping follows the reduction ratio of App. D.4 and a step
whose ratio is ≤ 0 drops z. A CG solve takes all its products with G from one kept graph at
(xh, y_t) (``FollowerAt.curvature``), which at the finite-difference point also gives
∇_y L_y(x_t + Δx, y_t).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from minimax_cli import linalg
from minimax_cli.algos.base import GameOptimizer, check_rate, player_preconds, settings_of
from minimax_cli.algos.precond import Precond
from minimax_cli.errors import ConfigError

SOLVERS = ("auto", "exact", "cg", "diag")
#: the dense solve materializes G (dim_y HVPs, dim_y² entries): small games only
EXACT_MAX_DIM = 2000


@dataclass(frozen=True)
class RidgeSolver:
    kind: str = "auto"            # auto: exact on analytic games, cg on neural games (resolved at init)
    iters: int = 10               # CG steps (each 2 HVPs)
    tol: float = 1e-10            # CG stops improving once ‖r‖² ≤ tol·‖rhs‖²
    damping: float = 0.0          # λ in (G² + λI) z = G b (cg)
    adaptive: bool = False        # Levenberg–Marquardt update of λ by the reduction ratio (App. D.4)
    damping_min: float = 1e-8
    damping_max: float | None = None
    diag_default: float = 0.0     # BB scalar when it is undefined (first step): 0 = no correction
    diag_max: float | None = None
    diag_reuse: bool = True       # reuse ∇_y L_y(x_t, y_{t−1}) from the previous step's difference

    def __post_init__(self):
        if self.kind not in SOLVERS:
            raise ConfigError(f"algo.solver.kind must be one of {', '.join(SOLVERS)} (got {self.kind!r})")
        if isinstance(self.iters, bool) or not isinstance(self.iters, int) or self.iters < 1:
            raise ConfigError(f"algo.solver.iters must be an integer >= 1 (got {self.iters!r})")
        for key in ("tol", "damping", "damping_min", "diag_default"):
            check_rate(getattr(self, key), f"algo.solver.{key}")
        # like iters and damping, adaptive belongs to the CG solve: exact and diag ignore it (so a
        # setup that plans CG with LM damping also runs its DG variant by solver.kind=diag alone)
        if self.adaptive and self.kind in ("cg", "auto") and self.damping <= 0:
            raise ConfigError("algo.solver.adaptive needs an initial algo.solver.damping > 0 (it is multiplied)")

    @classmethod
    def build(cls, spec) -> "RidgeSolver":
        if spec is None or isinstance(spec, str):
            return cls(kind=spec or "auto")
        return settings_of(cls, spec, "algo.solver")


class FollowTheRidge(GameOptimizer):
    """Follow-the-Ridge family: FR (Wang et al. 2020, Alg. 1/2, Eq. 2/3/9), HessianFR (Gao et al. 2022,
    Alg. 3.1), GDN."""

    static_keys = frozenset({"t", "damping"})

    def __init__(self, name="fr", lr_x=0.05, lr_y=0.05, lr_y2=0.0, leader="gradient", solver="auto",
                 mixed="jvp", fd_alpha=1.0, hessian_at="auto", momentum=0.0, momentum_form="eq9",
                 precond="sgd", precond_x=None, precond_y=None):
        super().__init__(name)
        self.lr_x = check_rate(lr_x, "algo.lr_x")
        self.lr_y = check_rate(lr_y, "algo.lr_y")
        self.lr_y2 = check_rate(lr_y2, "algo.lr_y2")
        for key, value, allowed in (("leader", leader, ("gradient", "total")), ("mixed", mixed, ("jvp", "fd")),
                                    ("hessian_at", hessian_at, ("auto", "current", "updated")),
                                    ("momentum_form", momentum_form, ("eq9", "eq3"))):
            if value not in allowed:
                raise ConfigError(f"algo.{key} must be one of {', '.join(allowed)} (got {value!r})")
        self.leader, self.mixed, self.momentum_form = leader, mixed, momentum_form
        self.fd_alpha = check_rate(fd_alpha, "algo.fd_alpha", allow_zero=False)
        self.hessian_at = ("current" if mixed == "jvp" else "updated") if hessian_at == "auto" else hessian_at
        self.solver = RidgeSolver.build(solver)
        self.momentum = float(momentum)
        # Eq. 9: momentum lives in the preconditioners (on the gradient parts); Eq. 3: on the
        # whole displacement, handled here.
        inner = self.momentum if momentum_form == "eq9" else 0.0
        self.px, self.py = player_preconds(precond, precond_x, precond_y, inner)
        if momentum_form == "eq3":
            Precond.build(precond, momentum)  # validates the momentum range
        # the BB estimate can reuse last step's ∇_y L_y(x_{t+1}, y_t) when that is exactly the
        # finite-difference point, i.e. x_{t+1} = x_t + αΔx with α = 1
        self._bb_reuse = (self.solver.kind == "diag" and self.solver.diag_reuse and mixed == "fd"
                          and self.fd_alpha == 1.0 and (momentum_form == "eq9" or self.momentum == 0.0))

    @property
    def gradient_differences(self) -> bool:
        """Whether a step takes finite differences of gradients (fd mixed products, the BB
        diagonal, the LM reduction ratio of adaptive CG): under bf16 precision the Oracle then
        keeps first-order evaluations in fp32."""
        return self.mixed == "fd" or self.solver.kind == "diag" or (self.solver.kind == "cg" and self.solver.adaptive)

    # -- state ------------------------------------------------------------------------------------
    def check_game(self, game, dim_x: int, dim_y: int) -> None:
        self._resolve_solver(game, dim_y)

    def _resolve_solver(self, game, dim_y: int) -> None:
        """``solver.kind: auto`` becomes exact on analytic games and cg on neural ones; a dense
        solve of a follower with more than EXACT_MAX_DIM parameters is refused."""
        if self.solver.kind == "auto":
            kind = "exact" if getattr(game, "analytic", True) else "cg"
            self.solver = replace(self.solver, kind=kind)
        if self.solver.kind == "exact" and dim_y > EXACT_MAX_DIM:
            raise ConfigError(f"algo.solver.kind=exact builds the dense {dim_y}x{dim_y} follower Hessian (at most "
                              f"{EXACT_MAX_DIM} parameters): use algo.solver.kind=cg (Wang et al. 2020, App. D.4) "
                              "or diag (Gao et al. 2022, Eq. 3.33)")

    def point_blocks(self, game) -> bool:
        """The exact solve with G at (x_t, y_t) (``hessian_at: current``, FR's default) or the total
        derivative (G there, its transpose product with G_yx) takes them."""
        exact = self.solver.kind == "exact" or (self.solver.kind == "auto" and getattr(game, "analytic", True))
        return exact and (self.hessian_at == "current" or self.leader == "total")

    def init(self, x, y, oracle):
        self.check_game(oracle.game, x.shape[-1], y.shape[-1])
        state = {"x": x, "y": y, "px": self.px.init(x), "py": self.py.init(y)}
        if self.momentum_form == "eq3" and self.momentum != 0.0:
            state["dx_prev"], state["dy_prev"] = torch.zeros_like(x), torch.zeros_like(y)
        if self.solver.kind == "diag":
            state["y_prev"] = y
            if self._bb_reuse:
                state["gy_prev"] = oracle._gy(x, y)
        if self.solver.kind == "cg":
            state["damping"] = torch.full((), float(self.solver.damping), dtype=x.dtype, device=x.device)
        return state

    # -- the step ---------------------------------------------------------------------------------
    def step(self, state, oracle):
        x, y = state["x"], state["y"]
        if self.solver.kind == "auto":   # a resumed run restores its state without init
            self._resolve_solver(oracle.game, y.shape[-1])
        new, info = {}, {}
        here = oracle.here   # the oracle's token of (x_t, y_t): requests there may be known already
        gx, gy = oracle.field(x, y, at=here)
        dx_dir = gx if self.leader == "gradient" else self._total_derivative(oracle, x, y, gx, state)
        pdy, new["py"] = self.py.direction(gy, state["py"])
        dx_corr, new["px"] = self.px.step(dx_dir, state["px"], self.lr_x)   # the step the ridge follows
        dy_grad, new["py"] = self.py.apply(pdy, new["py"], self.lr_y)

        # right-hand side of G z = b with b = −(lr_y2 · P_y g_y + G_yx Δx)
        x_moved = x + dx_corr
        xh = x if self.hessian_at == "current" else x_moved
        g_moved, hvp, at_moved = None, None, None
        if self.solver.kind == "cg":
            # every product with G (the right-hand side, CG's) through one kept graph at (xh, y); at
            # the finite-difference point (α = 1, G at the moved leader) it also yields ∇_y L_y(x+Δx, y)
            at_h = oracle.follower_at(xh)
            at_moved = at_h if self.hessian_at == "updated" else None
            shared = self.mixed == "fd" and self.fd_alpha == 1.0 and at_moved is not None
            g_h, hvp = at_h.curvature(y, count_grad=shared)
            g_moved = g_h if shared else None
        if self.mixed == "jvp":
            mixed = oracle.hvp_yx(x, y, dx_corr, at=here)
        else:
            if g_moved is None:
                g_moved = oracle.grad_y(x + self.fd_alpha * dx_corr, y)
            mixed = (g_moved - gy) / self.fd_alpha
        b = -(self.lr_y2 * pdy + mixed)
        z, gz = self._solve(oracle, xh, y, b, state, new, info, gy, g_moved, hvp)

        if self.solver.kind == "cg" and self.solver.adaptive:
            target = gy - self.lr_y2 * pdy          # the follower's gradient the model aims at
            at_moved = at_moved or oracle.follower_at(x_moved)
            true_residual = target - at_moved.grad(y + z)
            model_residual = b - gz                 # G z, accumulated by CG from its own products
            rho = linalg.reduction_ratio(b, model_residual, true_residual)
            new["damping"] = linalg.lm_damping(state["damping"], rho, self.solver.damping_min,
                                               self.solver.damping_max or float("inf"))
            z = torch.where(rho > 0, z, torch.zeros_like(z))
            info["rho"] = rho
            info["damping"] = state["damping"]
        elif self.solver.kind == "cg":
            new["damping"] = state["damping"]

        dx, dy = dx_corr, dy_grad + z
        if self.momentum_form == "eq3" and self.momentum != 0.0:
            dx = dx + self.momentum * state["dx_prev"]
            dy = dy + self.momentum * state["dy_prev"]
            new["dx_prev"], new["dy_prev"] = dx, dy
        new["x"], new["y"] = x + dx, y + dy
        info["ridge_norm"] = z.norm()
        return new, info

    def _solve(self, oracle, xh, y, b, state, new, info, gy, g_moved, hvp):
        """(z, G z): G z only where the damping needs it (adaptive CG), else None."""
        kind = self.solver.kind
        if kind == "exact":
            return linalg.solve(oracle.hess_yy(xh, y, at=oracle.here if self.hessian_at == "current" else None),
                                b), None
        if kind == "cg":
            if self.solver.adaptive:
                return linalg.cg_normal(hvp, b, self.solver.iters, state["damping"], self.solver.tol,
                                        with_product=True)
            return linalg.cg_normal(hvp, b, self.solver.iters, state["damping"], self.solver.tol), None
        # diag: G⁻¹ ≈ s·I from the follower's last move at the current leader
        g_prev = state["gy_prev"] if self._bb_reuse else oracle.grad_y(state["x"], state["y_prev"])
        s = linalg.bb_inverse(gy - g_prev, y - state["y_prev"], self.solver.diag_default,
                              self.solver.diag_max or float("inf"))
        new["y_prev"] = y
        if self._bb_reuse:
            new["gy_prev"] = g_moved
        info["diag_inverse"] = s
        return s * b, None

    def _total_derivative(self, oracle, x, y, gx, state):
        """D_x L_x = ∇_x L_x − ∇²_xy L_y (∇²_yy L_y)⁻¹ ∇_y L_x (Wang et al. 2020, Alg. 2), at
        (x_t, y_t)."""
        rhs = oracle.grad_y_of_leader(x, y)
        if self.solver.kind == "exact":
            w = linalg.solve(oracle.hess_yy(x, y, at=oracle.here), rhs)
        elif self.solver.kind == "cg":
            _, hvp = oracle.follower_curvature(x, y, count_grad=False)
            w = linalg.cg_normal(hvp, rhs, self.solver.iters, state["damping"], self.solver.tol)
        else:
            raise ConfigError("algo.leader=total needs algo.solver.kind exact or cg")
        return gx - oracle.hvp_xy_follower(x, y, w, at=oracle.here)
