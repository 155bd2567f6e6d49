"""τ-GDA's timescale threshold τ* (Fiez & Ratliff 2021, Theorems 1–2).

τ-GDA, x_{k+1} = x_k − γ1 Λ_τ ξ(x_k) with Λ_τ = blockdiag(I_{n1}, τ I_{n2}) (Fiez & Ratliff 2021, Eq. 2), has
the continuous-time Jacobian at a critical point

    J_τ = Λ_τ J = [[D1²f, D12f], [−τ D12fᵀ, −τ D2²f]]       (zero-sum; in general Λ_τ times the
                                                            game Jacobian J of ξ = (∇_x L_x, ∇_y L_y))

and the point is locally exponentially stable iff spec(J_τ) ⊂ C°₊ (Def. 3). Theorem 1: when
det(D2²f) ≠ 0 there is τ* ∈ [0, ∞) with J_τ stable for every τ ∈ (τ*, ∞) iff the point is a
DSE (strict local minimax), and τ* = λ⁺max(Q) (largest positive real eigenvalue, 0 if none) with
Q of Eq. (14). The printed Eq. (14) is garbled; this module uses the computable version re-derived
from the proof (coefficient 2; blocks A_ij of J, the actual lower-left block A21 wherever the
paper prints A12ᵀ), which our tests check against two independent computations:

* the guard map ν(τ) = det(J_τ ⊞ J_τ) (Saydy et al.): with J_τ = J_top + τ J_bot,
  its positive real roots are the positive real generalized eigenvalues of the pencil
  (J_top ⊞ J_top, −J_bot ⊞ J_bot); they are the only τ where an eigenvalue pair can cross the
  imaginary axis (λ_i + λ_j = 0), so stability is constant between consecutive roots and the
  stable set is exactly a union of intervals between roots;
* a scan: a geometric grid over τ brackets the last change of stability, then bisection on the
  sign of min Re spec(J_τ) locates it to ~1e-14 relative.

Theorem 2 (non-convergence, point not a DSE): τ-GDA is unstable for all τ > τ0. The printed τ0
fails numerical checks; ``theorem2_tau0`` implements the re-derived form:

    τ0 = λ⁺max( Q2⁻¹ (Kᵀ Q1⁻¹ K + P2 L0 D12f + (P2 L0 D12f)ᵀ) ),
    K = −P1 D12f + S1(−J) L0ᵀ P2,    L0 = (D2²f)⁻¹ D12fᵀ,

with the valid choice P1 = S1(−J)⁻¹, P2 = (D2²f)⁻¹ (so Q1 = Q2 = 2I). τ0 is only a sufficient
bound; the exact threshold (largest τ at which the point is still stable) comes from the guard
roots and is reported beside it.

Notation: A ⊕ B = A⊗I + I⊗B (Kronecker sum), vec stacks rows (numpy's row-major reshape), H_n is
the duplication matrix (vec X = H_n vech X for symmetric X), H_n⁺ = (H_nᵀH_n)⁻¹H_nᵀ, and
A ⊞ A = H_n⁺ (A ⊕ A) H_n (eigenvalues λ_i + λ_j, i ≤ j; Lemma C.1).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

from minimax_cli.metrics.spectrum import blocks, sym_eigs, zero_tol

#: geometric grid of the scan; extended upward while the status differs from its τ → ∞ limit
SCAN_RANGE = (1e-8, 1e6)
SCAN_POINTS = 1401
AGREE_RTOL = 1e-6
#: guard roots below this are τ = 0 in disguise (J_0 has the follower block zeroed, so ν(0) = 0)
ROOT_FLOOR = 1e-9


# -- linear algebra of Fiez & Ratliff 2021, App. B ------------------------------------------------------------
def duplication(n: int) -> np.ndarray:
    """H_n ∈ R^{n² × n(n+1)/2}: vec(X) = H_n vech(X) for symmetric X (row-major vec)."""
    cols = []
    for i in range(n):
        for j in range(i, n):
            e = np.zeros((n, n))
            e[i, j] = e[j, i] = 1.0
            cols.append(e.reshape(-1))
    return np.array(cols).T


def _left_pinv(H: np.ndarray) -> np.ndarray:
    return np.linalg.solve(H.T @ H, H.T)


def kron_sum(A: np.ndarray) -> np.ndarray:
    """A ⊕ A = A⊗I + I⊗A (vec(X) ↦ vec(AX + XAᵀ) for row-major vec)."""
    eye = np.eye(len(A))
    return np.kron(A, eye) + np.kron(eye, A)


def box_plus(A: np.ndarray) -> np.ndarray:
    """A ⊞ A = H_n⁺ (A ⊕ A) H_n, of size ½n(n+1); eigenvalues λ_i + λ_j for i ≤ j."""
    H = duplication(len(A))
    return _left_pinv(H) @ kron_sum(A) @ H


def largest_positive_real(values, rtol: float = 1e-7) -> float:
    """λ⁺max: the largest positive real value among ``values`` (0 if there is none)."""
    best = 0.0
    for v in np.asarray(values, dtype=complex):
        if np.isfinite(v) and abs(v.imag) <= rtol * max(1.0, abs(v)) and v.real > 0:
            best = max(best, float(v.real))
    return best


# -- J_τ and its stability ---------------------------------------------------------------------------
def tau_jacobian(J: np.ndarray, n1: int, tau: float) -> np.ndarray:
    """J_τ = Λ_τ J, Λ_τ = blockdiag(I_{n1}, τ I_{n2}) (Fiez & Ratliff 2021, Eq. 3)."""
    scale = np.ones(len(J))
    scale[n1:] = tau
    return scale[:, None] * J


def hurwitz_margin(J: np.ndarray, n1: int, tau: float) -> float:
    """min Re spec(J_τ): J_τ is stable (−J_τ Hurwitz) iff it is > 0."""
    return float(np.linalg.eigvals(tau_jacobian(J, n1, tau)).real.min())


def is_stable(J: np.ndarray, n1: int, tau: float) -> bool:
    """min Re spec(J_τ) > 0, beyond rounding. The margin is judged against the scale of J and of
    the eigenvalue that attains it, not against max|J_τ|: that grows like τ while the n1 slow
    eigenvalues tend to spec of the Schur complement, so a τ-relative threshold would call every
    point unstable at large τ (a false guard root near 1e14 ended stable_intervals there)."""
    lam = np.linalg.eigvals(tau_jacobian(J, n1, tau))
    worst = lam[np.argmin(lam.real)]
    return bool(worst.real > 1e-12 * max(1.0, float(np.abs(J).max()), abs(worst)))


def step_size_bound(J: np.ndarray, n1: int, tau: float) -> float:
    """γ̄(τ) = min over λ ∈ spec(J_τ) of 2 Re(λ)/|λ|² (Fiez & Ratliff 2021, Theorem 4, Corollary C.1; 0 if some
    Re λ ≤ 0): simultaneous τ-GDA with leader rate γ1 is locally convergent iff γ1 < γ̄, since
    |1 − γλ|² < 1 ⟺ γ < 2 Re(λ)/|λ|²."""
    lam = np.linalg.eigvals(tau_jacobian(J, n1, tau))
    if lam.real.min() <= 0:
        return 0.0
    return float((2 * lam.real / np.abs(lam) ** 2).min())


# -- Theorem 1: the Q construction ---------------------------------------------------------------------
def theorem1_tau_star(J: np.ndarray, n1: int) -> float:
    """τ* = λ⁺max(Q), Fiez & Ratliff 2021, Theorem 1 / Eq. (14) in its computable form (module docstring):

        S  = A11 − A12 A22⁻¹ A21
        G1 = [ (A12 ⊗ A22⁻¹) H_{n2} ,  (I_{n1} ⊗ A22⁻¹A21) H_{n1} ]
        G2 = blockdiag( (A22 ⊞ A22)⁻¹ , −(S ⊞ S)⁻¹ )
        G3 = [ H⁺_{n2} (A21 ⊗ I_{n2}) ;  H⁺_{n1} (S ⊗ A12 A22⁻¹) ]
        Q  = −(A11 ⊗ A22⁻¹) + 2 G1 G2 G3                      (n1n2 × n1n2)

    with [[A11, A12], [A21, A22]] = J (Q is invariant under J → −J). Valid at a DSE.
    """
    A11, A12, A21, A22 = blocks(J, n1)
    n2 = len(A22)
    inv22 = np.linalg.inv(A22)
    S = A11 - A12 @ inv22 @ A21
    H1, H2 = duplication(n1), duplication(n2)
    G1 = np.hstack([np.kron(A12, inv22) @ H2, np.kron(np.eye(n1), inv22 @ A21) @ H1])
    G2 = sla.block_diag(np.linalg.inv(box_plus(A22)), -np.linalg.inv(box_plus(S)))
    G3 = np.vstack([_left_pinv(H2) @ np.kron(A21, np.eye(n2)), _left_pinv(H1) @ np.kron(S, A12 @ inv22)])
    Q = -np.kron(A11, inv22) + 2.0 * G1 @ G2 @ G3
    return largest_positive_real(np.linalg.eigvals(Q))


# -- the guard map -------------------------------------------------------------------------------------
def guard_roots(J: np.ndarray, n1: int) -> list[float] | None:
    """Positive real roots of ν(τ) = det(J_τ ⊞ J_τ), ascending; None when ν ≡ 0 (some λ_i + λ_j
    vanishes for every τ, e.g. a purely imaginary pair: J_τ is then never stable)."""
    top, bottom = J.copy(), J.copy()
    top[n1:] = 0.0
    bottom[:n1] = 0.0
    A0, A1 = box_plus(top), box_plus(bottom)
    if all(_nearly_singular(A0 + t * A1) for t in (0.37, 1.9, 7.3)):
        return None
    alpha, beta = sla.eig(A0, -A1, right=False, homogeneous_eigvals=True)
    # ν is a polynomial of degree at most m − n1(n1+1)/2 in τ (the pairs of J_τ's n1 slow
    # eigenvalues stay bounded as τ → ∞): that many eigenvalues of the pencil are infinite, and
    # rounding may return them as huge finite roots (β ≈ 1e-16, τ ≈ 1e14). Drop them by count.
    n_inf = n1 * (n1 + 1) // 2
    order = np.argsort(np.abs(beta) / np.maximum(np.abs(alpha) + np.abs(beta), 1e-300))
    keep = order[n_inf:]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = alpha[keep] / beta[keep]
    roots = []
    for v in values:
        if np.isfinite(v) and abs(v.imag) <= 1e-6 * max(1.0, abs(v)) and v.real > ROOT_FLOOR:
            roots.append(float(v.real))
    merged: list[float] = []
    for r in sorted(roots):
        if merged and r - merged[-1] <= 1e-9 * r:
            continue
        merged.append(r)
    return merged


def _nearly_singular(M: np.ndarray) -> bool:
    s = np.linalg.svd(M, compute_uv=False)
    return bool(s[-1] <= 1e-11 * max(s[0], 1e-300))


def stable_intervals(J: np.ndarray, n1: int, roots: list[float]) -> list[tuple[float, float]]:
    """The exact set of τ > 0 where J_τ is stable: the intervals between consecutive guard roots
    (stability cannot change inside one) whose midpoint is stable. ``math.inf`` ends the last."""
    edges = [0.0] + list(roots) + [math.inf]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi == math.inf:
            probe = 2.0 * lo if lo > 0 else 1.0
        else:
            probe = hi / 2.0 if lo == 0.0 else math.sqrt(lo * hi)
        if is_stable(J, n1, probe):
            out.append((lo, hi))
    return out


# -- the scan -------------------------------------------------------------------------------------------
def scan_last_change(J: np.ndarray, n1: int, stable_at_infinity: bool | None = None) -> float | None:
    """The largest τ at which J_τ's stability changes: grid bracket, then bisection to ~1e-14.

    For a DSE this is τ* (0 when J_τ is stable on the whole grid); otherwise it is the largest
    τ at which the point is still stable (None: never stable on the grid). ``stable_at_infinity``
    (the τ → ∞ status, Fiez & Ratliff 2021, App. I) extends the grid upward until it is reached (to 1e12).
    """
    taus = list(np.geomspace(*SCAN_RANGE, SCAN_POINTS))
    status = [is_stable(J, n1, t) for t in taus]
    while stable_at_infinity is not None and status[-1] != stable_at_infinity and taus[-1] < 1e12:
        taus.append(taus[-1] * 2.0)
        status.append(is_stable(J, n1, taus[-1]))
    last = status[-1]
    differing = [i for i, s in enumerate(status) if s != last]
    if not differing:
        return 0.0 if last else None
    lo, hi = taus[differing[-1]], taus[differing[-1] + 1]
    while hi - lo > 1e-15 * hi:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if is_stable(J, n1, mid) == last:
            hi = mid
        else:
            lo = mid
    return hi


# -- Theorem 2 ------------------------------------------------------------------------------------------
def theorem2_tau0(J: np.ndarray, n1: int, choice: str = "inverse") -> float:
    """Non-convergence threshold τ0 of Fiez & Ratliff 2021, Theorem 2, corrected form (module docstring), for a
    zero-sum critical point that is not a DSE, with det(D2²f) ≠ 0 and S1 non-singular.

    ``choice``: ``inverse`` takes P1 = S1(−J)⁻¹, P2 = (D2²f)⁻¹ (Q1 = Q2 = 2I); ``same`` takes
    P1 = S1(−J), P2 = D2²f (Q_i = 2A_i²). Both satisfy Theorem 2's conditions (a)–(c).
    """
    D11, D12, _, J22 = blocks(J, n1)
    D22 = -J22                                   # J22 = −D2²f
    S1m = -(D11 - D12 @ np.linalg.inv(D22) @ D12.T)  # S1(−J) = −S1(J)
    if choice == "inverse":
        P1, P2 = np.linalg.inv(S1m), np.linalg.inv(D22)
    elif choice == "same":
        P1, P2 = S1m, D22
    else:
        raise ValueError(f"choice must be 'inverse' or 'same' (got {choice!r})")
    Q1, Q2 = S1m @ P1 + P1 @ S1m, D22 @ P2 + P2 @ D22
    L0 = np.linalg.solve(D22, D12.T)
    K = -P1 @ D12 + S1m @ L0.T @ P2
    M = P2 @ L0 @ D12
    return largest_positive_real(np.linalg.eigvals(np.linalg.solve(Q2, K.T @ np.linalg.solve(Q1, K) + M + M.T)))


# -- everything for `minimax analyze` ------------------------------------------------------------------
def _finite(v):
    return None if v is None or (isinstance(v, float) and math.isinf(v)) else v


def _agree(a, b) -> tuple[bool, float | None]:
    if a is None or b is None:
        return a is None and b is None, None
    diff = abs(a - b)
    rel = diff / max(abs(a), abs(b)) if max(abs(a), abs(b)) > 0 else 0.0
    return bool(diff <= AGREE_RTOL * max(abs(a), abs(b)) + 1e-12), rel


def analyze(J: np.ndarray, n1: int, zero_sum: bool = True, max_dim: int = 40) -> dict:
    """τ* (DSE) or the non-convergence thresholds (not a DSE) at a point with game Jacobian J.

    Keys: ``dse``; ``value`` (τ*, Theorem 1; None unless DSE); ``theorem1``, ``guard_map``,
    ``scan`` (τ* three ways, DSE) and ``agree``/``rel_diff``; ``guard_roots``; ``stable_intervals``
    (τ ranges where J_τ is stable; a None upper end is ∞); for a non-DSE ``tau0`` (Theorem 2,
    corrected, zero-sum only) and ``instability_threshold`` (exact: largest τ still stable; None
    if never stable); ``note``.
    """
    n = len(J)
    if n > max_dim:
        return {"skipped": f"the game has {n} > {max_dim} parameters (analyze.tau_max_dim): the "
                           "n1·n2 × n1·n2 construction and the n(n+1)/2 guard pencil are too large"}
    _, _, _, J22 = blocks(J, n1)
    tol = zero_tol(J)
    d22 = sym_eigs(J22)                          # follower's own Hessian ∇²_yy L_y (= −D2²f)
    regular = bool(np.abs(d22).min() > tol)
    S = None
    if regular:
        A11, A12, A21, _ = blocks(J, n1)
        S = A11 - A12 @ np.linalg.inv(J22) @ A21
    dse = bool(regular and d22.min() > tol and sym_eigs(S).min() > tol)
    notes = []
    if not zero_sum:
        notes.append("general-sum game: Theorems 1–2 are stated for zero-sum games; the guard map and "
                     "the scan are exact for any J")
    if not regular:
        notes.append("D2²f is singular: Theorems 1–2 do not apply (det(D2²f) = 0)")
    roots = guard_roots(J, n1)
    if roots is None:
        notes.append("the guard map vanishes identically: an eigenvalue pair of J_τ stays on the "
                     "imaginary axis (or at 0) for every τ, so J_τ is never stable")
        intervals = []
    else:
        intervals = stable_intervals(J, n1, roots)
    stable_last = bool(intervals) and intervals[-1][1] == math.inf
    out = {"dse": dse, "value": None, "theorem1": None, "guard_map": None, "scan": None,
           "agree": None, "rel_diff": None, "guard_roots": roots,
           "stable_intervals": [[lo, _finite(hi)] for lo, hi in intervals],
           "tau0": None, "instability_threshold": None}
    if dse:
        try:
            out["theorem1"] = theorem1_tau_star(J, n1)
        except np.linalg.LinAlgError as exc:
            notes.append(f"the Theorem 1 construction failed ({exc})")
        out["value"] = out["theorem1"]
        if stable_last:
            # stable on (r_k, ∞) and not at r_k (ν(r_k) = 0): τ* = r_k, or 0 without roots
            out["guard_map"] = intervals[-1][0]
        out["scan"] = scan_last_change(J, n1, stable_at_infinity=True)
        checks = [_agree(out["theorem1"], out["guard_map"]), _agree(out["theorem1"], out["scan"])]
        out["agree"] = all(ok for ok, _ in checks)
        rels = [r for _, r in checks if r is not None]
        out["rel_diff"] = max(rels) if rels else None
    else:
        if zero_sum and regular and S is not None and np.abs(sym_eigs(S)).min() > tol:
            out["tau0"] = theorem2_tau0(J, n1)
        elif zero_sum and regular:
            notes.append("S1 is singular: Theorem 2's τ0 is not defined")
        elif not zero_sum:
            notes.append("Theorem 2's τ0 is computed for zero-sum games only")
        if intervals and not stable_last:
            out["instability_threshold"] = intervals[-1][1]
        elif stable_last:
            notes.append("not a DSE, yet J_τ is stable for large τ (the point is degenerate)")
        out["scan"] = scan_last_change(J, n1, stable_at_infinity=False if regular else None)
        ok, rel = _agree(out["instability_threshold"], out["scan"] if not stable_last else None)
        out["agree"], out["rel_diff"] = ok, rel
    out["note"] = "; ".join(notes)
    return out
