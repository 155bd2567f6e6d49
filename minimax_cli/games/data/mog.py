"""Synthetic GAN targets: mixtures of Gaussians and the swiss roll.

Every dataset is a mixture  p(v) = Σ_k w_k N(v; c_k, σ² I)  over "centres" c_k, and knows what
the mode diagnostics need: the centres, their weights, the mode each centre belongs to, and σ.

    mog1d      ⅓N(−4, σ²) + ⅓N(0, σ²) + ⅓N(4, σ²), σ = 0.1        (Wang et al. 2020, §6.2.1, App. D.2;
               Gao et al. 2022, §4.2 uses σ = 0.3)
    grid2d     9 modes on {−3, 0, 3}², covariance 0.01·I (σ = 0.1)   (Wang et al. 2020, §6.2.1, Fig. 5)
    ring8      8 modes on the unit circle, c_k = (cos kπ/4, sin kπ/4), σ = √0.05
               (Askari Hemmat et al. 2023, App. H: "variance 0.05"; Fiez & Ratliff 2021, App. K.7.1: σ² = 0.05;
                Liang & Stokes 2019, §4.2: "width 0.03", a preset sets σ = 0.03)
    swissroll  t ~ U[1.5π, 4.5π], v = (t cos t, t sin t)/7.5 + σ N(0, I₂), σ = 0.25/7.5
               (the generator of sklearn's make_swiss_roll with noise 0.25, columns (x, z),
                divided by 7.5: the scaling of Gulrajani et al.'s WGAN-GP toy code; Gao et al. 2022
                §4.3 names a swiss roll without details)

Or the researcher's own samples (``SampleData``): ``game.data=path/to/samples.npy`` (.csv, .txt,
.pt), its rows the data distribution, modes only where ``game.centers`` are given.

The swiss roll is a continuum of centres: its "centres" are 1,000 points of the noiseless curve
at equally spaced t (each weight 1/1000; the data's t is uniform, so this is the mixture the
data converges to), grouped into 10 equal-t segments that play the role of modes.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import torch

from minimax_cli.errors import ConfigError, DataError
from minimax_cli.memory import check_fits


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

    @property
    def kde_bandwidth(self) -> float:
        """Default bandwidth of the KL estimate's KDEs: σ (Scott's rule would blur the modes)."""
        return self.sigma

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


def make_dataset(name: str, sigma=None, centers=None) -> Dataset:
    """The dataset ``name`` with mode standard deviation ``sigma`` (None: the dataset's default), or
    the samples file ``name`` (SampleData, with optional ``centers``)."""
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (int, float))
                              or not math.isfinite(sigma) or sigma <= 0):
        raise ConfigError(f"game.sigma must be a number > 0 (the std of each mode) or null (got {sigma!r})")
    if isinstance(name, str) and name in DATASETS:
        if centers is not None:
            raise ConfigError(f"game.centers applies to a samples file (game.data=path.npy); {name} has its own")
        default, builder = DATASETS[name]
        return builder(float(default if sigma is None else sigma))
    if isinstance(name, str) and Path(name).suffix.lower() in SAMPLE_SUFFIXES:
        return SampleData(name, sigma, centers)
    raise ConfigError(f"game.data must be one of {', '.join(DATASETS)} or a samples file "
                      f"({', '.join(SAMPLE_SUFFIXES)}; rows = samples, columns = dimensions) (got {name!r})")


# -- the researcher's own samples ------------------------------------------------------------------------
SAMPLE_SUFFIXES = (".npy", ".csv", ".txt", ".pt")


class SampleData(Dataset):
    """A samples file as the data distribution: the empirical distribution (1/N) Σ_i δ(v − v_i) of
    its N rows (``game.data=path/to/samples.npy``, .csv/.txt or .pt; any dimension d).

    ``sample(n)`` draws n rows uniformly with replacement (i.i.d. from the empirical distribution,
    for fresh batches and the metrics' real samples); ``game.batch.mode=fixed`` trains on the rows
    themselves. Modes exist only when centres are given (``game.centers``: a list of points or a
    file like the samples); σ, the per-mode std of the mode metrics, is ``game.sigma`` or, when
    null, estimated as the RMS per-coordinate distance of the rows to their nearest centre, and
    each mode's weight is the share of rows nearest to it. Without centres there are no mode
    metrics. ``kde_bandwidth`` (KL, figures): σ when known, else Scott's rule on the rows.
    """

    def __init__(self, path, sigma=None, centers=None):
        self.path = Path(str(path)).expanduser()
        self.name = self.path.name
        self.points = load_samples(self.path, "game.data")
        n, d = self.points.shape
        if n < 2:
            raise DataError(f"game.data: {self.path} holds {n} sample; a data distribution needs at least 2 rows")
        self.centres = None if centers is None else _centres(centers, d)
        self.weights = torch.full((n,), 1.0 / n, dtype=torch.float64)
        if self.centres is not None:
            self.labels = torch.arange(len(self.centres))
            nearest_dist, nearest = torch.cdist(self.points, self.centres).min(1)
            self._mode_weights = torch.bincount(nearest, minlength=len(self.centres)).double() / n
            if sigma is None:
                sigma = float(nearest_dist.pow(2).mean().div(d).sqrt()) or 1e-12
        self.sigma = None if sigma is None else float(sigma)

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def n_modes(self) -> int:
        return 0 if self.centres is None else len(self.centres)

    def mode_weights(self) -> torch.Tensor:
        return self._mode_weights

    @property
    def kde_bandwidth(self) -> float:
        if self.sigma is not None:
            return self.sigma
        n, d = self.points.shape   # Scott's rule, averaged over coordinates
        return float(self.points.std(0).mean().clamp(min=1e-12)) * n ** (-1.0 / (d + 4))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.points[torch.randint(len(self.points), (n,), generator=generator)]

    def bounds(self, margin: float = 0.0):
        pad = 3.0 * self.kde_bandwidth + margin
        return self.points.min(0).values - pad, self.points.max(0).values + pad

    def density(self, points: torch.Tensor) -> torch.Tensor:
        """A Gaussian KDE of (at most 5,000 of) the rows, bandwidth ``kde_bandwidth`` (for figures)."""
        points = torch.as_tensor(points, dtype=torch.float64).reshape(-1, self.dim)
        rows = self.points[:: max(1, len(self.points) // 5000)]
        h = self.kde_bandwidth
        sq = torch.cdist(points, rows).pow(2)
        return torch.exp(-sq / (2 * h ** 2)).mean(-1) / (2 * math.pi * h ** 2) ** (self.dim / 2)


#: sqrt of float32's largest value is 1.8e19: a sample beyond this makes every squared distance inf
MAX_DATA_MAGNITUDE = 1e18


def load_samples(path: Path, key: str) -> torch.Tensor:
    """The rows of a .npy / .csv / .txt / .pt file as a float64 (N, d) tensor (a 1-D array is (N, 1));
    anything else is one DataError line naming the file and what is wrong with it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAMPLE_SUFFIXES:
        raise DataError(f"{key}: {path} is not a samples file (.npy, .csv, .txt or .pt)")
    try:
        path.resolve(strict=True)
    except (OSError, RuntimeError):   # missing, a dangling link, or a loop of links
        raise DataError(f"{key}: no such file {os.path.abspath(path)} (or a symbolic link that leads nowhere; a "
                        f"relative path is from the directory minimax runs in)") from None
    if not path.is_file():
        raise DataError(f"{key}: no such file {path.resolve()} (a relative path is from the directory minimax "
                        f"runs in)")
    try:
        if suffix == ".npy":
            with open(path, "rb") as fh:
                if fh.read(6) != b"\x93NUMPY":
                    raise DataError(f"{key}: {path} is not a .npy file (no NumPy header; write it with numpy.save)")
            header = np.load(path, mmap_mode="r", allow_pickle=False)   # shape and dtype, nothing read yet
            check_fits(header.size * 8 * 3, f"{key}: {path} ({' × '.join(map(str, header.shape))} values)",
                       "use a sample of it", error=DataError)
            array = np.load(path, allow_pickle=False)
        elif suffix == ".pt":
            array = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(array, torch.Tensor):
                raise DataError(f"{key}: {path} holds a {type(array).__name__}, not one tensor of shape (n, d) "
                                f"(save it with torch.save(tensor, path))")
            array = array.detach().numpy() if array.dtype != torch.bfloat16 else array.double().numpy()
        else:
            array = _read_text_table(path)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001  numpy/torch parse errors: one line
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"{key}: cannot read {path} ({type(exc).__name__}: {reason})") from None
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise DataError(f"{key}: {path} holds {array.dtype} values; the samples must be real numbers")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"{key}: {path} has shape {tuple(array.shape)}; expected (n samples, d) or (n,)")
    if array.size == 0:
        raise DataError(f"{key}: {path} is empty (shape {tuple(array.shape)})")
    bad = ~np.isfinite(array.astype(np.float64))
    if bad.any():
        row = int(np.nonzero(bad.any(1))[0][0])
        raise DataError(f"{key}: {path} holds {int(bad.sum())} NaN or infinite value(s) (first in row {row})")
    largest = float(np.abs(array.astype(np.float64)).max())
    if largest > MAX_DATA_MAGNITUDE:
        raise DataError(f"{key}: {path} holds values up to {largest:.3g}; beyond {MAX_DATA_MAGNITUDE:.0e} their squares "
                        f"overflow in float32 (distances, metrics): rescale the data (e.g. standardize it)")
    return torch.as_tensor(array, dtype=torch.float64).contiguous()


def _read_text_table(path: Path) -> np.ndarray:
    """A CSV (or whitespace-separated) table of numbers, with or without one header line."""
    with open(path, encoding="utf-8-sig") as fh:   # -sig: a spreadsheet's byte-order mark is not a header
        lines = [line for line in fh.read().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return np.zeros((0, 0))
    delimiter = "," if "," in lines[0] else None

    def numbers(line):
        return [_number(v) for v in line.split(delimiter)]

    if not any(_NUMERIC_START.match(v.strip()) for v in lines[0].split(delimiter)):   # a header line
        lines = lines[1:]
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(numbers(line))
        except ValueError:
            raise DataError(f"game.data: {path} line {i + 1} is not a row of numbers: {line[:80]!r}") from None
    if len({len(r) for r in rows}) > 1:
        raise DataError(f"game.data: {path} has rows of different lengths ({sorted({len(r) for r in rows})})")
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


_NUMERIC_START = re.compile(r"[+-]?\.?\d")   # a header's names do not look like numbers (1_000 does)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)


def _number(text: str) -> float:
    """A decimal number as a data file writes it; float() alone also takes Python's ``1_000``."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _centres(centers, dim: int) -> torch.Tensor:
    """game.centers: a list of points (each of the data's dimension) or a samples-like file of them."""
    if isinstance(centers, (str, Path)):
        c = load_samples(Path(str(centers)).expanduser(), "game.centers")
    else:
        try:
            c = torch.as_tensor(centers, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"game.centers must be a list of points [[...], ...] or a file (got {centers!r})") from None
        if c.dim() == 1 and dim == 1:
            c = c[:, None]
        if c.dim() != 2 or not len(c) or not torch.isfinite(c).all():
            raise ConfigError(f"game.centers must be a non-empty list of finite points (got {centers!r})")
    if c.shape[1] != dim:
        raise ConfigError(f"game.centers have dimension {c.shape[1]}, the samples {dim}")
    return c
