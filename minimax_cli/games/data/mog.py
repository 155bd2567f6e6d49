"""Synthetic GAN targets: mixtures of Gaussians and the swiss roll.

Every dataset is a mixture  p(v) = Σ_k w_k N(v; c_k, σ² I)  over "centres" c_k, and knows what
the mode diagnostics need: the centres, their weights, the mode each centre belongs to, and σ.

    mog1d      ⅓N(−4, σ²) + ⅓N(0, σ²) + ⅓N(4, σ²), σ = 0.1        (seed 000 §6.2.1, App. D.2;
               seed 001 §4.2 uses σ = 0.3)
    grid2d     9 modes on {−3, 0, 3}², covariance 0.01·I (σ = 0.1)   (seed 000 §6.2.1, Fig. 5)
    ring8      8 modes on the unit circle, c_k = (cos kπ/4, sin kπ/4), σ = √0.05
               (seed 002 App. H: "variance 0.05"; seed 003 App. K.7.1: σ² = 0.05;
                seed 004 §4.2: "width 0.03", a preset sets σ = 0.03)
    swissroll  t ~ U[1.5π, 4.5π], v = (t cos t, t sin t)/7.5 + σ N(0, I₂), σ = 0.25/7.5
               (the generator of sklearn's make_swiss_roll with noise 0.25, columns (x, z),
                divided by 7.5: the scaling of Gulrajani et al.'s WGAN-GP toy code; seed 001
                §4.3 names a swiss roll without details)

The swiss roll is a continuum of centres: its "centres" are 1,000 points of the noiseless curve
at equally spaced t (each weight 1/1000; the data's t is uniform, so this is the mixture the
data converges to), grouped into 10 equal-t segments that play the role of modes.
"""

from __future__ import annotations

import math

import torch

from minimax_cli.errors import ConfigError


class Dataset:
    """A mixture over centres (K, d) with weights (K,), mode labels (K,) and a common σ."""

    name: str
    sigma: float

    def __init__(self, name: str, centres, sigma: float, weights=None, labels=None):
        self.name = name
        self.centres = torch.as_tensor(centres, dtype=torch.float64).reshape(len(centres), -1)
        k = self.centres.shape[0]
        self.weights = (torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None
                        else torch.as_tensor(weights, dtype=torch.float64))
        self.labels = torch.arange(k) if labels is None else torch.as_tensor(labels, dtype=torch.long)
        self.sigma = float(sigma)

    @property
    def dim(self) -> int:
        return self.centres.shape[1]

    @property
    def n_modes(self) -> int:
        return int(self.labels.max()) + 1

    def mode_weights(self) -> torch.Tensor:
        """w_m = Σ_{k in mode m} w_k: the share of data samples mode m receives."""
        return torch.zeros(self.n_modes, dtype=torch.float64).index_add_(0, self.labels, self.weights)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n i.i.d. samples (float64, CPU) drawn with ``generator``."""
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.centres[idx] + self.sigma * noise

    def bounds(self, margin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """A box holding the data: the centres' range widened by 4σ (+ margin) on each side."""
        pad = 4.0 * self.sigma + margin
        return self.centres.min(0).values - pad, self.centres.max(0).values + pad

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """The exact density at points (n, d) (for figures)."""
        points = torch.as_tensor(points, dtype=torch.float64).reshape(-1, self.dim)
        sq = torch.cdist(points, self.centres).pow(2)
        norm = (2 * math.pi * self.sigma ** 2) ** (self.dim / 2)
        return (torch.exp(-sq / (2 * self.sigma ** 2)) * self.weights).sum(-1) / norm


class SwissRoll(Dataset):
    T0, T1, SCALE = 1.5 * math.pi, 4.5 * math.pi, 7.5
    N_CENTRES, N_SEGMENTS = 1000, 10

    def __init__(self, sigma: float):
        k = self.N_CENTRES
        t = self.T0 + (torch.arange(k, dtype=torch.float64) + 0.5) * (self.T1 - self.T0) / k
        labels = torch.div(torch.arange(k) * self.N_SEGMENTS, k, rounding_mode="floor")
        super().__init__("swissroll", self._curve(t), sigma, labels=labels)

    @classmethod
    def _curve(cls, t: torch.Tensor) -> torch.Tensor:
        return torch.stack([t * torch.cos(t), t * torch.sin(t)], -1) / cls.SCALE

    def sample(self, n, generator):
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        noise = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self._curve(self.T0 + (self.T1 - self.T0) * u) + self.sigma * noise


def _ring(k: int, radius: float = 1.0) -> list[list[float]]:
    return [[radius * math.cos(2 * math.pi * i / k), radius * math.sin(2 * math.pi * i / k)] for i in range(k)]


#: name -> (default σ, builder(σ))
DATASETS = {
    "mog1d": (0.1, lambda s: Dataset("mog1d", [[-4.0], [0.0], [4.0]], s)),
    "grid2d": (0.1, lambda s: Dataset("grid2d", [[a, b] for b in (-3.0, 0.0, 3.0) for a in (-3.0, 0.0, 3.0)], s)),
    "ring8": (math.sqrt(0.05), lambda s: Dataset("ring8", _ring(8), s)),
    "swissroll": (0.25 / SwissRoll.SCALE, SwissRoll),
}


def make_dataset(name: str, sigma=None) -> Dataset:
    """The dataset ``name`` with mode standard deviation ``sigma`` (None: the dataset's default)."""
    if name not in DATASETS:
        raise ConfigError(f"game.data must be one of {', '.join(DATASETS)} (got {name!r})")
    default, builder = DATASETS[name]
    if sigma is None:
        sigma = default
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
        raise ConfigError(f"game.sigma must be a number > 0 (the std of each mode) or null (got {sigma!r})")
    return builder(float(sigma))
