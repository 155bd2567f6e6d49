"""Multi-layer perceptrons for the synthetic-data GANs (evaluated through FlatModule).

    MLP(in, out, depth, width):  in → [Linear(·, width) → act] × depth → Linear(·, out)

No output activation: the discriminator returns a logit (a critic value for WGAN), the
generator a sample. Initializations (``init``), each drawn from an explicit torch.Generator so a
run's networks depend on its seed only:

    glorot_normal  weights ~ N(0, s²) truncated at ±2s, s = √(2/(fan_in + fan_out)) / 0.87962566,
                   biases 0: TF1's ``glorot_normal_initializer`` (a truncated normal rescaled to
                   variance 2/(fan_in + fan_out)), as in Wang et al. 2020's reference code
    xavier_normal  weights ~ N(0, 2/(fan_in + fan_out)) (untruncated), biases 0
    torch_default  weights and biases ~ U(±1/√fan_in): nn.Linear's default (Askari Hemmat et al. 2023, Table 2)
    normal_<s>     weights ~ N(0, s²), biases 0, e.g. normal_0.02: Radford et al.'s DCGAN init, which
                   Askari Hemmat et al. 2023's 8-Gaussians code applies to its MLPs (``weights_init``)

Paper presets (conf/experiment/; ``depth`` counts hidden layers): Wang et al. 2020 2×64 tanh, latent 16,
glorot_normal; Askari Hemmat et al. 2023, Table 2 "four affine layers" = 3×2000 ReLU + output, latent 64,
torch_default; Liang & Stokes 2019 4×128 ReLU ("L = 4 hidden layers"), latent 2; Fiez & Ratliff 2021, App. K.7.1
generator 2×32 ReLU, discriminator 1×32 ReLU, latent 16.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from minimax_cli.errors import ConfigError

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2),
               "elu": nn.ELU, "softplus": nn.Softplus}
INITS = ("glorot_normal", "xavier_normal", "torch_default", "normal_<std>")
#: TF's truncated normal at ±2 std has std 0.87962566 × the untruncated one
_TRUNC_STD = 0.87962566103423978


class MLP(nn.Sequential):
    def __init__(self, in_dim: int, out_dim: int, depth: int, width: int, activation: str):
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width), ACTIVATIONS[activation]()]
            d = width
        layers.append(nn.Linear(d, out_dim))
        super().__init__(*layers)

    @torch.no_grad()
    def initialize(self, init: str, generator: torch.Generator) -> "MLP":
        for layer in self:
            if not isinstance(layer, nn.Linear):
                continue
            fan_out, fan_in = layer.weight.shape
            if init.startswith("normal_"):
                nn.init.normal_(layer.weight, 0.0, normal_std(init), generator=generator)
                nn.init.zeros_(layer.bias)
                continue
            if init == "torch_default":
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
                continue
            std = math.sqrt(2.0 / (fan_in + fan_out))
            if init == "glorot_normal":
                s = std / _TRUNC_STD
                nn.init.trunc_normal_(layer.weight, 0.0, s, -2 * s, 2 * s, generator=generator)
            else:
                nn.init.normal_(layer.weight, 0.0, std, generator=generator)
            nn.init.zeros_(layer.bias)
        return self


def check_net(spec, key: str, defaults: dict) -> dict:
    """Validate a network config node {depth, width, activation, init, ...}; one-line errors."""
    spec = dict(defaults, **(spec or {}))
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown key {key}.{unknown[0]} (allowed: {', '.join(defaults)})")
    for name in ("depth", "width") + (("latent",) if "latent" in defaults else ()):
        value, low = spec[name], 0 if name == "depth" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{key}.{name} must be an integer >= {low} (got {value!r})")
    if spec["activation"] not in ACTIVATIONS:
        raise ConfigError(f"{key}.activation must be one of {', '.join(ACTIVATIONS)} (got {spec['activation']!r})")
    if not isinstance(spec["init"], str) or (spec["init"] not in INITS[:-1] and normal_std(spec["init"]) is None):
        raise ConfigError(f"{key}.init must be one of {', '.join(INITS)} (e.g. normal_0.02) (got {spec['init']!r})")
    return spec


def normal_std(init: str) -> float | None:
    """s of ``normal_<s>`` (a finite s > 0), else None."""
    try:
        std = float(init.removeprefix("normal_")) if init.startswith("normal_") else None
    except ValueError:
        return None
    return std if std is not None and math.isfinite(std) and std > 0 else None
