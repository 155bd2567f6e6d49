"""Preconditioners: turn a player's raw update direction into a step (DESIGN.md).

A direction d is descent-oriented for the player's own loss (∇_x L_x for GDA). The step is

    Δ = momentum · Δ_prev − lr · P(d)          (p_new = p + Δ)

with P = identity (sgd), d / (√v̂ + eps) (rmsprop) or m̂ / (√v̂ + eps) (adam). The heavy-ball
form equals Polyak's x_{t+1} = x_t − lr P(d) + momentum (x_t − x_{t−1}); momentum may be negative
(Gidel et al. 2019). State is a dict of tensors so steps stay pure (vmap / jacrev / checkpoints).

Two evaluations of the same update: the formulas below, pure tensor algebra that works under
vmap and jacrev; and, outside torch.func transforms (a single trajectory's step), torch's fused
Adam kernel on fresh copies of the moments (``_fused``): one pass over the parameters instead of a
dozen, the old state still untouched. RMSprop is the same kernel with β1 = 0 (then m̂ = d). The two
agree to rounding; the fused one needs bias correction (it always applies it) and a float lr.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minimax_cli.errors import ConfigError

KINDS = ("sgd", "rmsprop", "adam")
_FUSED_DEVICES = ("cpu",)   # CUDA keeps the formulas: not measured on a GPU here, and cheap there


def _transformed() -> bool:
    """Whether a torch.func transform (vmap, grad, jvp, jacrev ...) is active here."""
    return torch._C._functorch.peek_interpreter_stack() is not None


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
        if self._fusable(d, -1.0):
            return self._fused(d, st, -1.0)      # −(−1)·P(d)
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
        if not self.lr_decay and self._fusable(d, lr):
            delta, st = self._fused(d, st, lr)   # −lr·P(d) in the kernel
            return self._with_momentum(delta, st)
        pd, st = self.direction(d, st)
        return self.apply(pd, st, lr)

    def advance(self, p: torch.Tensor, d: torch.Tensor, st: dict, lr) -> tuple[torch.Tensor, dict]:
        """(p + Δ, new state), for a player whose step Δ is not needed on its own: the fused
        kernel then writes the new point itself (one buffer and one pass fewer than Δ and p + Δ)."""
        if self.momentum == 0.0 and not self.lr_decay and self._fusable(d, lr) and self._fusable(p, lr) \
                and p.dtype == d.dtype and p.shape == d.shape:
            return self._fused(d, st, lr, start=p)
        delta, st = self.step(d, st, lr)
        return p + delta, st

    def apply(self, pd: torch.Tensor, st: dict, lr) -> tuple[torch.Tensor, dict]:
        """The step from an already preconditioned direction P(d) (when P(d) is needed twice)."""
        if self.lr_decay:
            lr = lr / st["t"] ** self.lr_decay     # st["t"] = k + 1 after direction()
        return self._with_momentum(-lr * pd, st)

    def _with_momentum(self, delta: torch.Tensor, st: dict) -> tuple[torch.Tensor, dict]:
        if self.momentum != 0.0:
            delta = delta + self.momentum * st["delta"]
            st = {**st, "delta": delta}
        return delta, st

    # -- the fused evaluation ------------------------------------------------------------------------
    def _fusable(self, d: torch.Tensor, lr) -> bool:
        return (self.kind != "sgd" and self.bias_correction and isinstance(lr, float)
                and d.device.type in _FUSED_DEVICES and d.dtype in (torch.float32, torch.float64)
                and not d.requires_grad and not _transformed())

    def _fused(self, d: torch.Tensor, st: dict, lr: float, start: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """(start − lr·P(d), new state) by torch's fused Adam kernel, which updates its "parameter"
        (a copy of ``start``, by default a zero vector, so it ends as the step itself) and moments
        in place: the moments are fresh copies, so the state passed in stays as it was."""
        t = st["t"] + 1
        adam = self.kind == "adam"
        out = torch.zeros_like(d) if start is None else start.clone()
        m = st["m"].clone() if adam else torch.zeros_like(d)   # β1 = 0 (RMSprop): a scratch moment, m̂ = d
        v = st["v"].clone()
        torch._fused_adam_([out], [d], [m], [v], [], [t], lr=lr, beta1=self.beta1 if adam else 0.0,
                           beta2=self.beta2, weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False)
        new = {**st, "t": t, "v": v}
        if adam:
            new["m"] = m
        return out, new
