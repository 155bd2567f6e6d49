"""Preconditioners: turn a player's raw update direction into a step (DESIGN.md).

A direction d is descent-oriented for the player's own loss (∇_x L_x for GDA). The step is

    Δ = momentum · Δ_prev − lr · P(d)          (p_new = p + Δ)

with P = identity (sgd), d / (√v̂ + eps) (rmsprop) or m̂ / (√v̂ + eps) (adam). The heavy-ball
form equals Polyak's x_{t+1} = x_t − lr P(d) + momentum (x_t − x_{t−1}); momentum may be negative
(Gidel et al. 2019). State is a dict of tensors so steps stay pure (vmap / jacrev / checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minimax_cli.errors import ConfigError

KINDS = ("sgd", "rmsprop", "adam")


@dataclass(frozen=True)
class Precond:
    kind: str = "sgd"
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    bias_correction: bool = True
    lr_decay: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"algo.precond.kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if not -1.0 < self.momentum < 1.0:
            raise ConfigError(f"algo.momentum must lie in (-1, 1) (got {self.momentum})")
        for key in ("beta1", "beta2"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"algo.precond.{key} must lie in [0, 1) (got {value})")
        if self.eps <= 0:
            raise ConfigError(f"algo.precond.eps must be > 0 (got {self.eps})")
        if isinstance(self.lr_decay, bool) or not isinstance(self.lr_decay, (int, float)) or self.lr_decay < 0:
            raise ConfigError(f"algo.precond.lr_decay must be a number >= 0 (got {self.lr_decay!r})")

    @classmethod
    def build(cls, spec, momentum: float = 0.0) -> "Precond":
        """From config: a kind name or a mapping {kind, beta1, beta2, eps, bias_correction}."""
        if isinstance(spec, Precond):
            return spec
        if spec is None or isinstance(spec, str):
            return cls(kind=spec or "sgd", momentum=float(momentum))
        spec = dict(spec)
        allowed = ("kind", "beta1", "beta2", "eps", "bias_correction", "lr_decay")
        unknown = set(spec) - set(allowed)
        if unknown:
            raise ConfigError(f"unknown key(s) algo.precond.{', algo.precond.'.join(sorted(unknown))} "
                              f"(allowed: {', '.join(allowed)})")
        return cls(momentum=float(momentum), **spec)

    @property
    def stateless(self) -> bool:
        return self.kind == "sgd" and self.momentum == 0.0

    def init(self, p: torch.Tensor) -> dict:
        st = {}
        if self.momentum != 0.0:
            st["delta"] = torch.zeros_like(p)
        if self.kind in ("rmsprop", "adam") or self.lr_decay:
            st["t"] = torch.zeros((), dtype=p.dtype, device=p.device)   # steps taken
        if self.kind in ("rmsprop", "adam"):
            st["v"] = torch.zeros_like(p)
        if self.kind == "adam":
            st["m"] = torch.zeros_like(p)
        return st

    def direction(self, d: torch.Tensor, st: dict) -> tuple[torch.Tensor, dict]:
        """P(d) and the updated moment estimates (and step counter)."""
        if "t" in st:
            st = {**st, "t": st["t"] + 1}
        if self.kind == "sgd":
            return d, st
        t = st["t"]
        v = self.beta2 * st["v"] + (1 - self.beta2) * d * d
        st["v"] = v
        if self.bias_correction:
            v = v / (1 - self.beta2**t)
        if self.kind == "rmsprop":
            return d / (v.sqrt() + self.eps), st
        m = self.beta1 * st["m"] + (1 - self.beta1) * d
        st["m"] = m
        if self.bias_correction:
            m = m / (1 - self.beta1**t)
        return m / (v.sqrt() + self.eps), st

    def step(self, d: torch.Tensor, st: dict, lr) -> tuple[torch.Tensor, dict]:
        """Δ = momentum · Δ_prev − lr · P(d)."""
        pd, st = self.direction(d, st)
        return self.apply(pd, st, lr)

    def apply(self, pd: torch.Tensor, st: dict, lr) -> tuple[torch.Tensor, dict]:
        """The step from an already preconditioned direction P(d) (when P(d) is needed twice)."""
        if self.lr_decay:
            lr = lr / st["t"] ** self.lr_decay     # st["t"] = k + 1 after direction()
        delta = -lr * pd
        if self.momentum != 0.0:
            delta = delta + self.momentum * st["delta"]
            st = {**st, "delta": delta}
        return delta, st
