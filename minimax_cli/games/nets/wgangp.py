"""The "standard CNN" of WGAN-GP (Gulrajani et al. 2017), used by Gao et al. 2022 (HessianFR, §4.3).

Gao et al. 2022 trains "WGAN-GP with standard CNNs" on MNIST and CIFAR-10 without describing them; we
use the conv nets of the WGAN-GP reference code (igul222/improved_wgan_training, gan_mnist.py
and gan_cifar.py), with ``d`` = ``dim`` (64 for MNIST, 128 for CIFAR-10 in that code):

    G: z ∈ R^128 → Linear(128 → 4·4·4d) [BN] ReLU → reshape (4d, 4, 4)
       → ConvT(4d→2d, k5 s2) [BN] ReLU → (28×28 only: crop to 7×7)
       → ConvT(2d→d, k5 s2) [BN] ReLU → ConvT(d→c, k5 s2) → Tanh      4→8(→7)→16(14)→32(28)
    D: x → Conv(c→d, k5 s2) LReLU → Conv(d→2d, k5 s2) LReLU → Conv(2d→4d, k5 s2) LReLU
       → Linear(4·4·4d → 1)                                              32(28)→16(14)→8(7)→4

- The critic has no normalization (WGAN-GP's gradient penalty is per sample); LeakyReLU 0.2.
- Generator BN: gan_cifar.py uses it, gan_mnist.py in its wgan-gp mode does not; so
  ``batchnorm`` defaults to True at 32×32 and False at 28×28.
- Output Tanh at both sizes: our images are in [−1, 1] (gan_mnist.py's sigmoid produced [0, 1]
  pixels; tanh(a) = 2·sigmoid(2a) − 1 is the same family mapped to our range).
- TF's "SAME" stride-2 k5 (de)convolutions become padding 2 (and output_padding 1 for the
  transposed ones): identical shapes, TF pads asymmetrically (1 before, 2 after) where
  PyTorch pads 2 on both sides, a half-pixel shift that does not change the function class.
- Layers followed by BN carry no bias (BN's shift makes it a dead, zero-gradient parameter).
- Initialization: PyTorch's defaults (the TF code uses its own He-uniform variant).
"""

from __future__ import annotations

import torch
from torch import nn

from minimax_cli.errors import ConfigError
from minimax_cli.games.nets.layers import BatchNorm, conv2d, linear


def _check(image_size: int):
    if image_size not in (28, 32):
        raise ConfigError(f"the WGAN-GP CNN supports image_size 28 (MNIST) or 32 (CIFAR-10) (got {image_size})")


def _default_dim(image_size: int, dim):
    return dim if dim is not None else (64 if image_size == 28 else 128)


class WGANGPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 128, dim: int | None = None, channels: int = 3, image_size: int = 32,
                 batchnorm: bool | None = None):
        super().__init__()
        _check(image_size)
        d = _default_dim(image_size, dim)
        bn = (image_size == 32) if batchnorm is None else batchnorm
        self.latent_dim, self.d, self.crop = latent_dim, d, image_size == 28
        norm = (lambda c: BatchNorm(c)) if bn else (lambda c: nn.Identity())
        self.fc = nn.Sequential(nn.Linear(latent_dim, 4 * 4 * 4 * d, bias=not bn), norm(4 * 4 * 4 * d), nn.ReLU())
        self.up1 = nn.Sequential(nn.ConvTranspose2d(4 * d, 2 * d, 5, 2, 2, output_padding=1, bias=not bn),
                                 norm(2 * d), nn.ReLU())
        self.up2 = nn.Sequential(nn.ConvTranspose2d(2 * d, d, 5, 2, 2, output_padding=1, bias=not bn),
                                 norm(d), nn.ReLU())
        self.out = nn.Sequential(nn.ConvTranspose2d(d, channels, 5, 2, 2, output_padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).reshape(z.shape[0], 4 * self.d, 4, 4)
        h = self.up1(h)
        if self.crop:  # gan_mnist.py: output[:, :, :7, :7]
            h = h[:, :, :7, :7]
        return self.out(self.up2(h))


class WGANGPDiscriminator(nn.Module):
    def __init__(self, dim: int | None = None, channels: int = 3, image_size: int = 32, slope: float = 0.2,
                 spectral_norm: bool = False):
        super().__init__()
        _check(image_size)
        d = _default_dim(image_size, dim)
        sn = spectral_norm
        self.net = nn.Sequential(
            conv2d(sn, channels, d, 5, 2, 2), nn.LeakyReLU(slope),
            conv2d(sn, d, 2 * d, 5, 2, 2), nn.LeakyReLU(slope),
            conv2d(sn, 2 * d, 4 * d, 5, 2, 2), nn.LeakyReLU(slope),
            nn.Flatten(), linear(sn, 4 * 4 * 4 * d, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(x.shape[0])
