"""A player's parameters as one flat 1-D tensor, and its network as a pure function of it.

Algorithms work on flat vectors (dot products, CG, HVPs are then plain tensor algebra); a neural
game keeps an ``nn.Module`` only as the architecture and evaluates it with
``torch.func.functional_call`` on views of the flat vector:

    net  = FlatModule(MLP(...))
    x0   = net.initial()                 # flat copy of the module's initial parameters
    out  = net(x, inputs)                # forward pass with parameters x (differentiable in x)

Buffers are not parameters: they stay in the module and are passed unchanged, so each forward
is a pure function of (x, inputs). State that must evolve between steps but never inside a
differentiated function (the power-iteration vectors of spectral normalization, see
``nets/layers.py``) is a buffer too: ``net.apply(x, buffers, inputs)`` evaluates with explicit
buffers (a pure function of (x, buffers, inputs)), ``net.set_buffers(buffers)`` stores new ones.

A plain ``nn.Sequential`` of ``nn.Linear`` layers and parameter-free modules (the MLPs of the
synthetic GANs) is evaluated directly, ``F.linear`` on views of the flat vector layer by layer: the
same operations as its forward, without functional_call's swapping of every parameter into the
module (about 0.3 ms of Python per call, 5–7% of a small GAN's step on CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
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
        self._plan = _sequential_plan(module, self.names)

    def initial(self) -> torch.Tensor:
        """The module's current parameters as one flat vector (a copy)."""
        return torch.cat([p.detach().reshape(-1) for n, p in self.module.named_parameters() if n in self.names]).clone()

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(flat, self.numels), self.shapes)}

    def buffers(self) -> dict[str, torch.Tensor]:
        return dict(self.module.named_buffers())

    def set_buffers(self, buffers: dict[str, torch.Tensor]) -> None:
        """Copy new buffer values into the module (outside any torch.func transform)."""
        own = dict(self.module.named_buffers())
        unknown = set(buffers) - set(own)
        if unknown:
            raise KeyError(f"not buffers of this module: {sorted(unknown)}")
        with torch.no_grad():
            for name, value in buffers.items():
                own[name].copy_(value)

    def apply(self, flat: torch.Tensor, buffers: dict[str, torch.Tensor], *args, **kwargs):
        """Forward pass with parameters ``flat`` and the given buffers (pure in both)."""
        if self._plan is not None and not buffers and len(args) == 1 and not kwargs:
            return self._sequential(flat, args[0])
        params = self.unflatten(flat)
        params.update(buffers)
        return functional_call(self.module, params, args, kwargs)

    def __call__(self, flat: torch.Tensor, *args, **kwargs):
        return self.apply(flat, self.buffers(), *args, **kwargs)

    def _sequential(self, flat: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        params = torch.split(flat, self.numels)
        for layer, index in self._plan:
            if index is None:
                h = layer(h)
            else:
                w, b = params[index], params[index + 1]
                h = F.linear(h, w.view(self.shapes[index]), b.view(self.shapes[index + 1]))
        return h

    def to(self, device, dtype) -> "FlatModule":
        self.module.to(device=device, dtype=dtype)
        return self


def _sequential_plan(module: nn.Module, names: list[str]):
    """[(layer, index of its weight in ``names`` or None)] when ``module`` is an nn.Sequential of
    nn.Linear layers (weight and bias, no hooks) and parameter- and buffer-free modules without
    hooks; None otherwise (then functional_call evaluates it)."""
    if type(module) is not nn.Sequential and not (isinstance(module, nn.Sequential)
                                                   and type(module).forward is nn.Sequential.forward):
        return None
    if _hooked(module):
        return None
    plan = []
    for key, layer in module.named_children():
        if _hooked(layer) or list(layer.buffers()):
            return None
        if type(layer) is nn.Linear and layer.bias is not None:
            try:
                index = names.index(f"{key}.weight")
            except ValueError:
                return None
            if names[index + 1:index + 2] != [f"{key}.bias"]:
                return None
            plan.append((layer, index))
        elif not list(layer.parameters()) and not list(layer.children()):
            plan.append((layer, None))
        else:
            return None
    return plan


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or getattr(module, "parametrizations", None))
