"""Step sizes and iteration bounds of Liang & Stokes 2019 (Theorems 3–6 and §3) for the
bilinear game U(θ, ω) = θᵀCω, p = q, C full rank, equilibrium (0, 0).

With λ_min, λ_max the extreme eigenvalues of CCᵀ, κ = λ_max/λ_min, a start ‖z0‖ ≤ r and a
target ‖z_T‖ ≤ ε (garbled symbols restored from the proofs):

    SGA  (§3)     ‖z_{t+1}‖² ≥ (1 + η²λ_min) ‖z_t‖² for every η > 0: diverges, no bound
    OMD  (Thm 3)  η = 1/(2√(2λ_max)),                T_OMD = ⌈16 κ log(4√2 r/ε)⌉
    PM   (Thm 4)  η = γλ_min/(γ²λ_max² + λ_max),      T_PM  = ⌈2(γ²λ_max² + λ_max)/(γ²λ_min²) log(r/ε)⌉
    IU   (Thm 5)  η = 1/√λ_max,                       T_IU  = ⌈(2 + √2) κ log(r/ε)⌉
    CO   (Thm 6)  the η of Theorem 4,                 T_CO  = T_PM  (CO and PM coincide on θᵀCω)

OMD also assumes its second iterate ‖z1‖ ≤ r. γ is PM's prediction step / CO's weight of
R = ½‖∇U‖² (Liang & Stokes 2019, Fig. 1: γ = 1, r = 0.5).
"""

from __future__ import annotations

import math

import numpy as np

from minimax_cli.errors import ConfigError


def interaction_spectrum(C: np.ndarray) -> tuple[float, float]:
    """(λ_min, λ_max) of CCᵀ for a square full-rank C."""
    C = np.asarray(C, dtype=float)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ConfigError(f"Liang & Stokes 2019's bilinear bounds need a square C (p = q); got shape {C.shape}")
    lam = np.linalg.eigvalsh(C @ C.T)
    if lam[0] <= 1e-12 * max(lam[-1], 1e-300):
        raise ConfigError("Liang & Stokes 2019's bilinear bounds need a full-rank C (λ_min(CCᵀ) = 0)")
    return float(lam[0]), float(lam[-1])


def _ceil_log(factor: float, ratio: float) -> int:
    """⌈factor · log(ratio)⌉, and 0 once the start is already inside the ε-ball."""
    return max(0, math.ceil(factor * math.log(ratio))) if ratio > 0 else 0


def step_sizes(C: np.ndarray, gamma: float = 1.0) -> dict[str, float | None]:
    lmin, lmax = interaction_spectrum(C)
    pm = gamma * lmin / (gamma**2 * lmax**2 + lmax)
    return {"SGA": None, "OMD": 1.0 / (2.0 * math.sqrt(2.0 * lmax)), "PM": pm,
            "IU": 1.0 / math.sqrt(lmax), "CO": pm}


def iteration_bounds(C: np.ndarray, r: float, eps: float, gamma: float = 1.0) -> dict[str, int | None]:
    lmin, lmax = interaction_spectrum(C)
    kappa = lmax / lmin
    t_pm = _ceil_log(2.0 * (gamma**2 * lmax**2 + lmax) / (gamma**2 * lmin**2), r / eps)
    return {"SGA": None,
            "OMD": _ceil_log(16.0 * kappa, 4.0 * math.sqrt(2.0) * r / eps),
            "PM": t_pm,
            "IU": _ceil_log((2.0 + math.sqrt(2.0)) * kappa, r / eps),
            "CO": t_pm}


def sga_growth(C: np.ndarray, eta: float) -> float:
    """The factor 1 + η²λ_min(CCᵀ) > 1 by which SGA's squared distance at least grows per step."""
    lmin, _ = interaction_spectrum(C)
    return 1.0 + eta**2 * lmin


def report(C: np.ndarray, r: float, eps: float, gamma: float = 1.0) -> dict:
    """Everything `minimax analyze` prints for a bilinear game (flat keys eta_X, T_X)."""
    for key, value in (("analyze.eps", eps), ("analyze.gamma", gamma), ("analyze.r", r)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigError(f"{key} must be a number > 0 (got {value!r})")
    lmin, lmax = interaction_spectrum(C)
    out = {"lambda_min": lmin, "lambda_max": lmax, "kappa": lmax / lmin, "r": r, "eps": eps, "gamma": gamma}
    for name, eta in step_sizes(C, gamma).items():
        out[f"eta_{name}"] = eta
    for name, bound in iteration_bounds(C, r, eps, gamma).items():
        out[f"T_{name}"] = bound
    out["note"] = ("SGA diverges for every step size: |z_{t+1}|^2 >= (1 + eta^2 lambda_min)|z_t|^2 "
                   "(Liang & Stokes 2019, §3), so T_SGA and eta_SGA are null; CO coincides with PM")
    return out
