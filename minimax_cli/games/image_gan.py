"""Image GANs (``game=mnist|cifar10|celeba``): the GAN game of gan.py configured with torchvision
images and the image architectures (Gao et al. 2022, §4.3, Askari Hemmat et al. 2023, §7.2 / App. I, Fiez & Ratliff 2021, App. K.7.2).

    data        ImageSource (games/data/images.py): torchvision's MNIST / CIFAR10 / CelebA classes
                reading ``data_root`` (default $MINIMAX_DATA or ./data), decoded once to a uint8
                tensor on the training device; ``dataset: synthetic`` = random images, no files;
                ``dataset: folder`` = every image under ``root`` (games/data/folder.py, game=images)
    batches     {"real": (size, C, H, W) in [−1, 1], "z": (size, latent) ~ N(0, I)} (+ "eps" for
                WGAN-GP): real images from ImageBatches (an epoch sampler on the device; optional
                horizontal flips and Fiez & Ratliff 2021's dequantization noise), z and eps from the game's
                own device generator; no host round trip per step
    networks    build_pair(arch, ...) (games/nets/__init__.py): dcgan | wgangp_cnn | resnet |
                gan_stability, initialized from the run seed; ``discriminator.spectral_norm`` is
                advanced once per step by ``before_step`` (gan.py)
    losses      gan.py: non_saturating / saturating / wgan, penalties gp (WGAN-GP), r1 (μ), l2

Checkpointed state (``state_dict``): the image sampler (generator, permutation, position), the
noise generator and the spectral-norm vectors, so a resumed run draws exactly the batches of an
uninterrupted one.

Metrics (``game.metrics``, all on the leader the runner passes, i.e. the generator EMA when
``ema`` is set):

* ``fid`` every ``fid_every`` steps (step > 0): FID (metrics/fid.py, pytorch-fid's InceptionV3
  in-process, no PNG round trip) of ``fid.samples`` images generated from noise fixed at setup
  (``fid.seed``, the same for every run: common random numbers), in batches of ``fid.batch_size``,
  against real statistics of ``fid.real_samples`` training images cached once per dataset as
  ``<stats_dir>/<dataset key>[-<weights>]-n<N>.npz`` (pytorch-fid's ``--save-stats`` format);
  ``is``/``is_std`` with ``fid.inception_score``; ``fid_time_s``: seconds the evaluation took
  (part of the run's wall time). Weights: the torch hub cache (``auto``), a path, or ``random``
  (an untrained network: smoke tests; not an FID). Missing weights are a one-line error when the
  CLI validates the run (``check``), unless ``fid.required: false``: then one warning and no FID.
  The Inception network is built once per process (sweeps run in-process share it).
* image grids every ``sample_every`` steps (``snapshot``): ``<run dir>/samples/step_<n>.png``
  and TensorBoard ``samples``; at the end ``samples.png`` and ``fid.png`` (FID against step; it says
  when the weights were ``random``).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from minimax_cli import progress
from minimax_cli.errors import ConfigError, DataError
from minimax_cli.games.data.folder import FolderImages
from minimax_cli.games.data.images import ImageBatches, ImageSource, SyntheticImages, default_data_root
from minimax_cli.games.gan import GANGame, check_count, merge_spec, stream_seed
from minimax_cli.games.nets import build_net
from minimax_cli.games.nets.custom import build_custom, check_forward, is_custom
from minimax_cli.games.nets.flat import FlatModule

log = logging.getLogger(__name__)

BATCH_DEFAULTS = {"size": 64, "eval_size": None}
FID_DEFAULTS = {"samples": 50000, "real_samples": None, "batch_size": 50, "weights": "auto", "download": False,
                "required": True, "stats_dir": None, "inception_score": False, "is_splits": 10, "seed": 0}
METRIC_DEFAULTS = {"fid_every": 0, "sample_every": 0, "grid": 64, "fid": FID_DEFAULTS}

#: Inception networks by (weights, device): built once per process, shared by the runs of a sweep
_INCEPTION: dict = {}


def inception(weights: str, device: torch.device, download: bool = False):
    from minimax_cli.metrics.fid import load_inception

    key = (str(weights), str(device))
    if key not in _INCEPTION:
        with progress.phase(f"loading the FID Inception network (weights: {weights})"):
            _INCEPTION[key] = load_inception(weights, device, download)
    return _INCEPTION[key]


class ImageGAN(GANGame):
    """Generator (leader) vs discriminator (follower) on an image dataset."""

    self_scheduled_metrics = True  # FID every fid_every steps, whatever metrics_every is

    def __init__(self, name="cifar10", dataset="cifar10", root=None, data_root=None, download=False, split="train",
                 image_size=None, classes=None, per_class=None, crop=None, celeba_loader="torchvision",
                 workers=0, cache=True, channels=None, synthetic_size=1024, hflip=False, dequantize=False,
                 arch="dcgan", generator=None, discriminator=None, loss=None, batch=None, metrics=None):
        super().__init__(name, loss)
        for key, value in (("download", download), ("hflip", hflip), ("dequantize", dequantize), ("cache", cache)):
            if not isinstance(value, bool):
                raise ConfigError(f"game.{key} must be true or false (got {value!r})")
        if root is not None and dataset != "folder":
            raise ConfigError(f"game.root applies to dataset=folder (game=images), not {dataset}")
        if dataset == "synthetic":
            self.source = SyntheticImages(3 if channels is None else channels, image_size or 32, synthetic_size)
        elif dataset == "folder":
            self.source = FolderImages(root, 32 if image_size is None else image_size, 3 if channels is None else channels,
                                       data_root, cache)
        else:
            if channels is not None:
                raise ConfigError(f"game.channels applies to dataset=synthetic or folder only ({dataset} has its own)")
            self.source = ImageSource(dataset, data_root, split, image_size,
                                      None if classes is None else tuple(classes), per_class, crop, celeba_loader,
                                      download, cache, workers)
        self.hflip, self.dequantize = hflip, dequantize
        self.arch = arch
        # null options take the architecture's default (so one config node serves every architecture)
        self.gen_cfg = {k: v for k, v in dict(generator or {}).items() if v is not None}
        self.disc_cfg = {k: v for k, v in dict(discriminator or {}).items() if v is not None}
        with torch.device("meta"):  # validates the architecture and its options without allocating
            gen, _ = self._build_pair(0, builtin_only=True)
        # an own generator's z size: its latent_dim attribute or game.generator.latent_dim, known once built
        self.latent = int(gen.latent_dim) if gen is not None else self.gen_cfg.get("latent_dim")
        self.batch_cfg = bc = merge_spec(batch, BATCH_DEFAULTS, "game.batch")
        check_count(bc["size"], "game.batch.size", low=2)   # batch statistics (BatchNorm) need two samples
        if bc["eval_size"] is not None:
            check_count(bc["eval_size"], "game.batch.eval_size", low=2)
        self.metric_cfg = mc = merge_spec(metrics, {k: v for k, v in METRIC_DEFAULTS.items()}, "game.metrics")
        mc["fid"] = fc = merge_spec(mc["fid"], FID_DEFAULTS, "game.metrics.fid")
        for key in ("fid_every", "sample_every"):
            check_count(mc[key], f"game.metrics.{key}", low=0)
        check_count(mc["grid"], "game.metrics.grid")
        for key in ("samples", "batch_size", "is_splits"):
            check_count(fc[key], f"game.metrics.fid.{key}", low=2 if key == "samples" else 1)
        if fc["real_samples"] is not None:
            check_count(fc["real_samples"], "game.metrics.fid.real_samples", low=2)
        check_count(fc["seed"], "game.metrics.fid.seed", low=0)
        for key in ("download", "required", "inception_score"):
            if not isinstance(fc[key], bool):
                raise ConfigError(f"game.metrics.fid.{key} must be true or false (got {fc[key]!r})")
        if not isinstance(fc["weights"], str) or not fc["weights"]:
            raise ConfigError(f"game.metrics.fid.weights must be auto, random or a file path (got {fc['weights']!r})")
        if fc["inception_score"] and fc["samples"] < fc["is_splits"]:
            raise ConfigError(f"the Inception score needs game.metrics.fid.samples >= is_splits "
                              f"({fc['samples']} < {fc['is_splits']})")
        self._fid = None

    def _build_pair(self, seed: int, builtin_only: bool = False):
        """(generator, discriminator): game.arch's modules, or own ones named by ``_target_`` (built
        from their own seed stream; None with ``builtin_only``)."""
        c, s = self.source.channels, self.source.image_size
        nets = []
        for role, cfg in (("generator", self.gen_cfg), ("discriminator", self.disc_cfg)):
            if not is_custom(cfg):
                nets.append(build_net(self.arch, role, c, s, cfg))
            elif builtin_only:
                nets.append(None)
            else:
                nets.append(build_custom(cfg, f"game.{role}", stream_seed(seed, f"init-{role}"), own_keys=("latent_dim",),
                                         fill={"channels": c, "image_size": s}, dtype=torch.float32))
        return nets

    def _latent_of(self, gen) -> int:
        latent = getattr(gen, "latent_dim", None) or self.gen_cfg.get("latent_dim")
        if isinstance(latent, bool) or not isinstance(latent, int) or latent < 1:
            raise ConfigError(f"game.generator: {self.gen_cfg.get('_target_')} has no integer latent_dim attribute; "
                              f"set game.generator.latent_dim=N (the size of z)")
        return latent

    def _check_networks(self, G, D, device, dtype) -> None:
        """Shapes, purity and second derivatives of own networks on 4 probe inputs (nets/custom.py)."""
        c, s = self.source.channels, self.source.image_size
        probe = torch.Generator().manual_seed(0)
        if is_custom(self.gen_cfg):
            z = torch.randn(4, self.latent, generator=probe).to(device, dtype)
            check_forward(G, G.initial().to(device, dtype), z, "game.generator", self.gen_cfg["_target_"],
                          lambda shape: shape == (4, c, s, s), f"(4, {c}, {s}, {s}): one image per latent row")
        if is_custom(self.disc_cfg):
            v = torch.rand(4, c, s, s, generator=probe).mul(2).sub(1).to(device, dtype)
            check_forward(D, D.initial().to(device, dtype), v, "game.discriminator", self.disc_cfg["_target_"],
                          lambda shape: shape in ((4,), (4, 1)), "(4,) or (4, 1): one logit per image")

    # -- validation before a run (the CLI calls it; no run directory exists yet) ----------------------
    def check(self) -> None:
        """The data files exist (or game.download=true) and, when FID is required, its weights."""
        from minimax_cli.metrics.fid import check_weights

        self.source.check()
        if is_custom(self.gen_cfg) or is_custom(self.disc_cfg):   # own networks: built and probed on the CPU
            gen, disc = self._networks(0)
            self.latent = self._latent_of(gen)
            self._check_networks(FlatModule(gen), FlatModule(disc), torch.device("cpu"), torch.float32)
        fc = self.metric_cfg["fid"]
        if self.metric_cfg["fid_every"] and fc["required"]:
            try:
                check_weights(fc["weights"], fc["download"])
            except DataError as exc:
                raise DataError(f"{exc}; or train without FID: game.metrics.fid.required=false (warns once) "
                                f"or game.metrics.fid_every=0") from None

    # -- life cycle ---------------------------------------------------------------------------------
    def setup(self, device, dtype, seed):
        super().setup(device, dtype, seed)
        self.seed = int(seed)
        images = self.source.load()
        bc = self.batch_cfg
        self.images = ImageBatches(images, bc["size"], stream_seed(seed, "sampler"), self.device, dtype,
                                   hflip=self.hflip, dequantize=self.dequantize)
        gen, disc = self._networks(seed)
        self.latent = self._latent_of(gen)
        self.set_networks(gen.to(self.device, dtype), disc.to(self.device, dtype))
        self._check_networks(self.G, self.D, self.device, dtype)
        self._noise = torch.Generator(device=self.device)
        self._noise.manual_seed(stream_seed(seed, "noise"))
        # the diagnostics' batch and the grids' latents: fixed at setup, from streams of their own
        n = bc["eval_size"] or bc["size"]
        fixed = torch.Generator().manual_seed(stream_seed(seed, "eval"))
        self._eval = {"real": self.images.fixed(n, stream_seed(seed, "eval-images")), "z": self._latent(n, fixed)}
        if self.loss_cfg["gp"] > 0:
            self._eval["eps"] = torch.rand(n, 1, 1, 1, generator=fixed).to(self.device, dtype)
        self._grid_z = self._latent(self.metric_cfg["grid"], torch.Generator().manual_seed(stream_seed(seed, "grid")))
        self._setup_fid(images)   # here, so the run's clock does not pay for the real statistics

    def _networks(self, seed):
        """The two modules, initialized from the run seed only (float32 draws whatever the default dtype)."""
        saved = torch.get_default_dtype()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream_seed(seed, "init"))
            torch.set_default_dtype(torch.float32)
            try:
                return self._build_pair(seed)
            finally:
                torch.set_default_dtype(saved)

    def _latent(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """n latents drawn on the CPU (identical on every device), moved to the game's device."""
        return torch.randn(n, self.latent, generator=gen).to(self.device, self.dtype)

    # -- batches ------------------------------------------------------------------------------------
    def sample(self, step: int):
        """{"real": (size, C, H, W), "z": (size, latent)} (+ "eps": (size, 1, 1, 1)), all drawn on the device."""
        real = self.images.next()
        n = real.shape[0]
        batch = {"real": real, "z": torch.randn(n, self.latent, generator=self._noise, device=self.device,
                                                dtype=self.dtype)}
        if self.loss_cfg["gp"] > 0:
            batch["eps"] = torch.rand(n, 1, 1, 1, generator=self._noise, device=self.device, dtype=self.dtype)
        return batch

    def eval_batch(self):
        return self._eval

    def state_dict(self) -> dict:
        return {"images": self.images.state_dict(), "noise": self._noise.get_state(), **super().state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.images.load_state_dict(state["images"])
        self._noise.set_state(state["noise"])
        super().load_state_dict(state)

    # -- metrics ------------------------------------------------------------------------------------
    def _setup_fid(self, images_u8: torch.Tensor) -> None:
        from minimax_cli.metrics.fid import FID, real_statistics, stats_path

        mc, fc = self.metric_cfg, self.metric_cfg["fid"]
        self._fid = None
        if not mc["fid_every"]:
            return
        try:
            model = inception(fc["weights"], self.device, fc["download"])
        except DataError as exc:
            if fc["required"]:
                raise
            log.warning("FID is off for this run (game.metrics.fid.required=false): %s", exc)
            return
        n = fc["real_samples"] or len(images_u8)
        root = Path(getattr(self.source, "data_root", None) or default_data_root())
        stats_dir = Path(fc["stats_dir"]) if fc["stats_dir"] else root / "fid_stats"
        weights = fc["weights"]
        tag = "" if weights == "auto" else ("-random-inception" if weights == "random" else f"-{Path(weights).stem}")
        stats = real_statistics(stats_path(stats_dir, self.source.key + tag, n), images_u8, model, n,
                                batch_size=fc["batch_size"], seed=fc["seed"])
        self._fid = FID(model, stats, splits=fc["is_splits"])
        noise = torch.Generator().manual_seed(stream_seed(fc["seed"], "fid"))
        self._fid_z = self._latent(fc["samples"], noise)

    def generate(self, x, z) -> torch.Tensor:
        """G(x, z) without gradients (BatchNorm generators normalize with the statistics of z's batch)."""
        with torch.no_grad():
            return self.G(x, z)

    def extra_metrics(self, x, y, step):
        """fid (+ is, is_std) and fid_time_s every fid_every steps; nothing at other log steps."""
        from minimax_cli.metrics.fid import batches_of

        mc = self.metric_cfg
        if self._fid is None or step == 0 or step % mc["fid_every"]:
            return {}
        fc = mc["fid"]
        started = time.perf_counter()
        if not bool(torch.isfinite(x).all()):
            out = {"fid": math.nan, **({"is": math.nan, "is_std": math.nan} if fc["inception_score"] else {})}
        else:
            batches = batches_of(lambda s, b: self.generate(x, self._fid_z[s:s + b]), fc["samples"], fc["batch_size"])
            with progress.phase(f"FID at step {step}", total=fc["samples"], unit="images") as counter:
                out = self._fid.evaluate(batches, inception_score=fc["inception_score"], counter=counter)
        out["fid_time_s"] = time.perf_counter() - started
        return out

    # -- figures ------------------------------------------------------------------------------------
    def _grid(self, x, path: Path) -> Path:
        from torchvision.utils import save_image

        images = self.generate(x, self._grid_z).float().nan_to_num(0.0)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(((images + 1) / 2).clamp(0, 1).cpu(), str(path), nrow=8, padding=2)
        return path

    def snapshot(self, run_dir, x, y, step):
        every = self.metric_cfg["sample_every"]
        if not every or step % every:
            return {}
        return {"samples": self._grid(x, Path(run_dir) / "samples" / f"step_{step:08d}.png")}

    def figures(self, run_dir, x, y, step, history):
        paths = [self._grid(x, Path(run_dir) / "samples.png")]
        from minimax_cli.games.gan_figures import fid_figure
        from minimax_cli.metrics.fid import weights_note
        from minimax_cli.plots import save_figure

        fc = self.metric_cfg["fid"]
        fig = fid_figure(history, f"{self.name}: FID ({fc['samples']} samples)", weights_note(fc["weights"]))
        if fig is not None:
            paths.append(save_figure(fig, Path(run_dir) / "fid.png"))
        return paths
