"""Networks a researcher might bring (docs/bring-your-own.md), for tests/test_bring_your_own.py.

``Gen``/``Disc`` and ``ImageGen``/``ImageDisc`` work; the others are each refused with one line.
"""

import torch
from torch import nn


class Gen(nn.Module):
    """z (n, latent) -> samples (n, data_dim); minimax fills latent and data_dim."""

    def __init__(self, latent, data_dim, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.ELU(), nn.Linear(hidden, data_dim))

    def forward(self, z):
        return self.net(z)


class Disc(nn.Module):
    """samples (n, data_dim) -> logits (n, 1), with a LayerNorm (per-sample statistics: pure)."""

    def __init__(self, data_dim, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(data_dim, hidden), nn.LayerNorm(hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, v):
        return self.net(v)


class ImageGen(nn.Module):
    """z (n, latent_dim) -> images (n, channels, size, size) in [-1, 1]."""

    def __init__(self, channels, image_size, latent_dim=8):
        super().__init__()
        self.latent_dim, self.shape = latent_dim, (channels, image_size, image_size)
        self.fc = nn.Linear(latent_dim, channels * image_size * image_size)

    def forward(self, z):
        return torch.tanh(self.fc(z)).view(len(z), *self.shape)


class ImageDisc(nn.Module):
    def __init__(self, channels, image_size, width=4):
        super().__init__()
        self.conv = nn.Conv2d(channels, width, 3, stride=2, padding=1)
        self.fc = nn.Linear(width * ((image_size + 1) // 2) ** 2, 1)

    def forward(self, v):
        return self.fc(torch.nn.functional.leaky_relu(self.conv(v), 0.2).flatten(1))


class RunningStatsDisc(Disc):
    def __init__(self, data_dim):
        super().__init__(data_dim)
        self.net[1] = nn.BatchNorm1d(16)          # track_running_stats=True by default


class DropoutDisc(Disc):
    def __init__(self, data_dim):
        super().__init__(data_dim)
        self.net[2] = nn.Dropout(0.5)


class IntegerParameter(Disc):
    def __init__(self, data_dim):
        super().__init__(data_dim)
        self.steps = nn.Parameter(torch.zeros(1, dtype=torch.int64), requires_grad=False)
        self.scale = nn.Parameter(torch.ones(1, dtype=torch.complex64))


class NoParameters(nn.Module):
    def forward(self, v):
        return v.sum(1)


class CountingDisc(Disc):
    """Changes a buffer inside forward."""

    def __init__(self, data_dim):
        super().__init__(data_dim)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, v):
        self.calls.add_(1)
        return super().forward(v)


class NumpyDisc(Disc):
    """Goes through NumPy inside forward: torch.func's wrapped tensors have no storage to share."""

    def forward(self, v):
        out = super().forward(v)
        return out * float(abs(out.detach().numpy()).max() > 0)


class WrongShapeGen(Gen):
    def forward(self, z):
        return super().forward(z)[:, :1].repeat(1, 5)


class BrokenInit(nn.Module):
    def __init__(self, data_dim):
        super().__init__()
        raise ValueError("hidden must be even")
