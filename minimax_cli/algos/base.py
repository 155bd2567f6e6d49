"""The GameOptimizer contract: an algorithm is a pure step map on a state of tensors.

    state        = algo.init(x0, y0, oracle)
    state, info  = algo.step(state, oracle)

``state`` is a dict of tensors (nested dicts allowed) holding at least ``x`` and ``y``; steps
never mutate it, so the same code runs vectorized over many starts (torch.func.vmap), is
differentiated for the step-map Jacobian (torch.func.jacrev), and is checkpointed as is.
Entries named in ``static_keys`` (counters, damping) are bookkeeping, not dynamics.
``info`` is a dict of scalar tensors worth logging (e.g. the damping of a CG solve).

Algorithms see only the ``Oracle`` (derivatives of the players' own losses), never modules.
"""

from __future__ import annotations

import math
from dataclasses import fields

import torch

from minimax_cli.errors import ConfigError


class GameOptimizer:
    static_keys = frozenset({"t"})
    #: batches one step draws (the step's own, then ``oracle.next_batch()`` calls): a vectorized
    #: multi-seed run draws them for every seed before the step
    batches_per_step = 1

    def __init__(self, name: str):
        self.name = name

    def init(self, x: torch.Tensor, y: torch.Tensor, oracle) -> dict:
        return {"x": x, "y": y}

    def step(self, state: dict, oracle) -> tuple[dict, dict]:
        raise NotImplementedError

    def check_game(self, game, dim_x: int, dim_y: int) -> None:
        """Checks that need the game's size (a dense solve's limit): checks.check_run calls it
        before a run directory exists, ``init`` again with the real players."""

    def point_blocks(self, game) -> bool:
        """Whether every step takes the follower's dense Hessian blocks G = ∇²_yy L_y and
        G_yx = ∇²_yx L_y at its own (x_t, y_t): a run of many starts then computes them for all
        starts at once, with the field it already has there (runner/points.py)."""
        return False

    def describe(self) -> str:
        return (self.__doc__ or self.name).strip().splitlines()[0]

    def hparams(self) -> dict:
        """Effective hyper-parameters (e.g. lr_y = τ·lr_x resolved), recorded in summary.json."""
        out = {}
        for key, value in vars(self).items():
            if isinstance(value, (bool, int, float, str)) and not key.startswith("_"):
                out[key] = value
            elif hasattr(value, "__dataclass_fields__"):
                out[key] = {k: getattr(value, k) for k in value.__dataclass_fields__}
        return out


class DirectionOptimizer(GameOptimizer):
    """Algorithms whose update is "each player steps along a direction": p ← p + P_p step(d_p).

    The direction d is descent-oriented for the player's own loss (∇_x L_x for GDA); the player's
    preconditioner (precond.py) turns it into a step with its learning rate, momentum included.
    Learning rates: ``lr_x`` and ``lr_y`` or ``tau`` (lr_y = τ·lr_x); preconditioners: ``precond``
    with each player's own fields in ``precond_x`` / ``precond_y`` (``player_preconds``).
    """

    def __init__(self, name, lr_x, lr_y=None, tau=None, momentum=0.0, precond="sgd", precond_x=None, precond_y=None):
        super().__init__(name)
        self.lr_x = check_rate(lr_x, "algo.lr_x")
        self.lr_y = follower_rate(self.lr_x, lr_y, tau)
        self.px, self.py = player_preconds(precond, precond_x, precond_y, momentum)

    def init(self, x, y, oracle):
        return {"x": x, "y": y, "px": self.px.init(x), "py": self.py.init(y)}

    def move(self, state: dict, dx_dir, dy_dir) -> dict:
        """The new x, y and preconditioner states after stepping along (dx_dir, dy_dir)."""
        x, px = self.px.advance(state["x"], dx_dir, state["px"], self.lr_x)
        y, py = self.py.advance(state["y"], dy_dir, state["py"], self.lr_y)
        return {"x": x, "y": y, "px": px, "py": py}


def player_preconds(precond, precond_x=None, precond_y=None, momentum: float = 0.0):
    """(P_x, P_y) from the shared ``precond`` and each player's own fields.

    ``precond`` is a kind name (that kind's standard settings) or a mapping {kind, beta1, beta2, eps,
    bias_correction, lr_decay}; ``precond_x`` / ``precond_y`` (a kind name, a mapping, or null)
    replace the shared value field by field where they are not null: Askari Hemmat et al. 2023's 8-Gaussians runs
    Adam with β1 = 0.5 for G and 0.55 for D, i.e. precond_y.beta1 = 0.55.
    """
    from minimax_cli.algos.precond import Precond

    def fields(spec) -> dict:
        if spec is None:
            return {}
        if isinstance(spec, Precond):
            return {k: getattr(spec, k) for k in spec.__dataclass_fields__ if k != "momentum"}
        if isinstance(spec, str):
            return {"kind": spec}
        return {k: v for k, v in dict(spec).items() if v is not None}

    shared = fields(precond)
    return tuple(Precond.build({**shared, **fields(own)}, momentum) for own in (precond_x, precond_y))


def settings_of(cls, spec, key: str):
    """The frozen settings dataclass ``cls`` from a config mapping ``spec`` (``key``: its config path,
    e.g. ``algo.solver``); a key ``cls`` has no field for is one ConfigError naming the allowed ones."""
    if isinstance(spec, cls):
        return spec
    spec = dict(spec or {})
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"unknown key {key}.{unknown[0]} (allowed: {', '.join(sorted(allowed))})")
    return cls(**spec)


def check_fresh_batch(value, order: str) -> bool:
    """``fresh_batch``: a bool, meaningful only when the players move one after the other."""
    if not isinstance(value, bool):
        raise ConfigError(f"algo.fresh_batch must be true or false (got {value!r})")
    if value and order == "simultaneous":
        raise ConfigError("algo.fresh_batch=true gives the second player's step a new batch: it needs an "
                          "alternating algo.order (both players move from one batch when simultaneous)")
    return value


def check_rate(value, key: str, allow_zero: bool = True) -> float:
    """A learning-rate-like config value: a finite number, >= 0 (or > 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number (got {value!r})")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{key} must be {bound} (got {value})")
    return float(value)


def follower_rate(lr_x: float, lr_y, tau) -> float:
    """The follower's rate: lr_y when given, else τ · lr_x (τ-GDA, Fiez & Ratliff 2021: γ2 = τ γ1).

    Configs write ``lr_y: ${mul:${.tau},${.lr_x}}``, so sweeping ``algo.tau`` moves lr_y while an
    explicit ``algo.lr_y=...`` still wins.
    """
    if tau is not None:
        check_rate(tau, "algo.tau", allow_zero=False)
    if lr_y is None:
        if tau is None:
            raise ConfigError("give algo.lr_y or algo.tau (lr_y = tau * lr_x)")
        return float(tau) * lr_x
    return check_rate(lr_y, "algo.lr_y")
