"""DCGAN generator and discriminator (Askari Hemmat et al. 2023, LEAD, Appendix I.2, Table 3; Radford et al. 2015).

Table 3 at 32×32 (``width`` = 256, ``latent_dim`` = 100, ``channels`` = 3):

    G: z ∈ R^100 → ConvT(100→1024, k4 s1 p0) BN ReLU → ConvT(1024→512, k4 s2 p1) BN ReLU
       → ConvT(512→256, k4 s2 p1) BN ReLU → ConvT(256→3, k4 s2 p1) Tanh        1→4→8→16→32
    D: x → Conv(3→256, k4 s2 p1) LReLU → Conv(256→512, k4 s2 p1) BN LReLU
       → Conv(512→1024, k4 s2 p1) BN LReLU → Conv(1024→1, k4 s1 p0) [Sigmoid]  32→16→8→4→1

Choices the table leaves open (documented in the yaml too):
- D returns the LOGIT (the table's final Sigmoid is folded into the loss, e.g. BCE-with-logits
  for the non-saturating loss: same function, numerically stable).
- LeakyReLU slope 0.2 and the N(0, 0.02) weight / N(1, 0.02) BN-scale initialization of
  Radford et al. (Table 1 of Askari Hemmat et al. 2023 cites them for this DCGAN); not given in Askari Hemmat et al. 2023.
- 64×64 adds one stride-2 layer per network, the standard DCGAN-64 (with ``width`` = 64 it is
  Radford et al.'s 512-256-128-64). MNIST uses it at 32×32 (``game.image_size=32``, padded).
- ``width`` is the channel count next to the image (256 in Table 3); the others double per
  layer. Convolutions followed by batch normalization have no bias (BN's shift makes it a
  parameter with identically zero gradient, a dead direction for HVP/CG solvers), as in
  Radford et al.'s code. Batch normalization is batch-statistics only (``layers.BatchNorm``);
  ``spectral_norm=True`` normalizes every D convolution (the issue's SN option).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from minimax_cli.errors import ConfigError
from minimax_cli.games.nets.layers import BatchNorm, conv2d


def _levels(image_size: int, who: str) -> int:
    """Number of stride-2 layers: 32 → 3, 64 → 4."""
    if image_size not in (32, 64):
        raise ConfigError(f"{who} supports image_size 32 or 64 (got {image_size}; "
                          "for MNIST use game.image_size=32)")
    return int(math.log2(image_size // 4))


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, width: int = 256, channels: int = 3, image_size: int = 32):
        super().__init__()
        n = _levels(image_size, "DCGAN")
        self.latent_dim = latent_dim
        widths = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 1024, 512, 256
        layers = [nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False), BatchNorm(widths[0]), nn.ReLU()]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), BatchNorm(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int = 256, channels: int = 3, image_size: int = 32, slope: float = 0.2,
                 batchnorm: bool = True, spectral_norm: bool = False):
        super().__init__()
        n = _levels(image_size, "DCGAN")
        widths = [width * 2 ** i for i in range(n)]  # e.g. 256, 512, 1024
        layers = [conv2d(spectral_norm, channels, widths[0], 4, 2, 1), nn.LeakyReLU(slope)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [conv2d(spectral_norm, c_in, c_out, 4, 2, 1, bias=not batchnorm)]
            layers += [BatchNorm(c_out)] if batchnorm else []
            layers += [nn.LeakyReLU(slope)]
        layers += [conv2d(spectral_norm, widths[-1], 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        _dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(x.shape[0])


def _dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02); BN scale ~ N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, BatchNorm):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
