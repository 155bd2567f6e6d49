"""A player's parameters as one flat 1-D tensor, and its network as a pure function of it.

Algorithms work on flat vectors (dot products, CG, HVPs are then plain tensor algebra); a neural
game keeps an ``nn.Module`` only as the architecture and evaluates it with
``torch.func.functional_call`` on views of the flat vector:

    net  = FlatModule(MLP(...))
    x0   = net.initial()                 # flat copy of the module's initial parameters
    out  = net(x, inputs)                # forward pass with parameters x (differentiable in x)

Buffers (e.g. batch-norm running statistics) are not parameters: they stay in the module and
are passed unchanged, so each forward is a pure function of (x, inputs).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call


class FlatModule:
    def __init__(self, module: nn.Module):
        self.module = module
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.size = sum(self.numels)

    def initial(self) -> torch.Tensor:
        """The module's current parameters as one flat vector (a copy)."""
        return torch.cat([p.detach().reshape(-1) for n, p in self.module.named_parameters() if n in self.names]).clone()

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(flat, self.numels), self.shapes)}

    def buffers(self) -> dict[str, torch.Tensor]:
        return dict(self.module.named_buffers())

    def __call__(self, flat: torch.Tensor, *args, **kwargs):
        params = self.unflatten(flat)
        params.update(self.buffers())
        return functional_call(self.module, params, args, kwargs)

    def to(self, device, dtype) -> "FlatModule":
        self.module.to(device=device, dtype=dtype)
        return self
