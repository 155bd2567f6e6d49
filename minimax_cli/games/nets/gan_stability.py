"""The GAN_stability ResNet of Fiez & Ratliff 2021 (τ-GDA, Appendix K.7.2, Fig. 17; Mescheder et al. 2018).

Fig. 17 at 32×32 (nf = 64, latent 256):

    G: z → FC(256 → 512·4·4) → reshape → RB(512→256) ↑ RB(256→128) ↑ RB(128→64) ↑ RB(64→64)
       → Conv3×3(64 → 3) → tanh                                        4 → 8 → 16 → 32
    D: x → Conv3×3(3 → 64) → RB(64→64) ↓ RB(64→128) ↓ RB(128→256) ↓ RB(256→512)
       → FC(512·4·4 → 1)                                               32 → 16 → 8 → 4

Details from the paper's code (fiezt/Finite-Learning-Ratio, Experiments/GAN, based on
LMescheder/GAN_stability):
- Residual block: out = shortcut(x) + 0.1 · conv1(lrelu(conv0(lrelu(x)))), 3×3 convs with
  padding 1, hidden width min(fin, fout), conv1 with bias, learned 1×1 shortcut WITHOUT bias
  when fin ≠ fout, identity otherwise; LeakyReLU slope 0.2.
- Widths: nf·2^k capped at ``nf_max`` (1024 in the paper's fr_default.yaml; only reached at
  64×64). ↑ is nearest-neighbour ×2 upsampling; ↓ is AvgPool(kernel 3, stride 2, padding 1)
  (count_include_pad, PyTorch's default, as in the code).
- G's image head is conv(lrelu(·)) then tanh; D's FC is applied to lrelu(features).
- The code is class-conditional with one label: G's FC input is z concatenated with an
  L2-normalized learned 1-dimensional label embedding, i.e. the constant sign(e) = ±1 (its
  gradient is identically zero). We feed the constant 1 instead (same function class: the FC
  column is flipped when sign(e) = −1; the default init is symmetric). So the FC has
  latent_dim + 1 inputs, as in the code. D's per-label output reduces to one logit.
- Initialization: PyTorch's defaults, as in the code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minimax_cli.errors import ConfigError

_SLOPE = 0.2


def _lrelu(x):
    return F.leaky_relu(x, _SLOPE)


def _levels(image_size: int) -> int:
    if image_size < 8 or image_size & (image_size - 1):
        raise ConfigError(f"the GAN_stability ResNet needs a power-of-two image_size >= 8 (got {image_size}; "
                          "the paper uses 32)")
    return int(math.log2(image_size // 4))


class ResnetBlock(nn.Module):
    def __init__(self, fin: int, fout: int):
        super().__init__()
        hidden = min(fin, fout)
        self.conv_0 = nn.Conv2d(fin, hidden, 3, 1, 1)
        self.conv_1 = nn.Conv2d(hidden, fout, 3, 1, 1)
        self.conv_s = nn.Conv2d(fin, fout, 1, 1, 0, bias=False) if fin != fout else None

    def forward(self, x):
        dx = self.conv_1(_lrelu(self.conv_0(_lrelu(x))))
        s = x if self.conv_s is None else self.conv_s(x)
        return s + 0.1 * dx


class GSGenerator(nn.Module):
    def __init__(self, latent_dim: int = 256, nf: int = 64, nf_max: int = 1024, channels: int = 3,
                 image_size: int = 32):
        super().__init__()
        n = _levels(image_size)
        self.latent_dim = latent_dim
        self.nf0 = min(nf_max, nf * 2 ** n)
        self.fc = nn.Linear(latent_dim + 1, self.nf0 * 4 * 4)
        blocks = []
        for i in range(n):
            blocks += [ResnetBlock(min(nf * 2 ** (n - i), nf_max), min(nf * 2 ** (n - i - 1), nf_max)),
                       nn.Upsample(scale_factor=2)]
        blocks += [ResnetBlock(nf, nf)]
        self.resnet = nn.Sequential(*blocks)
        self.conv_img = nn.Conv2d(nf, channels, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        label = torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
        h = self.fc(torch.cat([z, label], dim=1)).reshape(z.shape[0], self.nf0, 4, 4)
        return torch.tanh(self.conv_img(_lrelu(self.resnet(h))))


class GSDiscriminator(nn.Module):
    def __init__(self, nf: int = 64, nf_max: int = 1024, channels: int = 3, image_size: int = 32):
        super().__init__()
        n = _levels(image_size)
        self.nf0 = min(nf_max, nf * 2 ** n)
        self.conv_img = nn.Conv2d(channels, nf, 3, 1, 1)
        blocks = [ResnetBlock(nf, nf)]
        for i in range(n):
            blocks += [nn.AvgPool2d(3, stride=2, padding=1),
                       ResnetBlock(min(nf * 2 ** i, nf_max), min(nf * 2 ** (i + 1), nf_max))]
        self.resnet = nn.Sequential(*blocks)
        self.fc = nn.Linear(self.nf0 * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.resnet(self.conv_img(x)).reshape(x.shape[0], self.nf0 * 16)
        return self.fc(_lrelu(h)).reshape(x.shape[0])
