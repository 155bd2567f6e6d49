"""Linear algebra of the ridge methods (FR, HessianFR, GDN), in one place.

Solving G z = b with G = ∇²_yy L_y (the follower's Hessian; for zero-sum games G = −H_yy):

* ``exact``  dense solve (small games): G from dim_y Hessian-vector products; a singular G gives a
             non-finite z (``solve``), so that start alone is frozen as diverged by the runner.
* ``cg``     k conjugate-gradient steps on the normal equations (G² + λI) z = G b (Wang et al. 2020
             App. D.4; Gao et al. 2022, Eq. 3.30): well posed even where G is indefinite; each matvec is
             two HVPs. The iteration count is fixed and converged directions are masked rather
             than broken out of, so the solve stays a pure tensor function (vmap / jacrev).
* ``diag``   the Barzilai–Borwein scalar G⁻¹ ≈ s·I, s = ⟨Δg, Δy⟩ / ‖Δg‖² with Δg the change of
             the follower's gradient between y_{t−1} and y_t at the same x_t (Gao et al. 2022, Eq. 3.33).

Levenberg–Marquardt damping (Wang et al. 2020, App. D.4, after Martens 2010) adapts λ with the reduction
ratio ρ: ×1.1 if 0 < ρ ≤ 0.5, ×0.9 if ρ > 0.95, ×2 if ρ ≤ 0 (and the correction is dropped).
"""

from __future__ import annotations

from typing import Callable

import torch


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum()


def solve(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A⁻¹ b, or NaN where A is singular.

    torch.linalg.solve raises on a singular matrix, and under vmap over starts one singular start
    (a follower Hessian that vanishes somewhere in g3's plane) would end the whole run. A NaN
    iterate is what the runner's health check already treats as a diverged start: it is frozen at
    its last finite iterate and counted in fraction_diverged, the other starts go on. Pure tensor
    code (vmap, jacrev).
    """
    if A.shape[-1] == 1:   # a scalar follower (the 2-D games): the division LU would do, without its set-up
        a = A[..., 0]
        regular = a != 0
        return torch.where(regular, b / torch.where(regular, a, torch.ones_like(a)), torch.full_like(b, float("nan")))
    z, info = torch.linalg.solve_ex(A, b)
    return torch.where(info == 0, z, torch.full_like(z, float("nan")))


def cg(matvec: Callable[[torch.Tensor], torch.Tensor], rhs: torch.Tensor, iters: int,
       tol: float = 0.0, x0: torch.Tensor | None = None, side: bool = False, atol: float = 0.0,
       early_exit: bool = False):
    """``iters`` conjugate-gradient steps for A z = rhs, A symmetric positive (semi)definite.

    Stops improving (masked) once ‖r‖² ≤ tol·‖rhs‖² (the reference code's relative test on the
    squared residual) or ‖r‖² ≤ atol. ``side``: ``matvec(p)`` returns (A p, S p) for a linear map S
    the matvec computes on the way, and the result is (z, S z) with S z = Σ αᵢ S pᵢ accumulated like
    z (from z0 = 0), at no extra product. ``early_exit``: no further products once every lane has
    stopped (``any_lane``; the masked steps left would change nothing), so a cap of n steps costs
    only the steps some lane needs.
    """
    if side and x0 is not None:
        raise ValueError("cg(side=True) starts from z0 = 0")
    z = torch.zeros_like(rhs) if x0 is None else x0
    sz = torch.zeros_like(rhs) if side else None
    r = rhs - matvec(z) if x0 is not None else rhs.clone()
    p = r.clone()
    rr = dot(r, r)
    stop = tol * dot(rhs, rhs)
    tiny = torch.finfo(rhs.dtype).tiny
    for _ in range(iters):
        going = (rr > stop) & (rr > atol)
        if early_exit and not any_lane(going):
            break
        Ap = matvec(p)
        if side:
            Ap, Sp = Ap
        pAp = dot(p, Ap)
        active = going & (pAp > tiny)
        alpha = torch.where(active, rr / torch.where(active, pAp, torch.ones_like(pAp)), torch.zeros_like(rr))
        z = z + alpha * p
        if side:
            sz = sz + alpha * Sp
        r = r - alpha * Ap
        rr_new = dot(r, r)
        beta = torch.where(active, rr_new / torch.where(rr > 0, rr, torch.ones_like(rr)), torch.zeros_like(rr))
        p = r + beta * p
        rr = torch.where(active, rr_new, rr)
    return (z, sz) if side else z


def lanes_of(t: torch.Tensor) -> torch.Tensor:
    """The plain tensor under torch.func's wrappers: under vmap, every lane's value of ``t``.

    Read only to decide Python control flow that every lane agrees on (a step counter shared by
    all starts, or whether any lane still iterates), never to compute with."""
    functorch = torch._C._functorch
    while functorch.is_functorch_wrapped_tensor(t):
        t = functorch.get_unwrapped(t)
    return t.detach()


def any_lane(flag: torch.Tensor) -> bool:
    """Whether ``flag`` holds in some lane (vmap over starts or seeds) or in the single one."""
    return bool(lanes_of(flag).any())


def cg_normal(hvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int, damping,
              tol: float = 0.0, with_product: bool = False):
    """z ≈ (G² + λI)⁻¹ G b with ``iters`` CG steps (2 HVPs per step, 1 for the right-hand side).

    ``with_product``: (z, G z). Each CG matvec computes G p on its way to G(G p), so G z = Σ αᵢ G pᵢ
    comes without the extra HVP that Levenberg–Marquardt's model residual b − G z would cost.
    """
    rhs = hvp(b)
    if not with_product:
        return cg(lambda v: hvp(hvp(v)) + damping * v, rhs, iters, tol)

    def matvec(v):
        gv = hvp(v)
        return hvp(gv) + damping * v, gv

    return cg(matvec, rhs, iters, tol, side=True)


def lm_damping(damping: torch.Tensor, rho: torch.Tensor, low: float = 0.0, high: float = float("inf")) -> torch.Tensor:
    """The Levenberg–Marquardt rule of Wang et al. 2020, App. D.4, clamped to [low, high]."""
    factor = torch.where(rho <= 0, torch.full_like(rho, 2.0),
                         torch.where(rho <= 0.5, torch.full_like(rho, 1.1),
                                     torch.where(rho > 0.95, torch.full_like(rho, 0.9), torch.ones_like(rho))))
    return (damping * factor).clamp(low, high)


def reduction_ratio(b: torch.Tensor, model_residual: torch.Tensor, true_residual: torch.Tensor) -> torch.Tensor:
    """ρ = (‖b‖² − ‖true residual‖²) / (‖b‖² − ‖model residual‖²) (Wang et al. 2020, App. D.4).

    ρ = 1 when the quadratic model is exact and the solve is undamped. A zero denominator (no
    predicted reduction: b = 0 or a null step) gives ρ = 1, i.e. keep the step and the damping.
    """
    bb = dot(b, b)
    predicted = bb - dot(model_residual, model_residual)
    actual = bb - dot(true_residual, true_residual)
    safe = predicted.abs() > torch.finfo(b.dtype).tiny * 16
    return torch.where(safe, actual / torch.where(safe, predicted, torch.ones_like(predicted)), torch.ones_like(predicted))


def bb_inverse(dg: torch.Tensor, dy: torch.Tensor, default: float = 0.0, upper: float = float("inf")) -> torch.Tensor:
    """Barzilai–Borwein scalar s ≈ G⁻¹: s = ⟨dg, dy⟩ / ‖dg‖² (Gao et al. 2022, Eq. 3.33).

    ``default`` where ‖dg‖ = 0 (the first step, or a follower that did not move); the estimate is
    clamped to [0, upper] because a negative s would reverse the ridge correction (the paper calls
    DG "a very rough estimate" and gives no safeguard; this one is documented in the yaml).
    """
    gg = dot(dg, dg)
    ok = gg > torch.finfo(dg.dtype).tiny * 16
    s = torch.where(ok, dot(dg, dy) / torch.where(ok, gg, torch.ones_like(gg)), torch.full_like(gg, default))
    return s.clamp(0.0, upper)
