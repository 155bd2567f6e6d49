"""Layers whose forward pass is a pure function of (parameters, buffers, inputs).

Every derivative in minimax is taken with torch.func on a network evaluated by
``FlatModule`` (grad, forward-over-reverse HVPs, vjp, vmap), and image GAN losses such as R1 or
WGAN-GP take a gradient with respect to the *input* inside the loss, so an HVP of such a loss is a
third derivative of the network. Two stock layers break this; both are replaced here.

**Batch normalization** (``BatchNorm``). ``nn.BatchNorm*`` in training mode updates its
running statistics in place, which torch.func refuses ("attempted to call in-place operation
... that would mutate a captured Tensor"). Even with ``track_running_stats=False`` the fused
``F.batch_norm`` kernel is unusable here: plain autograd refuses third derivatives ("batch_norm
does not support 3rd+ order derivatives") and under torch.func they come out silently WRONG
(measured with torch 2.14: an HVP of an R1-type loss through ``nn.BatchNorm2d`` disagreed with a
finite difference of gradients by ~10% of its size). ``BatchNorm`` below is the
same normalization written with primitive ops (mean, biased variance, rsqrt), whose derivatives
of every order are exact:

    y = (x − mean_B(x)) / sqrt(var_B(x) + eps) · γ + β        (Ioffe & Szegedy 2015, Alg. 1)

It ALWAYS uses the statistics of the batch it is given and keeps no running averages, in
training and evaluation alike (the DCGAN/SNGAN codes also sample their generators with batch
statistics). Consequence for evaluation: generate in batches of a reasonable size (FID uses
50 at a time), never one image at a time.

**Spectral normalization** (``SNLinear``, ``SNConv2d``; Miyato et al. 2018). torch's
``spectral_norm`` runs its power iteration in place on buffers inside every training-mode
forward: impure, refused by torch.func, and the discriminator would change between the several
evaluations of one algorithm step (real and fake batches, HVPs, CG iterations). Worse for
second-order methods: it computes u and v from the CURRENT W and then treats them as
constants, so the "gradient" it returns is not the gradient of the function it evaluates, and
an HVP (a derivative of that gradient) disagrees with a finite difference of gradients by tens
of percent. Here the power-iteration vectors u (left) and v (right) are buffers the forward only
READS:

    σ(W) = uᵀ W v,      W_SN = W / σ(W)         (u, v fixed: σ is linear in W)

so within a step the layer is one fixed smooth function of W and grad, HVPs and finite
differences agree. The state is advanced OUTSIDE the differentiated function, once per step,
BEFORE the step, at the parameters W_k the step starts from (``power_iteration``, pure):

    v ← normalize(W_kᵀ u),  u ← normalize(W_k v)

With that cadence, value and gradient at W_k are exactly those of
``torch.nn.utils.spectral_norm`` (which performs the same iteration at the start of its
training-mode forward), ``tests/test_spectral_norm.py`` checks it. W is the weight reshaped to
(out, −1) (conv kernels as in Miyato et al.); u starts as a normalized Gaussian vector and v
as normalize(Wᵀu).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_SN_EPS = 1e-12  # torch.nn.utils.spectral_norm's eps


class BatchNorm(nn.Module):
    """Batch normalization with batch statistics only (see the module docstring).

    Works on (N, C) and (N, C, H, W) inputs; statistics over every axis but the channel axis,
    variance biased (divided by the count), as ``nn.BatchNorm*`` normalizes in training mode.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        # in float32 when bf16 autocast (hardware.precision=bf16) hands us bf16 activations, as
        # autocast's own batch_norm normalizes in float32; float32/64 inputs are used as they are
        h = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        mean = h.mean(dim=dims, keepdim=True)
        var = (h - mean).square().mean(dim=dims, keepdim=True)
        return (h - mean) * torch.rsqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


def sn_sigma(weight: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """σ(W) = uᵀ W v with the stored singular-vector estimates u, v (constants)."""
    # matmul, not torch.dot: under bf16 autocast (hardware.precision=bf16) both operands are cast alike
    return u @ (weight.reshape(weight.shape[0], -1) @ v)


def power_step(weight: torch.Tensor, u: torch.Tensor, steps: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` power iterations v ← normalize(Wᵀu), u ← normalize(Wv); returns (u, v)."""
    w = weight.detach().reshape(weight.shape[0], -1)
    for _ in range(steps):
        v = F.normalize(w.t() @ u, dim=0, eps=_SN_EPS)
        u = F.normalize(w @ v, dim=0, eps=_SN_EPS)
    return u, v


class _SpectralNorm:
    """Mixin: the layer's ``weight`` is divided by σ(weight) = uᵀ W v (buffers ``u``, ``v``)."""

    def _init_uv(self):
        w = self.weight.detach().reshape(self.weight.shape[0], -1)
        u = F.normalize(torch.randn(w.shape[0], dtype=w.dtype, device=w.device), dim=0, eps=_SN_EPS)
        self.register_buffer("u", u)
        self.register_buffer("v", F.normalize(w.t() @ u, dim=0, eps=_SN_EPS))

    def normalized_weight(self) -> torch.Tensor:
        return self.weight / sn_sigma(self.weight, self.u, self.v)


class SNLinear(_SpectralNorm, nn.Linear):
    """``nn.Linear`` with a spectrally normalized weight."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_uv()

    def forward(self, x):
        return F.linear(x, self.normalized_weight(), self.bias)


class SNConv2d(_SpectralNorm, nn.Conv2d):
    """``nn.Conv2d`` with a spectrally normalized kernel (reshaped to (out, in·kh·kw))."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_uv()

    def forward(self, x):
        return self._conv_forward(x, self.normalized_weight(), self.bias)


def linear(spectral_norm: bool, *args, **kwargs) -> nn.Module:
    return SNLinear(*args, **kwargs) if spectral_norm else nn.Linear(*args, **kwargs)


def conv2d(spectral_norm: bool, *args, **kwargs) -> nn.Module:
    return SNConv2d(*args, **kwargs) if spectral_norm else nn.Conv2d(*args, **kwargs)


def spectral_layers(module: nn.Module) -> list[str]:
    """Names (dotted, as in ``named_modules``) of the spectrally normalized layers."""
    return [name for name, m in module.named_modules() if isinstance(m, _SpectralNorm)]


def power_iteration(net, flat: torch.Tensor, buffers: dict | None = None, steps: int = 1) -> dict:
    """The buffers after ``steps`` power iterations per spectrally normalized layer.

    ``net`` is a ``FlatModule``; W comes from the flat parameter vector ``flat``. Pure: returns
    a new dict (other buffers unchanged) and touches neither the module nor ``buffers``. Call
    it once per algorithm step, BEFORE the step, at the discriminator parameters the step starts
    from, and evaluate the step with the result (``net.apply(flat, new_buffers, ...)``, or store
    it with ``net.set_buffers`` and call ``net(flat, ...)``).
    """
    params = net.unflatten(flat)
    out = dict(net.buffers() if buffers is None else buffers)
    for name in spectral_layers(net.module):
        prefix = f"{name}." if name else ""
        out[prefix + "u"], out[prefix + "v"] = power_step(params[prefix + "weight"], out[prefix + "u"], steps)
    return out
