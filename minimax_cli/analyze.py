"""`minimax analyze`: the local theory of a game and an algorithm at a critical point.

    cfg -> game, algorithm -> critical point (known, or Newton from ``point``) ->
        classification (Wang et al. 2020, Props. 2–3), eigenvalues of the game Jacobian,
        the step map's Jacobian (jacrev of the real ``algo.step``) and its spectral radius,
        τ* / non-convergence thresholds for τ-GDA (Fiez & Ratliff 2021, Theorems 1–2),
        Liang & Stokes 2019's step sizes and iteration bounds when the game is bilinear at the point.

The analysis runs in float64 on the CPU whatever ``hardware`` says (it is for small games: dense
Jacobians of the game and of the step map).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from minimax_cli.build import build
from minimax_cli.config import checked
from minimax_cli.errors import ConfigError
from minimax_cli.metrics import bilinear_bounds, spectrum, tau_star
from minimax_cli.run_settings import RunSettings

OUTPUTS = ("text", "json")
#: the keys every JSON report has, in this order, then the extras
REQUIRED_KEYS = ("point", "classification", "game_jacobian_eigs", "step_jacobian_eigs", "spectral_radius",
                 "tau_star")
OPTIONS = ("output", "newton_tol", "newton_steps", "tau_max_dim", "max_dim", "eps", "r", "gamma")


def options(cfg: DictConfig) -> dict:
    """The ``analyze`` node of the config (defaults in conf/config.yaml), validated: one line each."""
    node = cfg.get("analyze")
    opts = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    missing = [k for k in OPTIONS if k not in opts]
    if missing:
        raise ConfigError(f"the config has no analyze.{missing[0]} (conf/config.yaml defines analyze.*)")
    if opts["output"] not in OUTPUTS:
        raise ConfigError(f"analyze.output must be one of {', '.join(OUTPUTS)} (got {opts['output']!r})")
    for key in ("newton_tol", "eps", "gamma"):
        _positive(opts[key], f"analyze.{key}")
    if opts["r"] is not None:
        _positive(opts["r"], "analyze.r")
    for key in ("newton_steps", "tau_max_dim", "max_dim"):
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"analyze.{key} must be an integer >= 1 (got {value!r})")
    return opts


def _positive(value, key):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{key} must be a number > 0 (got {value!r})")


def resolve_point(game, spec, opts) -> dict:
    """The critical point: known (``spec`` None = the first, an integer k = the k-th) or found by
    Newton's method on ξ from ``spec`` = [x..., y...]."""
    if isinstance(spec, (ListConfig, DictConfig)):
        spec = OmegaConf.to_container(spec, resolve=True)
    n, m = game.dim_x, game.dim_y
    if spec is None or (isinstance(spec, int) and not isinstance(spec, bool)):
        known = game.critical_points()
        if not known:
            raise ConfigError(f"game {game.name} has no known critical point; give point=[x..., y...] "
                              f"({n + m} numbers) to find one with Newton's method")
        k = 0 if spec is None else spec
        if not 0 <= k < len(known):
            labels = ", ".join(f"{i}: {cp.label or '?'}" for i, cp in enumerate(known))
            raise ConfigError(f"point={k} is not a known critical point of {game.name} (choose 0..{len(known) - 1}: {labels})")
        cp = known[k]
        x, y = cp.x.reshape(-1), cp.y.reshape(-1)
        source = f"known critical point {k}" + (f" ({cp.label})" if cp.label else "")
        iterations = 0
    elif isinstance(spec, (list, tuple)):
        try:
            values = [float(v) for v in spec]
        except (TypeError, ValueError):
            raise ConfigError(f"point must be a list of numbers [x..., y...] (got {spec!r})") from None
        if len(values) != n + m or not all(math.isfinite(v) for v in values):
            raise ConfigError(f"point must have dim_x + dim_y = {n + m} finite numbers [x..., y...] for "
                              f"{game.name} (got {len(values)})")
        z = game.tensor(values)
        x, y, iterations, _ = spectrum.newton(game, z[:n], z[n:], game.eval_batch(),
                                              tol=opts["newton_tol"], max_iter=opts["newton_steps"])
        source = f"Newton's method from {values} ({iterations} iterations)"
    else:
        raise ConfigError(f"point must be null (the game's critical point), an index k of a known "
                          f"critical point, or a list [x..., y...] to start Newton from (got {spec!r})")
    return {"x": x, "y": y, "source": source, "newton_iterations": iterations,
            "field_norm": spectrum.field_norm(game, x, y, game.eval_batch())}


def default_radius(game, x, y) -> float:
    """r of Liang & Stokes 2019's bounds: the farthest starting point of the game from the analyzed point."""
    x0, y0 = game.initial_points()
    return float(((x0 - x).pow(2).sum(-1) + (y0 - y).pow(2).sum(-1)).sqrt().max())


def bilinear_part(game, J: np.ndarray, n: int):
    """C when the game is bilinear at the point (zero-sum, H_xx = H_yy = 0, p = q), else None."""
    J11, J12, _, J22 = spectrum.blocks(J, n)
    tol = spectrum.zero_tol(J)
    if not game.zero_sum or J12.shape[0] != J12.shape[1] or np.abs(J11).max() > tol or np.abs(J22).max() > tol:
        return None
    if np.linalg.matrix_rank(J12, tol=tol) < J12.shape[0]:
        return None
    return J12


def analyze(run: RunSettings | DictConfig) -> dict:
    """The report of `minimax analyze` for a job's checked settings (config.prepare), or for a
    composed config, checked first (see module docstring)."""
    from minimax_cli.games.toy import Quadratic
    from minimax_cli.checkpoint import seed_everything

    # torch's first forward-mode derivative imports a module that warns about its own internals
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    cfg = (run if isinstance(run, RunSettings) else checked(run)).cfg
    opts = options(cfg)
    seed_everything(int(cfg.seed))
    game = build(cfg.game, "game")
    algo = build(cfg.algo, "algo")
    game.setup(torch.device("cpu"), torch.float64, int(cfg.seed))
    n, m = game.dim_x, game.dim_y
    if n + m > opts["max_dim"]:
        raise ConfigError(f"{game.name} has {n + m} parameters, more than analyze.max_dim = {opts['max_dim']} "
                          "(the analysis forms dense Jacobians)")
    point = resolve_point(game, cfg.get("point"), opts)
    x, y = point["x"], point["y"]
    batch = game.eval_batch()
    J = spectrum.game_jacobian(game, x, y, batch)
    step = spectrum.step_jacobian(algo, game, x, y, batch)
    # eigen- and singular-value solvers do not converge on overflowing entries: one line instead
    scale = max(float(np.abs(J).max(initial=0.0)), float(np.abs(np.asarray(step["matrix"])).max(initial=0.0)))
    if not math.isfinite(scale) or scale > 1e150:
        raise ConfigError(f"the game's Jacobian at the point has entries of {scale:.3g}: too large to analyze in "
                          f"float64 (products of such entries overflow); rescale the game")
    step_eigs = spectrum.eigs(step["matrix"])
    radius = float(np.abs(step_eigs).max())
    out = {
        "game": game.name,
        "algo": algo.name,
        "point": {"x": x.tolist(), "y": y.tolist(), "source": point["source"], "field_norm": point["field_norm"]},
        "classification": spectrum.classify(J, n),
        "game_jacobian_eigs": spectrum.pairs(spectrum.eigs(J)),
        "step_jacobian_eigs": spectrum.pairs(step_eigs, order="modulus"),
        "spectral_radius": radius,
        "step_map": {"state": step["layout"], "fixed_point_residual": step["fixed_point_residual"],
                     "locally_convergent": radius < 1.0},
        "tau_star": tau_star.analyze(J, n, zero_sum=game.zero_sum, max_dim=opts["tau_max_dim"]),
        "bilinear_bounds": None,
    }
    tau = getattr(algo, "tau", None)
    if "skipped" not in out["tau_star"] and tau is not None and getattr(algo, "lr_x", None) is not None:
        # the GDA family: where the algorithm's own τ and γ1 sit (Fiez & Ratliff 2021, Theorem 4)
        out["tau_star"]["algo"] = {"tau": tau, "lr_x": algo.lr_x,
                                   "J_tau_stable": tau_star.is_stable(J, n, tau),
                                   "gamma_bar": tau_star.step_size_bound(J, n, tau)}
    C = bilinear_part(game, J, n)
    if C is not None:
        r = opts["r"] if opts["r"] is not None else default_radius(game, x, y)
        bounds = bilinear_bounds.report(C, r if r > 0 else opts["eps"], opts["eps"], opts["gamma"])
        bounds["scope"] = ("exact (the game is bilinear)" if isinstance(game, Quadratic)
                           else "local (the game's linearization at the point is bilinear)")
        out["bilinear_bounds"] = bounds
    return jsonable(out)


def jsonable(value):
    """Plain JSON: tuples -> lists, numpy scalars -> floats, non-finite floats -> None."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# -- the readable report -------------------------------------------------------------------------------
def _num(v) -> str:
    return "-" if v is None else f"{v:.6g}"


def _vec(values) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def _complex(pairs) -> str:
    parts = []
    for re, im in pairs:
        parts.append(f"{re:.6g}" if abs(im) <= 1e-12 * max(1.0, abs(re)) else f"{re:.6g}{im:+.6g}i")
    return "[" + ", ".join(parts) + "]"


def format_text(rep: dict) -> str:
    c, t, s = rep["classification"], rep["tau_star"], rep["step_map"]
    strict = {True: "strict", False: "non-strict", None: ""}[c["strict"]]
    lines = [
        f"minimax analyze: {rep['game']} with {rep['algo']}",
        f"point                 x = {_vec(rep['point']['x'])}, y = {_vec(rep['point']['y'])}",
        f"                      {rep['point']['source']}; |ξ| = {rep['point']['field_norm']:.3g}",
        f"classification        {c['class']}{' (' + strict + ')' if strict else ''}; "
        f"DNE: {'yes' if c['dne'] else 'no'}, DSE: {'yes' if c['dse'] else 'no'}",
        f"  eig H_xx            {_vec(c['H_xx_eigs'])}",
        f"  eig H_yy            {_vec(c['H_yy_eigs'])}",
        f"  eig Schur           {_vec(c['schur_eigs'])}   (H_xx − H_xy H_yy⁻¹ H_yx)",
    ]
    if c["note"]:
        lines.append(f"  note                {c['note']}")
    lines += [
        f"game Jacobian eigs    {_complex(rep['game_jacobian_eigs'])}",
        f"step map of {rep['algo']:<10}state {', '.join(f'{k}[{d}]' for k, d in s['state'])}; "
        f"|step(s*) − s*| = {s['fixed_point_residual']:.3g}",
        f"  eigs                {_complex(rep['step_jacobian_eigs'])}",
        f"  spectral radius     {rep['spectral_radius']:.10g} "
        f"({'< 1: locally convergent' if s['locally_convergent'] else '>= 1: not locally convergent'})",
    ]
    if "skipped" in t:
        lines.append(f"τ-GDA                 skipped: {t['skipped']}")
    elif t["dse"]:
        rel = "" if t["rel_diff"] is None else f", rel. diff {t['rel_diff']:.1e}"
        lines.append(f"τ-GDA τ*              {_num(t['value'])}   (Theorem 1 {_num(t['theorem1'])}, guard map "
                     f"{_num(t['guard_map'])}, scan {_num(t['scan'])}: {'agree' if t['agree'] else 'DISAGREE'}{rel})")
    else:
        spans = t["stable_intervals"]
        if spans and spans[-1][1] is None:   # a degenerate point (D2²f singular): stable for large τ
            verdict = f"stable for every τ > {_num(spans[-1][0])}"
        elif t["instability_threshold"] is None:
            verdict = "unstable for every τ > 0 (never stable)"
        else:
            verdict = f"unstable for every τ > {_num(t['instability_threshold'])}"
        lines.append(f"τ-GDA (not a DSE)     τ0 (Theorem 2, corrected) = {_num(t['tau0'])}; {verdict} (guard map; "
                     f"scan {_num(t['scan'])}: {'agree' if t['agree'] else 'DISAGREE'})")
    if "algo" in t:
        a = t["algo"]
        lines.append(f"  at algo τ = {a['tau']:<9.6g}J_τ {'stable' if a['J_tau_stable'] else 'not stable'}; simultaneous "
                     f"τ-GDA converges locally iff γ1 < γ̄ = {a['gamma_bar']:.6g} (algo.lr_x = {a['lr_x']:.6g})")
    if "skipped" not in t:
        spans = ", ".join(f"({_num(lo)}, {'∞' if hi is None else _num(hi)})" for lo, hi in t["stable_intervals"])
        lines.append(f"  J_τ stable for τ in {spans or 'no τ > 0'}")
        if t["note"]:
            lines.append(f"  note                {t['note']}")
    b = rep.get("bilinear_bounds")
    if b:
        lines.append(f"Liang & Stokes 2019 (bilinear)  {b['scope']}; λ(CCᵀ) in [{b['lambda_min']:.6g}, {b['lambda_max']:.6g}], "
                     f"κ = {b['kappa']:.6g}, r = {b['r']:.6g}, ε = {b['eps']:.3g}, γ = {b['gamma']:.6g}")
        for name in ("SGA", "OMD", "PM", "IU", "CO"):
            eta, bound = b[f"eta_{name}"], b[f"T_{name}"]
            lines.append(f"  {name:<4}                η = {_num(eta):<12} T_{name} = "
                         f"{'∞ (diverges)' if bound is None else bound}")
    return "\n".join(lines)
