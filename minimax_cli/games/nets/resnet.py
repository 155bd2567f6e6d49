"""SNGAN-style ResNet for 32×32 (and 64×64) images.

One family, two documented settings:

* Askari Hemmat et al. 2023 (LEAD, Appendix I.3, Tables 4–5): ``latent_dim`` 64, generator ``width`` 256,
  discriminator ``width`` 128, spectral normalization on every D layer, generator shortcut =
  upsampling only (``learned_shortcut=False``);
* Gao et al. 2022 (HessianFR, "WGAN-GP ... ResNet architectures"), which we take to be the WGAN-GP
  reference ResNet (igul222/improved_wgan_training, gan_cifar_resnet.py, unconditional):
  ``latent_dim`` 128, both widths 128, no spectral norm, learned 1×1 generator shortcut.

Generator (Table 5): z → Linear(z → 4·4·w) → reshape (w, 4, 4) → G-block × n (×2 each)
→ BN → ReLU → Conv3×3(w → c) → Tanh, with n = 3 at 32×32 (4 at 64×64).
G-block (Table 4): shortcut Upsample(×2) [→ Conv1×1 if ``learned_shortcut``];
residual BN → ReLU → Upsample(×2) → Conv3×3 → BN → ReLU → Conv3×3.

Discriminator (Table 5): D-block × 4 → ReLU → AvgPool(8×8) → Linear(w → 1) [SN].
D-block ℓ (Table 4): residual [ReLU if ℓ ≠ 1] → Conv3×3 (c or w → w) → ReLU → Conv3×3(w → w)
→ [AvgPool 2×2 if the block downsamples]; shortcut Conv1×1 and AvgPool 2×2 when the block
downsamples or changes width, identity otherwise.

Ambiguities of the garbled Table 4 and how they are resolved:
- Which D-blocks downsample: blocks 1 and 2 (32 → 16 → 8), blocks 3 and 4 keep 8×8. This is
  the only reading compatible with Table 5's final AvgPool(8×8) and is Miyato et al.'s SNGAN
  (which Askari Hemmat et al. 2023 says it follows) and gan_cifar_resnet.py. At 64×64 one more downsampling
  block is inserted (64 → 32 → 16 → 8, then the two 8×8 blocks).
- The order of AvgPool and the 1×1 shortcut convolution does not matter: a 1×1 convolution
  (bias included) commutes exactly with 2×2 average pooling.
- Non-downsampling blocks with equal widths (blocks 3, 4) use the identity shortcut, as in
  Miyato et al. and gan_cifar_resnet.py (Table 4 seems to print the 1×1 conv for every block).
- Table 5's "AvgPool (ker 8×8)" on the 8×8 map is a global mean (gan_cifar_resnet.py uses
  the mean; Miyato's chainer code a sum — a constant factor absorbed by the linear layer).
- Generator 3×3 convolutions followed by BN carry no bias (a dead parameter under BN);
  initialization is PyTorch's default (neither paper gives it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minimax_cli.errors import ConfigError
from minimax_cli.games.nets.layers import BatchNorm, conv2d, linear


def _check(image_size: int):
    if image_size not in (32, 64):
        raise ConfigError(f"the SNGAN ResNet supports image_size 32 or 64 (got {image_size})")


def _up(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, learned_shortcut: bool):
        super().__init__()
        self.bn1, self.conv1 = BatchNorm(c_in), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn2, self.conv2 = BatchNorm(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (learned_shortcut or c_in != c_out) else None

    def forward(self, x):
        h = self.conv1(_up(F.relu(self.bn1(x))))
        h = self.conv2(F.relu(self.bn2(h)))
        s = _up(x)
        return (self.shortcut(s) if self.shortcut is not None else s) + h


class DBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, downsample: bool, first: bool, spectral_norm: bool):
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = conv2d(spectral_norm, c_in, c_out, 3, 1, 1)
        self.conv2 = conv2d(spectral_norm, c_out, c_out, 3, 1, 1)
        self.shortcut = conv2d(spectral_norm, c_in, c_out, 1) if (downsample or c_in != c_out) else None

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        s = x if self.shortcut is None else self.shortcut(x)
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return s + h


class ResNetGenerator(nn.Module):
    def __init__(self, latent_dim: int = 64, width: int = 256, channels: int = 3, image_size: int = 32,
                 learned_shortcut: bool = False):
        super().__init__()
        _check(image_size)
        self.latent_dim, self.width = latent_dim, width
        self.fc = nn.Linear(latent_dim, 4 * 4 * width)
        n = int(math.log2(image_size // 4))
        self.blocks = nn.Sequential(*[GBlock(width, width, learned_shortcut) for _ in range(n)])
        self.out = nn.Sequential(BatchNorm(width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).reshape(z.shape[0], self.width, 4, 4)
        return self.out(self.blocks(h))


class ResNetDiscriminator(nn.Module):
    def __init__(self, width: int = 128, channels: int = 3, image_size: int = 32, spectral_norm: bool = True):
        super().__init__()
        _check(image_size)
        n_down = int(math.log2(image_size // 8))  # 32 → 2, 64 → 3
        sn = spectral_norm
        blocks = [DBlock(channels, width, True, True, sn)]
        blocks += [DBlock(width, width, True, False, sn) for _ in range(n_down - 1)]
        blocks += [DBlock(width, width, False, False, sn) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.fc = linear(sn, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).mean(dim=(2, 3))
        return self.fc(h).reshape(x.shape[0])
