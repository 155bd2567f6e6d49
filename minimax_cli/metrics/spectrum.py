"""Local spectral analysis of a game and of an algorithm at a critical point.

Notation (oracle.py): the game vector field is ξ(x, y) = (∇_x L_x, ∇_y L_y) and its Jacobian is

    J = [[J11, J12], [J21, J22]] = [[∇²_xx L_x, ∇²_xy L_x], [∇²_yx L_y, ∇²_yy L_y]].

For a zero-sum game (L_x = f, L_y = −f) this is Fiez & Ratliff 2021's game Jacobian (Eq. 1)
J = [[D1²f, D12f], [−D12fᵀ, −D2²f]], and Wang et al. 2020's Hessian blocks are H_xx = J11, H_xy = J12,
H_yx = −J21, H_yy = −J22.

Classification (Wang et al. 2020, Props. 2–3; Jin et al. 2019; Fiez & Ratliff 2021 Defs. 1–2), with the Schur
complement S = H_xx − H_xy H_yy⁻¹ H_yx = J11 − J12 J22⁻¹ J21:

    strict local Nash (DNE)       H_xx ≻ 0 and H_yy ≺ 0                      (sufficient)
    strict local minimax (DSE)    H_yy ≺ 0 and S ≻ 0                          (Prop. 3, sufficient)
    local Nash, non-strict        H_xx ≽ 0 and H_yy ≼ 0 with a zero eigenvalue (necessary only)
    local minimax, non-strict     H_yy ≼ 0 and S ≽ 0 with a zero eigenvalue   (Prop. 2, necessary only)
    neither                       a necessary condition fails

General-sum games (L_y ≠ −L_x) are classified with the follower's OWN Hessian: H_yy := −∇²_yy L_y
(so "H_yy ≺ 0" means y is a strict local minimum of the follower's loss, as in the zero-sum case)
and S := J11 − J12 J22⁻¹ J21 built from the blocks of J (∇²_xy L_x and ∇²_yx L_y); S need not be
symmetric then, so definiteness is that of its symmetric part (xᵀSx > 0 for all x ≠ 0).

The step map of an algorithm is differentiated with torch.func.jacrev through the REAL
``algo.step`` on the state ``algo.init(x*, y*, oracle)``, with respect to every floating-point
state leaf except those named in ``algo.static_keys`` (counters): algorithms with memory
(momentum, OGDA, LEAD) are analyzed on their augmented state.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.func import jacrev

from minimax_cli.errors import ConfigError
from minimax_cli.oracle import Oracle


# -- the game ---------------------------------------------------------------------------------
def game_jacobian(game, x: torch.Tensor, y: torch.Tensor, batch=None) -> np.ndarray:
    """J = ∂ξ/∂(x, y) at (x, y), as a float64 numpy matrix."""
    return Oracle(game, batch).field_jacobian(x, y).detach().cpu().double().numpy()


def field_norm(game, x, y, batch=None) -> float:
    gx, gy = Oracle(game, batch)._field(x, y)
    return float(torch.cat([gx, gy]).norm())


def blocks(J: np.ndarray, n: int):
    """(J11, J12, J21, J22) for a leader of dimension n."""
    return J[:n, :n], J[:n, n:], J[n:, :n], J[n:, n:]


def zero_tol(M: np.ndarray) -> float:
    """Eigenvalues this close to 0 count as zero (float64 eigenvalue error is ~1e-15·‖M‖)."""
    return 1e-9 * max(1.0, float(np.abs(M).max()) if M.size else 1.0)


def sym_eigs(M: np.ndarray) -> np.ndarray:
    """Eigenvalues of the symmetric part ½(M + Mᵀ), ascending (M itself when symmetric)."""
    return np.linalg.eigvalsh(0.5 * (M + M.T)) if M.size else np.zeros(0)


def classify(J: np.ndarray, n: int) -> dict:
    """Wang et al. 2020, Props. 2–3 at a critical point with game Jacobian J (leader dimension n).

    Returns ``class`` (local_nash | local_minimax | neither), ``strict`` (True: the sufficient
    conditions hold; False: only the necessary ones, a zero eigenvalue leaves the second-order
    test inconclusive; None for neither), ``dne``/``dse`` (strict local Nash / strict local
    minimax = differential Nash / Stackelberg equilibrium), and the eigenvalues of H_xx, H_yy and
    of the Schur complement S = H_xx − H_xy H_yy⁻¹ H_yx.
    """
    J11, J12, J21, J22 = blocks(J, n)
    tol = zero_tol(J)
    hxx, hyy = sym_eigs(J11), sym_eigs(-J22)
    notes = []
    singular = hyy.size == 0 or float(np.abs(hyy).min()) <= tol
    inverse = np.linalg.pinv(J22) if singular else np.linalg.inv(J22)
    if singular:
        notes.append("H_yy is singular (Assumption 1 fails): the Schur complement uses its pseudo-inverse")
    schur = sym_eigs(J11 - J12 @ inverse @ J21)
    pos = lambda e: bool(e.size == 0 or e.min() > tol)     # noqa: E731  (≻ 0)
    nonneg = lambda e: bool(e.size == 0 or e.min() >= -tol)  # noqa: E731  (≽ 0)
    dne = pos(hxx) and pos(-hyy)
    dse = (not singular) and pos(-hyy) and pos(schur)
    nash_necessary = nonneg(hxx) and nonneg(-hyy)
    minimax_necessary = nonneg(-hyy) and nonneg(schur)
    if dne:
        label, strict = "local_nash", True
    elif dse:
        label, strict = "local_minimax", True
        if nash_necessary:
            notes.append("H_xx ≽ 0 is singular: the necessary conditions of a local Nash point also hold "
                         "(it may be a non-strict local Nash point; higher-order terms decide)")
    elif nash_necessary:
        label, strict = "local_nash", False
        notes.append("only the second-order necessary conditions hold (a zero eigenvalue): higher-order terms decide")
    elif minimax_necessary:
        label, strict = "local_minimax", False
        notes.append("only the second-order necessary conditions (Wang et al. 2020, Prop. 2) hold: higher-order terms decide")
    else:
        label, strict = "neither", None
        failed = [name for name, ok in (("H_yy ≼ 0", nonneg(-hyy)), ("S ≽ 0", nonneg(schur)),
                                        ("H_xx ≽ 0", nonneg(hxx))) if not ok]
        notes.append("violated: " + ", ".join(failed))
    return {
        "class": label, "strict": strict, "dne": dne, "dse": dse,
        "H_xx_eigs": hxx.tolist(), "H_yy_eigs": hyy.tolist(), "schur_eigs": schur.tolist(),
        "note": "; ".join(notes),
    }


def eigs(M: np.ndarray) -> np.ndarray:
    return np.linalg.eigvals(M) if M.size else np.zeros(0, dtype=complex)


def pairs(values, order: str = "real") -> list[list[float]]:
    """Complex eigenvalues as [re, im] pairs, sorted by real part (``order="modulus"``: by |λ|,
    largest first)."""
    values = np.asarray(values, dtype=complex)
    key = (lambda v: (-abs(v), v.real, v.imag)) if order == "modulus" else (lambda v: (v.real, v.imag))
    return [[float(v.real) + 0.0, float(v.imag) + 0.0] for v in sorted(values, key=key)]  # no −0.0


# -- critical points ----------------------------------------------------------------------------
def newton(game, x0: torch.Tensor, y0: torch.Tensor, batch=None, tol: float = 1e-10,
           max_iter: int = 100) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    """Newton's method on the game vector field ξ from (x0, y0): z ← z − t·J(z)⁺ξ(z).

    J⁺ is the least-squares solve (so non-isolated critical points, where J is singular, are
    reached too); t halves until ‖ξ‖ decreases (at most 30 times, then the full step is taken).
    Returns (x*, y*, iterations, ‖ξ(x*, y*)‖); raises ConfigError if ‖ξ‖ > tol after max_iter.
    """
    oracle = Oracle(game, batch)
    n = x0.shape[-1]

    def F(z):
        gx, gy = oracle._field(z[:n], z[n:])
        return torch.cat([gx, gy])

    z = torch.cat([x0, y0]).detach().clone()
    value = F(z)
    norm = float(value.norm())
    for it in range(max_iter + 1):
        if not math.isfinite(norm):
            break
        if norm <= tol:
            return z[:n].clone(), z[n:].clone(), it, norm
        if it == max_iter:
            break
        Jz = torch.func.jacfwd(F)(z)
        step = torch.linalg.lstsq(Jz, value.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
        t, accepted = 1.0, False
        for _ in range(30):
            candidate = z - t * step
            cvalue = F(candidate)
            cnorm = float(cvalue.norm())
            if math.isfinite(cnorm) and cnorm < norm:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            candidate = z - step
            cvalue = F(candidate)
            cnorm = float(cvalue.norm())
        z, value, norm = candidate, cvalue, cnorm
    start = [round(float(v), 6) for v in torch.cat([x0, y0])]
    raise ConfigError(f"Newton's method from point={start} did not reach a critical point "
                      f"(|ξ| = {norm:.3g} > {tol:g} after {max_iter} iterations); start closer to one")


# -- the algorithm's step map --------------------------------------------------------------------
def _leaves(state, prefix=()):
    for key, value in state.items():
        if isinstance(value, dict):
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def _get(state, path):
    for key in path:
        state = state[key]
    return state


def _replace(state, values: dict):
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            sub = {p[1:]: v for p, v in values.items() if p[0] == key}
            out[key] = _replace(value, sub)
        else:
            out[key] = values.get((key,), value)
    return out


def dynamic_leaves(algo, state) -> list[tuple[tuple, torch.Tensor]]:
    """The state leaves the step map is differentiated in: floating point, not in static_keys."""
    static = set(getattr(algo, "static_keys", ()))
    return [(p, v) for p, v in _leaves(state)
            if isinstance(v, torch.Tensor) and v.is_floating_point() and p[-1] not in static]


def step_jacobian(algo, game, x: torch.Tensor, y: torch.Tensor, batch=None) -> dict:
    """Jacobian of the algorithm's step map at the state ``algo.init(x, y, oracle)``.

    Returns ``matrix`` (numpy), ``layout`` ([name, size] of each differentiated state leaf, in
    order), and ``fixed_point_residual`` = ‖step(s) − s‖ over those leaves (≈ 0 at a critical
    point; a large value means the point is not a fixed point of this algorithm's map).
    """
    state = algo.init(x, y, Oracle(game, batch))
    leaves = dynamic_leaves(algo, state)
    if not leaves:
        raise ConfigError(f"algorithm {algo.name} has no floating-point state to differentiate")
    paths = [p for p, _ in leaves]
    sizes = [v.numel() for _, v in leaves]
    shapes = [v.shape for _, v in leaves]
    z0 = torch.cat([v.reshape(-1) for _, v in leaves]).detach()

    def step_map(z):
        parts = torch.split(z, sizes)
        s = _replace(state, {p: part.reshape(shape) for p, part, shape in zip(paths, parts, shapes)})
        new, _ = algo.step(s, Oracle(game, batch))
        try:
            out = [_get(new, p) for p in paths]
        except (KeyError, TypeError):
            raise ConfigError(f"algorithm {algo.name}'s step changes the structure of its state; "
                              "its step map cannot be analyzed") from None
        return torch.cat([o.reshape(-1) for o in out])

    matrix = jacrev(step_map)(z0).detach().cpu().double().numpy()
    if not np.isfinite(matrix).all():
        raise ConfigError(f"the step Jacobian of {algo.name} is not finite at this point (adaptive "
                          "preconditioners are not differentiable where their second moment is 0)")
    residual = float((step_map(z0) - z0).norm())
    return {"matrix": matrix, "layout": [[".".join(map(str, p)), s] for p, s in zip(paths, sizes)],
            "fixed_point_residual": residual}
