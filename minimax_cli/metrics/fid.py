"""Fréchet Inception Distance with pytorch-fid's InceptionV3, computed in-process.

    FID = ‖μ_r − μ_g‖² + tr Σ_r + tr Σ_g − 2 tr (Σ_r^{1/2} Σ_g Σ_r^{1/2})^{1/2}     (Heusel et al. 2017)

over the 2048-d pool3 features of the FID Inception network (``pytorch_fid.inception
.InceptionV3([3])`` with the TF-ported weights ``pt_inception-2015-12-05-6726825d.pth``), the
implementation Fiez & Ratliff 2021 names and the one behind the FIDs of Gao et al. 2022's and Askari Hemmat et al. 2023's tables.

Same numbers as pytorch-fid's command line, without its PNG round trip:
- a generated image x ∈ [−1, 1] becomes (x + 1)/2 clamped to [0, 1] and, by default
  (``quantize=True``), rounded to 8 bits exactly as ``torchvision.utils.save_image`` writes a
  PNG (floor(255·p + 0.5)) and ``ToTensor`` reads it back (/255); real uint8 images are /255;
  1-channel images are repeated to RGB (PIL's convert('RGB'), which pytorch-fid applies);
- pytorch-fid's ``InceptionV3`` then resizes to 299×299 (bilinear) and maps [0, 1] → [−1, 1];
- μ and Σ (unbiased, as ``np.cov``) are accumulated in float64 from feature sums, batch by
  batch on the device (nothing of size N × 2048 is kept); TF32 and autocast are disabled inside;
- the matrix square root: instead of scipy's ``sqrtm`` of the non-symmetric Σ_r Σ_g, the
  trace is Σ sqrt(λ_i(Bᵀ Σ_g B)) with Σ_r = B Bᵀ (a Cholesky factor, computed once per run;
  Bᵀ Σ_g B is symmetric PSD with the nonzero eigenvalues of Σ_r Σ_g): exact in exact
  arithmetic, stable for the rank-deficient covariances of small sample sets, and one
  symmetric eigenvalue problem per evaluation instead of a Schur decomposition.

Real-data statistics are cached once per dataset as ``.npz`` with keys ``mu`` and ``sigma``,
the format of ``python -m pytorch_fid --save-stats`` (either tool reads the other's files).

Weights: ``weights="auto"`` reads ``<torch hub dir>/checkpoints/pt_inception-2015-12-05-6726825d.pth``
(``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints`` — where
pytorch-fid itself downloads them); ``weights=PATH`` reads that file; ``weights="random"`` builds
the same architecture untrained (tests, CPU smoke runs: the numbers are not FIDs). A missing file
is a one-line ``DataError``; nothing is downloaded unless ``download=True``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator
from unittest import mock

import numpy as np
import torch
from torch import nn

from minimax_cli import progress
from minimax_cli.errors import DataError

FEATURE_DIM = 2048
PYTORCH_FID_URL = "https://github.com/mseitzer/pytorch-fid"


def weights_url() -> str:
    from pytorch_fid.inception import FID_WEIGHTS_URL

    return FID_WEIGHTS_URL


def weights_file_name() -> str:
    return weights_url().rsplit("/", 1)[-1]


def hub_weights_path() -> Path:
    """Where pytorch-fid (torch.hub.load_state_dict_from_url) keeps the FID weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / weights_file_name()


# -- the network ----------------------------------------------------------------------------------
def fid_inception_body() -> nn.Module:
    """The network ``pytorch_fid.inception.fid_inception_v3`` builds (torchvision's Inception3
    with 1008 classes and pytorch-fid's patched FID blocks), WITHOUT loading weights."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


def _random_init(body: nn.Module, seed: int) -> None:
    """Reproducible He-normal weights (torch's default conv init shrinks the signal ~3× per
    layer, leaving ~1e-8 features after Inception's depth; He init keeps them O(1))."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in body.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()


class InceptionFeatures(nn.Module):
    """pytorch-fid's ``InceptionV3([3])`` on a given body, plus the body's 1008-way ``fc``.

    forward(images in [0, 1], (n, 3, H, W)) → (pool3 features (n, 2048), logits (n, 1008)).
    pytorch-fid's class always loads its weights through ``fid_inception_v3``; we construct it
    with that function replaced by one returning our body (weights loaded by us, or random), so
    the block layout, resizing and input scaling are pytorch-fid's own code.
    """

    def __init__(self, state_dict: dict | None = None, seed: int = 0):
        super().__init__()
        from pytorch_fid import inception as pfi

        body = fid_inception_body()
        if state_dict is None:
            _random_init(body, seed)
        else:
            try:
                body.load_state_dict(state_dict)
            except RuntimeError as exc:
                raise DataError(f"the FID Inception weights do not fit pytorch-fid's InceptionV3 "
                                f"({str(exc).splitlines()[0]})") from None
        with mock.patch.object(pfi, "fid_inception_v3", lambda: body):
            self.model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]])
        self.fc = body.fc
        self.requires_grad_(False)
        self.float().eval()

    def forward(self, images01: torch.Tensor):
        pool = self.model(images01)[0].flatten(1)
        return pool, self.fc(pool)


def weights_path(weights: str | os.PathLike | None = "auto") -> Path | None:
    """The weights file ``weights`` names ("auto": the torch hub cache); None for "random"."""
    if weights == "random":
        return None
    return hub_weights_path() if weights in (None, "auto") else Path(weights)


def weights_note(weights: str | os.PathLike | None) -> str | None:
    """What a figure of these numbers must say about the network they came from: with "random"
    weights they are distances between untrained features, comparable to no published FID."""
    if weights == "random":
        return "random Inception weights (game.metrics.fid.weights=random): not an FID, a smoke test only"
    return None


def check_weights(weights: str | os.PathLike | None = "auto", download: bool = False) -> None:
    """Cheap existence check of the weights file: the one-line DataError ``load_inception`` would
    raise (nothing is read; with ``download`` and "auto" a missing file is not an error)."""
    path = weights_path(weights)
    if path is None or path.is_file() or (download and weights in (None, "auto")):
        return
    raise DataError(
        f"FID needs pytorch-fid's Inception weights {weights_file_name()}, not found at {path}; "
        f"on a machine with internet download {weights_url()} into {hub_weights_path().parent} "
        f"(the torch hub cache, $TORCH_HOME/hub/checkpoints) or set game.metrics.fid.weights=PATH")


def load_inception(weights: str | os.PathLike | None = "auto", device="cpu", download: bool = False) -> InceptionFeatures:
    """The FID network: ``weights`` = "auto" (torch hub cache), a file path, or "random"."""
    if weights == "random":
        return InceptionFeatures(None).to(device)
    path = weights_path(weights)
    check_weights(weights, download)
    if not path.is_file():  # download=True and "auto"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights_url(), str(path))
        except Exception as exc:  # noqa: BLE001 - any network failure becomes one line
            raise DataError(f"could not download the FID Inception weights from {weights_url()} ({exc})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt file
        raise DataError(f"cannot read the FID Inception weights {path} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); delete it and fetch it again") from None
    return InceptionFeatures(state).to(device)


# -- inputs ---------------------------------------------------------------------------------------
def to_inception_input(images: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """Images → float32 RGB in [0, 1] as pytorch-fid reads them from PNG files.

    uint8 images (real data) are /255; float images are generator outputs in [−1, 1], mapped
    to (x + 1)/2, clamped, and with ``quantize`` rounded to 8 bits like ``save_image``.
    """
    if images.dtype == torch.uint8:
        x = images.float() / 255
    else:
        x = ((images.float() + 1) / 2).clamp(0, 1)
        if quantize:
            x = torch.floor(x * 255 + 0.5) / 255
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x


@contextlib.contextmanager
def _full_precision(device: torch.device):
    """No TF32 and no autocast while measuring (the run may use them for training)."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


class Moments:
    """Streaming mean and unbiased covariance of feature rows, in float64 on the features' device."""

    def __init__(self):
        self.n, self.s1, self.s2 = 0, None, None

    def add(self, features: torch.Tensor) -> None:
        f = features.to(torch.float64)
        if self.s1 is None:
            self.s1 = torch.zeros(f.shape[1], dtype=f.dtype, device=f.device)
            self.s2 = torch.zeros(f.shape[1], f.shape[1], dtype=f.dtype, device=f.device)
        self.n += len(f)
        self.s1 += f.sum(0)
        self.s2 += f.t() @ f

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2:
            raise ValueError(f"FID statistics need at least 2 images (got {self.n})")
        mu = self.s1 / self.n
        sigma = (self.s2 - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.cpu().numpy(), sigma.cpu().numpy()


def batches_of(generate: Callable[[int, int], torch.Tensor], n: int, batch_size: int = 50) -> Iterator[torch.Tensor]:
    """Yield ``generate(start, size)`` for consecutive blocks covering n samples (e.g. a
    generator applied to rows start:start+size of a fixed noise tensor)."""
    for start in range(0, n, batch_size):
        yield generate(start, min(batch_size, n - start))


def inception_outputs(model: InceptionFeatures, batches: Iterable[torch.Tensor], quantize: bool = True,
                      logits: bool = False, counter=None):
    """One pass over the batches: (mu, sigma) of the pool3 features, and the softmax
    probabilities (N, 1008) when ``logits`` (for the Inception score). ``counter``: a progress
    phase advanced by each batch's size."""
    device = next(model.parameters()).device
    moments, probs = Moments(), []
    with _full_precision(device):
        for batch in batches:
            pool, out = model(to_inception_input(batch.to(device), quantize))
            moments.add(pool)
            if logits:
                probs.append(torch.softmax(out.double(), dim=1).cpu())
            if counter is not None:
                counter.update(len(batch))
    mu, sigma = moments.result()
    return (mu, sigma, torch.cat(probs)) if logits else (mu, sigma)


# -- the distance ---------------------------------------------------------------------------------
def _clip_rank(vals: torch.Tensor) -> torch.Tensor:
    """Eigenvalues below the numerical rank threshold (d · eps · λ_max) are zero: for sample
    covariances of n < d images most eigenvalues are exactly 0, and the square roots of their
    rounding noise (~1e-15 → ~3e-8 each) would otherwise add up to a visible bias."""
    tol = vals.abs().max() * len(vals) * torch.finfo(vals.dtype).eps
    return torch.where(vals > tol, vals, torch.zeros_like(vals))


def psd_factor(sigma: torch.Tensor) -> torch.Tensor:
    """B (d × r) with B Bᵀ = Σ: Cholesky when Σ is positive definite (real statistics of
    N ≥ 2048 images), else LAPACK's rank-revealing pivoted Cholesky (dpstrf; covariances of few
    images). Both cost O(d³/3) or less, unlike an eigendecomposition (minutes on a busy CPU at d = 2048)."""
    sigma = (sigma + sigma.t()) / 2
    chol, info = torch.linalg.cholesky_ex(sigma)
    if int(info) == 0:
        return chol
    from scipy.linalg import lapack

    c, piv, rank, info = lapack.dpstrf(sigma.cpu().numpy(), lower=1)
    if info < 0:
        raise ValueError(f"pivoted Cholesky failed (LAPACK info {info})")
    factor = np.zeros((len(c), rank))
    factor[piv - 1] = np.tril(c)[:, :rank]  # Pᵀ Σ P = L Lᵀ, so B = P L
    return torch.from_numpy(factor).to(sigma.device)


def trace_sqrt_product(factor1: torch.Tensor, sigma2: torch.Tensor) -> float:
    """tr (Σ1 Σ2)^{1/2} with Σ1 = B Bᵀ: the nonzero eigenvalues of Σ1 Σ2 are those of the
    symmetric PSD matrix Bᵀ Σ2 B, so the trace is Σ_i sqrt(λ_i(Bᵀ Σ2 B))."""
    m = factor1.t() @ sigma2 @ factor1
    return float(_clip_rank(torch.linalg.eigvalsh((m + m.t()) / 2)).sqrt().sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, device="cpu") -> float:
    """d² between N(μ1, Σ1) and N(μ2, Σ2) (float64)."""
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=device)  # noqa: E731
    mu1, sigma1, mu2, sigma2 = t(mu1), t(sigma1), t(mu2), t(sigma2)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics of different dimension: {tuple(mu1.shape)} vs {tuple(mu2.shape)}")
    diff = mu1 - mu2
    tr = trace_sqrt_product(psd_factor(sigma1), sigma2)
    return float(diff @ diff) + float(sigma1.trace() + sigma2.trace()) - 2 * tr


# -- cached real statistics -----------------------------------------------------------------------
def stats_path(stats_dir, dataset_key: str, n: int) -> Path:
    """E.g. ``<stats_dir>/cifar10-train-32-n50000.npz`` (``dataset_key``: ``ImageSource.key``)."""
    return Path(stats_dir) / f"{dataset_key}-n{n}.npz"


def save_stats(path, mu: np.ndarray, sigma: np.ndarray) -> None:
    """Atomically write pytorch-fid's --save-stats format: an .npz with keys mu, sigma (np.load reads
    it either way; stored uncompressed: zlib takes seconds on a 2048×2048 float64 matrix and gains
    little on it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, mu=mu, sigma=sigma)
    os.replace(tmp, path)


def load_stats(path, dim: int | None = FEATURE_DIM) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) from a pytorch-fid statistics file; ``dim=None`` accepts any dimension."""
    try:
        with np.load(path) as f:
            mu, sigma = f["mu"][:], f["sigma"][:]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path} is not a pytorch-fid statistics file (.npz with mu and sigma): {exc}") from None
    d = len(mu) if dim is None else dim
    if mu.shape != (d,) or sigma.shape != (d, d):
        raise DataError(f"{path} holds statistics of shape {mu.shape}/{sigma.shape}, expected ({d},)/({d}, {d}); "
                        f"delete it to recompute")
    return mu, sigma


def real_statistics(path, images_u8: torch.Tensor | Callable[[], torch.Tensor], model, n: int,
                    batch_size: int = 50, seed: int = 0, dim: int | None = FEATURE_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Statistics of n real images, read from ``path`` if cached, else computed and cached.

    ``images_u8``: the dataset as uint8 (N, C, H, W), or a function returning it (called only on
    a cache miss, so a cached run need not load the data). n < N uses the first n of a
    permutation drawn with ``seed`` (a fixed random subset, as Fiez & Ratliff 2021 does); n = N all of them.
    ``model`` may be a zero-argument function building the network (called only on a miss).
    """
    path = Path(path)
    if path.exists():
        return load_stats(path, dim)
    images = images_u8() if callable(images_u8) else images_u8
    if not 2 <= n <= len(images):
        raise DataError(f"FID real statistics need 2 <= n <= {len(images)} real images (got n={n})")
    idx = torch.arange(len(images)) if n == len(images) else \
        torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
    model = model() if (model is not None and not isinstance(model, nn.Module)) else model
    batches = (images[idx[i:i + batch_size].to(images.device)] for i in range(0, n, batch_size))
    with progress.phase("FID statistics of the real images", total=n, unit="images",
                        detail=f"once per dataset, then read from {path}") as counter:
        mu, sigma = inception_outputs(model, batches, counter=counter)
    save_stats(path, mu, sigma)
    return mu, sigma


class FID:
    """FID of generated images against fixed real statistics (a factor of Σ_r computed once).

        fid = FID(load_inception(...), real_statistics(...))
        value = fid(batches_of(lambda s, b: G(x, z[s:s + b]), n=10_000))
        values = fid.evaluate(batches, inception_score=True)   # {"fid", "is", "is_std"}
    """

    def __init__(self, model: InceptionFeatures, real_stats: tuple, quantize: bool = True, splits: int = 10):
        self.model, self.quantize, self.splits = model, quantize, splits
        self.device = next(model.parameters()).device
        self.mu_r = torch.as_tensor(real_stats[0], dtype=torch.float64, device=self.device)
        sigma_r = torch.as_tensor(real_stats[1], dtype=torch.float64, device=self.device)
        self.trace_r = float(sigma_r.trace())
        self.factor_r = psd_factor(sigma_r)

    def distance(self, mu, sigma) -> float:
        mu = torch.as_tensor(mu, dtype=torch.float64, device=self.device)
        sigma = torch.as_tensor(sigma, dtype=torch.float64, device=self.device)
        diff = mu - self.mu_r
        return float(diff @ diff) + self.trace_r + float(sigma.trace()) - 2 * trace_sqrt_product(self.factor_r, sigma)

    def __call__(self, batches: Iterable[torch.Tensor], counter=None) -> float:
        return self.distance(*inception_outputs(self.model, batches, self.quantize, counter=counter))

    def evaluate(self, batches: Iterable[torch.Tensor], inception_score: bool = False, counter=None) -> dict:
        """{"fid"} (+ "is", "is_std"); ``counter``: a progress phase advanced per batch."""
        from minimax_cli.metrics.inception_score import inception_score as score

        if not inception_score:
            return {"fid": self(batches, counter)}
        mu, sigma, probs = inception_outputs(self.model, batches, self.quantize, logits=True, counter=counter)
        is_mean, is_std = score(probs, self.splits)
        return {"fid": self.distance(mu, sigma), "is": is_mean, "is_std": is_std}
