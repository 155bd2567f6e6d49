"""Fully connected image GAN networks of Wang et al. 2020's MNIST 0/1 experiment (§6.2.2, App. D.3).

    G: z ∈ R^latent_dim → [Linear(·, width) → Tanh] × depth → Linear(·, c·s·s) → Tanh → (c, s, s)
    D: image → flatten → [SNLinear(·, width) → Tanh] × depth → SNLinear(·, 1)  (a logit; σ in the loss)

"Both the generator and discriminator are 2 hidden layer neural networks with 512 hidden units and Tanh
activations" with a "Sigmoid output layer" on D (the loss applies σ to the logit) and "spectral
normalization to enforce Lipschitz continuity on the discriminator"; App. D.3's "for each fully-connected
layer" is read as every layer of D (minimax advances the power iteration of the discriminator's layers
only). Not stated, chosen: the generator's output Tanh (our images are in [−1, 1]) and PyTorch's default
initialization (the paper's MNIST code is not public). Named by ``_target_`` in
conf/experiment/fr_mnist01.yaml; minimax fills ``channels`` and ``image_size``.
"""

from __future__ import annotations

import torch
from torch import nn

from minimax_cli.errors import ConfigError
from minimax_cli.games.nets.layers import linear


def _check(depth, width):
    for key, value in (("depth", depth), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"the image MLP's {key} must be an integer >= 1 (got {value!r})")


class MLPGenerator(nn.Module):
    def __init__(self, channels: int, image_size: int, latent_dim: int = 64, width: int = 512, depth: int = 2):
        super().__init__()
        _check(depth, width)
        self.latent_dim, self.shape = latent_dim, (channels, image_size, image_size)
        layers, d = [], latent_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.Tanh()]
            d = width
        layers += [nn.Linear(d, channels * image_size * image_size), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, channels: int, image_size: int, width: int = 512, depth: int = 2, spectral_norm: bool = True):
        super().__init__()
        _check(depth, width)
        layers, d = [], channels * image_size * image_size
        for _ in range(depth):
            layers += [linear(spectral_norm, d, width), nn.Tanh()]
            d = width
        layers.append(linear(spectral_norm, d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.net(v.flatten(1)).squeeze(-1)
