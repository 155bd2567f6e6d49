"""A GAN as a two-player game: generator = leader x, discriminator = follower y (flat vectors).

ONE mechanism (``GANGame``), configured with a data source and two networks:

* ``GAN`` (``game=mog``): synthetic 1-D/2-D data (games/data/mog.py), MLP networks (nets/mlp.py),
  metrics W1/KL/modes, KDE figures;
* ``ImageGAN`` (``game=mnist|cifar10|celeba``, games/image_gan.py): torchvision images
  (games/data/images.py), DCGAN / WGAN-GP CNN / SNGAN ResNet / GAN_stability ResNet
  (nets/__init__.py ``build_pair``), spectral norm, FID / Inception score, image grids.

G(x, z) and D(y, v) are networks evaluated by FlatModule, so every loss is a pure function of
(x, y, batch) and torch.func can take any derivative of it (forward-over-reverse HVPs included,
also through the gradient penalties). D returns a logit (a critic value for WGAN); σ is the
logistic sigmoid, softplus(u) = log(1 + eᵘ), so log σ(u) = −softplus(−u), log(1 − σ(u)) = −softplus(u).

Losses (``game.loss.kind``), each player minimizing its own:

    saturating       f = E_data log σ(D(v)) + E_z log(1 − σ(D(G(z))))      (Goodfellow et al. 2014)
                     L_x = f,  L_y = −f + penalties: zero-sum min_x max_y f. This is Wang et al. 2020's
                     reference code: loss_disc = sigmoid cross-entropy on real and fake = −f,
                     loss_gen = −loss_disc_fake (= f up to the real term, constant in x).
    non_saturating   L_y = −f + penalties,  L_x = −E_z log σ(D(G(z)))     (Goodfellow et al. 2014 §3)
    wgan             U = E_data D(v) − E_z D(G(z)),  L_x = U,  L_y = −U + penalties
                     (Arjovsky et al. 2017; Liang & Stokes 2019, §4: L_gen = U, L_dis = −U + Λ)

Penalties, only in the discriminator's loss L_y (any combination, each off at 0):

    l2   c · Σ_i y_i²  over every discriminator parameter (weights and biases), gradient 2c·y.
         Wang et al. 2020's "L2 regularization (0.0002)" is its code's weight_decay · Σw² with
         weight_decay = 1e-4, i.e. c = 1e-4 (gradient coefficient 0.0002).
    gp   λ · E_v̂ (‖∇_v D(v̂)‖ − 1)²,  v̂ = ε v_data + (1 − ε) G(z), ε ~ U[0, 1] per sample
         (Gulrajani et al. 2017 Eq. 3, two-sided; Liang & Stokes 2019 uses λ = 1). ``gp_one_sided``:
         λ · E max(0, ‖∇D(v̂)‖ − 1)². G(z) is not detached: L_y is a function of (x, y) and its
         mixed derivatives ∇²_yx L_y include the penalty's dependence on x (∇_y L_y, all that GDA
         uses, is the same either way).
    r1   (μ/2) · E_data ‖∇_v D(v)‖²  (Mescheder et al. 2018; Fiez & Ratliff 2021, §4, with the ½ of its
         Dirac-GAN cost). ``r1_half: false`` drops the ½: μ · E_data ‖∇_v D(v)‖², what Fiez & Ratliff 2021's
         image code (GAN_stability's ``reg_param``) computes for its μ ∈ {1, 10}.

Input gradients: ∇_v Σ_i D(v_i), taken with torch.func.grad inside the loss (so the loss stays
transformable). When D acts on each sample independently (MLPs, the CNN/ResNet critics without
normalization) its rows are the per-sample gradients ∇D(v_i); a discriminator with batch
normalization (DCGAN) couples the samples and this is the gradient of the summed output, which is
what autograd-based implementations (``autograd.grad(D(v).sum(), v)``) compute too. ‖·‖ is the
Euclidean norm over all of a sample's coordinates (pixels and channels for images).

The game is zero-sum (``zero_sum``) exactly when the loss is saturating or WGAN and no penalty is
on; with penalties it is a penalized zero-sum game (``penalized_zero_sum``: L_y = −L_x + penalty),
and in both cases the oracle gets the field ξ from one backward pass of L_x (plus the penalty's).

Batches are dicts {"real": (n, *sample shape), "z": (n, latent)} (+ "eps": (n, 1, ...) when
gp > 0). Spectrally normalized discriminators advance their power iteration in ``before_step``
(once per step, at the step's starting point; nets/layers.py) and checkpoint it in ``state_dict``.

Synthetic data (``GAN``): ``sample(step)`` draws from the game's own torch.Generator (seeded from
the run seed; ``sampler_state`` / ``load_sampler_state`` for checkpoints). ``game.batch.mode``:
``fixed`` — ``dataset_size`` points drawn once at setup, each step uses ``size`` of them drawn
without replacement (all of them, in order, when size = dataset_size: Wang et al. 2020's full batch of
5,000); ``fresh`` — ``size`` new data points per step. The latent batch (``size`` draws) is new
every step unless ``latent: fixed`` (then drawn once: with mode fixed and size = dataset_size the
game is deterministic). ``eval_batch()`` is a batch of ``eval_size`` fixed at setup from a separate
stream (the whole dataset as real part in fixed mode), so diagnostics never move the training stream.
"""

from __future__ import annotations

import hashlib
import math

import torch
import torch.nn.functional as F
from torch.func import grad

from minimax_cli.errors import ConfigError
from minimax_cli.games.base import Game
from minimax_cli.games.data.mog import make_dataset
from minimax_cli.games.nets.custom import build_custom, check_forward, is_custom
from minimax_cli.games.nets.flat import FlatModule
from minimax_cli.games.nets.layers import power_iteration, spectral_layers
from minimax_cli.games.nets.mlp import MLP, check_net

LOSSES = ("saturating", "non_saturating", "wgan")
BATCH_MODES = ("fixed", "fresh")
LATENT_MODES = ("fresh", "fixed")

GEN_DEFAULTS = {"latent": 16, "depth": 2, "width": 64, "activation": "tanh", "init": "glorot_normal"}
DISC_DEFAULTS = {"depth": 2, "width": 64, "activation": "tanh", "init": "glorot_normal"}
LOSS_DEFAULTS = {"kind": "saturating", "l2": 0.0, "gp": 0.0, "gp_one_sided": False, "r1": 0.0, "r1_half": True}
BATCH_DEFAULTS = {"mode": "fixed", "dataset_size": 5000, "size": 5000, "latent": "fresh", "eval_size": None}
METRIC_DEFAULTS = {"w1_samples": None, "kl_samples": 4096, "kl_bandwidth": None, "kl_floor": 1e-10,
                   "mode_samples": 2500, "cover_frac": 0.2, "density_bandwidth": 0.1}
W1_SAMPLES, W1_SAMPLES_1D = 512, 4096


def stream_seed(seed: int, stream: str) -> int:
    """An independent 63-bit seed per random stream (init, sampler, dataset, eval, metrics)."""
    digest = hashlib.sha256(f"{int(seed)}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def merge_spec(spec, defaults: dict, key: str) -> dict:
    """``defaults`` updated with the config mapping ``spec``; an unknown key is one ConfigError."""
    spec = dict(spec or {})
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown key {key}.{unknown[0]} (allowed: {', '.join(defaults)})")
    return {**defaults, **spec}


def check_number(value, key: str, low: float = 0.0, strict: bool = False, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number (got {value!r})")
    if value < low or (strict and value == low) or (high is not None and value > high):
        rng = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise ConfigError(f"{key} must be {rng} (got {value!r})")
    return float(value)


def check_count(value, key: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key} must be an integer >= {low} (got {value!r})")
    return value


def _net_spec(spec, key: str, defaults: dict) -> dict:
    """A network node: minimax's MLP options (validated), or an own module with ``_target_``
    (nets/custom.py; only ``latent``, the generator's z size, is minimax's to check)."""
    if not is_custom(spec):   # `_target_: null` (the yaml's placeholder) is minimax's MLP
        return check_net({k: v for k, v in dict(spec or {}).items() if k != "_target_"}, key, defaults)
    spec = {**defaults, **dict(spec)}
    if "latent" in defaults:
        check_count(spec["latent"], f"{key}.latent")
    return spec


def check_loss(spec) -> dict:
    """game.loss, validated (kind, penalties l2 / gp / r1, gp_one_sided, r1_half)."""
    lc = merge_spec(spec, LOSS_DEFAULTS, "game.loss")
    if lc["kind"] not in LOSSES:
        raise ConfigError(f"game.loss.kind must be one of {', '.join(LOSSES)} (got {lc['kind']!r})")
    for key in ("l2", "gp", "r1"):
        lc[key] = check_number(lc[key], f"game.loss.{key}")
    for key in ("gp_one_sided", "r1_half"):
        if not isinstance(lc[key], bool):
            raise ConfigError(f"game.loss.{key} must be true or false (got {lc[key]!r})")
    return lc


class GANGame(Game):
    """The GAN game: losses, penalties, spectral-norm state (see the module docstring).

    A configuration (subclass) supplies the data and the networks: in ``setup`` it calls
    ``set_networks(generator, discriminator)`` with two nn.Modules (D returning logits) and
    implements ``sample`` / ``eval_batch`` returning {"real", "z"(, "eps")} batches.
    """

    analytic = False

    def __init__(self, name: str, loss=None):
        super().__init__(name)
        self.loss_cfg = lc = check_loss(loss)
        # zero-sum only without penalties: then L_y = -L_x exactly
        self.zero_sum = lc["kind"] != "non_saturating" and lc["l2"] == lc["gp"] == lc["r1"] == 0.0
        self.penalized_zero_sum = lc["kind"] != "non_saturating" and not self.zero_sum

    # -- networks --------------------------------------------------------------------------------------
    def set_networks(self, generator, discriminator) -> None:
        """Wrap the two modules (already on the game's device and dtype) as pure functions."""
        self.G, self.D = FlatModule(generator), FlatModule(discriminator)
        self.dim_x, self.dim_y = self.G.size, self.D.size
        self._x0, self._y0 = self.G.initial(), self.D.initial()
        self._spectral = bool(spectral_layers(discriminator))

    def parameter_dims(self) -> tuple[int, int]:
        """(dim_x, dim_y) before ``setup``: the two networks built on the meta device (no memory,
        no data), so the CLI can check size limits of an algorithm before a run starts."""
        import torch

        with torch.device("meta"):
            generator, discriminator = self._build_pair(0)
        return tuple(sum(p.numel() for p in m.parameters() if p.requires_grad) for m in (generator, discriminator))

    def batch_rows(self) -> dict[str, int]:
        """Rows of the step's batch and of the diagnostics' batch, by the key that sets them (a
        data-parallel run splits each into hardware.nproc equal shards)."""
        bc = self.batch_cfg
        if bc.get("eval_size"):
            evaluated = ("game.batch.eval_size", bc["eval_size"])
        elif bc.get("mode") == "fixed":          # the whole fixed dataset (gan.GAN)
            evaluated = ("game.batch.dataset_size", bc["dataset_size"])
        else:
            evaluated = ("game.batch.size", bc["size"])
        return dict([("game.batch.size", bc["size"]), evaluated])

    def _build_pair(self, seed: int = 0):
        """The (generator, discriminator) modules, own ones (``_target_``) built from their seed
        streams, built-in ones uninitialized (subclasses)."""
        raise NotImplementedError

    def initial_points(self):
        return self._x0.clone().unsqueeze(0), self._y0.clone().unsqueeze(0)

    def before_step(self, x, y, step):
        """One power iteration of spectral normalization at the discriminator the step starts from."""
        if self._spectral:
            self.D.set_buffers(power_iteration(self.D, y))

    def state_dict(self) -> dict:
        """The spectral-norm vectors (subclasses add their samplers)."""
        return {"spectral_norm": {k: v.detach().clone() for k, v in self.D.buffers().items()}} if self._spectral else {}

    def load_state_dict(self, state: dict) -> None:
        if self._spectral:
            self.D.set_buffers(state["spectral_norm"])

    # -- losses ---------------------------------------------------------------------------------------
    def _d(self, y, v):
        """D's logits at the samples v, shape (n,)."""
        return self.D(y, v).reshape(v.shape[0])

    def _input_grad(self, y, v):
        """∇_v Σ_i D(y, v_i): per-sample rows ∇D(v_i) when D acts on each sample alone."""
        return grad(lambda u: self.D(y, u).sum())(v)

    def penalty(self, x, y, batch):
        """Σ of the discriminator's penalties (l2, gp, r1) at (x, y) on the batch."""
        return self._penalty(y, batch, self.G(x, batch["z"]) if self.loss_cfg["gp"] > 0 else None)

    def _penalty(self, y, batch, fake):
        """The penalties with the generator's samples ``fake`` = G(x, z) given (needed by gp only)."""
        lc = self.loss_cfg
        total = y.new_zeros(())
        if lc["l2"] > 0:
            total = total + lc["l2"] * y.pow(2).sum()
        if lc["r1"] > 0:
            coefficient = 0.5 * lc["r1"] if lc["r1_half"] else lc["r1"]
            total = total + coefficient * self._input_grad(y, batch["real"]).flatten(1).pow(2).sum(1).mean()
        if lc["gp"] > 0:
            eps = batch["eps"]
            mix = eps * batch["real"] + (1 - eps) * fake
            # the 1e-12 only keeps the norm differentiable at an exactly zero gradient
            norm = (self._input_grad(y, mix).flatten(1).pow(2).sum(1) + 1e-12).sqrt()
            gap = (norm - 1).clamp(min=0) if lc["gp_one_sided"] else norm - 1
            total = total + lc["gp"] * gap.pow(2).mean()
        return total

    def value(self, d_real, d_fake):
        """f (saturating/non-saturating: E log σ(D(v)) + E log(1 − σ(D(G(z))))) or U (wgan)."""
        if self.loss_cfg["kind"] == "wgan":
            return d_real.mean() - d_fake.mean()
        return -F.softplus(-d_real).mean() - F.softplus(d_fake).mean()

    def _scores(self, x, y, batch):
        return self._d(y, batch["real"]), self._d(y, self.G(x, batch["z"]))

    def loss_x(self, x, y, batch):
        """The generator's loss L_x."""
        d_fake = self._d(y, self.G(x, batch["z"]))
        if self.loss_cfg["kind"] == "non_saturating":
            return F.softplus(-d_fake).mean()
        return self.value(self._d(y, batch["real"]), d_fake)

    def loss_y(self, x, y, batch):
        """The discriminator's loss L_y = −f (or −U) + penalties."""
        return self.follower_loss(x, batch)(y)

    def follower_loss(self, x, batch):
        """y ↦ L_y(x, y): the generator's samples G(x, z) (shared by the score and the gradient
        penalty's interpolates) are computed once, so ∇_y and ∇²_yy products at one x reuse them."""
        fake = self.G(x, batch["z"])

        def loss(y):
            return -self.value(self._d(y, batch["real"]), self._d(y, fake)) + self._penalty(y, batch, fake)

        return loss

    def value_losses(self, x, y, batch=None):
        """(L_x, −f): the players' losses without the discriminator's penalties (Liang & Stokes 2019, §4's CO
        term R is computed on U without the gradient penalty)."""
        batch = self.eval_batch() if batch is None else batch
        d_real, d_fake = self._scores(x, y, batch)
        value = self.value(d_real, d_fake)
        lx = F.softplus(-d_fake).mean() if self.loss_cfg["kind"] == "non_saturating" else value
        return lx, -value

    def losses(self, x, y, batch=None):
        batch = self.eval_batch() if batch is None else batch
        lx, ly = self.value_losses(x, y, batch)
        if not self.zero_sum:
            ly = ly + self.penalty(x, y, batch)
        return lx, ly

    def f(self, x, y, batch=None):
        """The value f (= L_x) of the (penalized) zero-sum losses; the non-saturating game has none."""
        if self.loss_cfg["kind"] == "non_saturating":
            raise NotImplementedError("the non-saturating GAN is general-sum: it has no single value f")
        return self.loss_x(x, y, self.eval_batch() if batch is None else batch)


class GAN(GANGame):
    """Generator (leader) vs discriminator (follower) on a synthetic dataset, MLP networks."""

    #: ``seeds=S`` runs S seeds as one vectorized run (games/seeds.py): MLPs keep no state outside
    #: their parameters, so every seed's step is the same pure function
    seeds_vectorized = True

    def __init__(self, name="mog", data="mog1d", sigma=None, centers=None, generator=None, discriminator=None,
                 loss=None, batch=None, metrics=None):
        super().__init__(name, loss)
        self.dataset = make_dataset(data, sigma, centers)
        self.gen_cfg = _net_spec(generator, "game.generator", GEN_DEFAULTS)
        self.disc_cfg = _net_spec(discriminator, "game.discriminator", DISC_DEFAULTS)
        self.batch_cfg = bc = merge_spec(batch, BATCH_DEFAULTS, "game.batch")
        if bc["mode"] not in BATCH_MODES:
            raise ConfigError(f"game.batch.mode must be one of {', '.join(BATCH_MODES)} (got {bc['mode']!r})")
        if bc["latent"] not in LATENT_MODES:
            raise ConfigError(f"game.batch.latent must be one of {', '.join(LATENT_MODES)} (got {bc['latent']!r})")
        for key in ("dataset_size", "size"):
            check_count(bc[key], f"game.batch.{key}")
        if bc["eval_size"] is not None:
            check_count(bc["eval_size"], "game.batch.eval_size")
        rows = getattr(self.dataset, "points", None)   # a samples file: fixed mode trains on its rows
        if bc["mode"] == "fixed" and rows is not None and bc["size"] > len(rows):
            raise ConfigError(f"game.batch.size ({bc['size']}) exceeds the {len(rows)} samples of {self.dataset.path}: "
                              f"fixed mode draws batches without replacement; set game.batch.size <= {len(rows)} "
                              f"or game.batch.mode=fresh")
        if bc["mode"] == "fixed" and rows is None and bc["size"] > bc["dataset_size"]:
            raise ConfigError(f"game.batch.size ({bc['size']}) exceeds game.batch.dataset_size "
                              f"({bc['dataset_size']}): fixed mode draws batches without replacement")
        self.metric_cfg = mc = merge_spec(metrics, METRIC_DEFAULTS, "game.metrics")
        if mc["w1_samples"] is None:
            # 1-D W1 is a sort (closed form), so m can be large enough that sampling noise does not
            # dominate: two 512-samples of the same 1-D MoG are W1 0.19 apart on average, 4,096: 0.07.
            # Elsewhere it is an LP, O(m^3): Liang & Stokes 2019's m = 512.
            mc["w1_samples"] = W1_SAMPLES_1D if self.dataset.dim == 1 else W1_SAMPLES
        for key in ("w1_samples", "kl_samples", "mode_samples"):
            check_count(mc[key], f"game.metrics.{key}")
        if mc["kl_bandwidth"] is not None:
            check_number(mc["kl_bandwidth"], "game.metrics.kl_bandwidth", strict=True)
        check_number(mc["kl_floor"], "game.metrics.kl_floor", strict=True)
        check_number(mc["cover_frac"], "game.metrics.cover_frac", strict=True, high=1.0)
        check_number(mc["density_bandwidth"], "game.metrics.density_bandwidth", strict=True)
        self._sampler: torch.Generator | None = None

    # -- life cycle ---------------------------------------------------------------------------------
    def check(self) -> None:
        """Own networks (``_target_``): built and evaluated once on the CPU, so a module torch.func
        cannot use is one line before the run starts (the CLI calls this)."""
        if is_custom(self.gen_cfg) or is_custom(self.disc_cfg):
            gen, disc = self._networks(0)
            self._check_networks(FlatModule(gen), FlatModule(disc), torch.device("cpu"), torch.float64)

    def _networks(self, seed: int):
        """(generator, discriminator) in float64, initialized from the run seed only (drawn in float64
        and cast later: a run's networks do not depend on its dtype)."""
        init = torch.Generator().manual_seed(stream_seed(seed, "init"))
        nets = self._build_pair(seed)
        for net, cfg in zip(nets, (self.gen_cfg, self.disc_cfg)):
            if not is_custom(cfg):
                net.double().initialize(cfg["init"], init)
        return nets

    def _check_networks(self, G, D, device, dtype) -> None:
        """Shapes, purity and second derivatives of own networks on 4 probe inputs."""
        probe = torch.Generator().manual_seed(0)
        z = torch.randn(4, self.gen_cfg["latent"], generator=probe, dtype=torch.float64).to(device, dtype)
        v = self.dataset.sample(4, probe).to(device, dtype)
        dim = self.dataset.dim
        if is_custom(self.gen_cfg):
            check_forward(G, G.initial().to(device, dtype), z, "game.generator", self.gen_cfg["_target_"],
                          lambda shape: shape == (4, dim), f"(4, {dim}): one sample of the data per latent row")
        if is_custom(self.disc_cfg):
            check_forward(D, D.initial().to(device, dtype), v, "game.discriminator", self.disc_cfg["_target_"],
                          lambda shape: shape in ((4,), (4, 1)), "(4,) or (4, 1): one logit per sample")

    def setup(self, device, dtype, seed):
        super().setup(device, dtype, seed)
        self.seed = int(seed)
        gen, disc = self._networks(seed)
        self.set_networks(gen.to(self.device, self.dtype), disc.to(self.device, self.dtype))
        self._check_networks(self.G, self.D, self.device, self.dtype)

        bc = self.batch_cfg
        self._sampler = torch.Generator().manual_seed(stream_seed(seed, "sampler"))
        data_gen = torch.Generator().manual_seed(stream_seed(seed, "dataset"))
        rows = getattr(self.dataset, "points", None)
        self._dataset = (None if bc["mode"] != "fixed" else self.tensor(rows) if rows is not None
                         else self.tensor(self.dataset.sample(bc["dataset_size"], data_gen)))
        self._fixed_z = (self._latent(bc["size"], torch.Generator().manual_seed(stream_seed(seed, "latent")))
                         if bc["latent"] == "fixed" else None)
        self._eval = self._make_eval_batch(torch.Generator().manual_seed(stream_seed(seed, "eval")))
        self._metric_state = self._build_metrics()  # here, so the run's clock does not pay for it

    def _build_pair(self, seed: int = 0):
        g, d, dim = self.gen_cfg, self.disc_cfg, self.dataset.dim
        nets = []
        for role, cfg, sizes, own in (("generator", g, (g["latent"], dim), GEN_DEFAULTS),
                                      ("discriminator", d, (dim, 1), DISC_DEFAULTS)):
            if is_custom(cfg):
                nets.append(build_custom(cfg, f"game.{role}", stream_seed(seed, f"init-{role}"), own_keys=own,
                                         fill={"latent": g["latent"], "data_dim": dim}, dtype=torch.float64))
            else:
                nets.append(MLP(*sizes, cfg["depth"], cfg["width"], cfg["activation"]))
        return nets

    # -- batches ------------------------------------------------------------------------------------
    def _latent(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.tensor(torch.randn(n, self.gen_cfg["latent"], generator=gen, dtype=torch.float64))

    def _extras(self, batch: dict, n: int, gen: torch.Generator) -> dict:
        if self.loss_cfg["gp"] > 0:
            batch["eps"] = self.tensor(torch.rand(n, 1, generator=gen, dtype=torch.float64))
        return batch

    def sample(self, step: int):
        """The batch of one step: {"real": (size, d), "z": (size, latent)} (+ "eps": (size, 1))."""
        bc, gen = self.batch_cfg, self._sampler
        n = bc["size"]
        if self._dataset is None:
            real = self.tensor(self.dataset.sample(n, gen))
        elif n == len(self._dataset):
            real = self._dataset
        else:
            real = self._dataset[torch.randperm(len(self._dataset), generator=gen)[:n].to(self.device)]
        z = self._fixed_z if self._fixed_z is not None else self._latent(n, gen)
        return self._extras({"real": real, "z": z}, n, gen)

    def _make_eval_batch(self, gen: torch.Generator) -> dict:
        bc = self.batch_cfg
        n = bc["eval_size"] or bc["size"]
        if self._dataset is not None and bc["eval_size"] is None:
            real, n = self._dataset, len(self._dataset)
        else:
            real = self.tensor(self.dataset.sample(n, gen))
        z = self._fixed_z if (self._fixed_z is not None and n == len(self._fixed_z)) else self._latent(n, gen)
        return self._extras({"real": real, "z": z}, n, gen)

    def eval_batch(self):
        return self._eval

    def state_dict(self) -> dict:
        return {"sampler": self.sampler_state(), **super().state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.load_sampler_state(state["sampler"])
        super().load_state_dict(state)

    def sampler_state(self) -> torch.Tensor:
        """The training sampler's RNG state (a uint8 tensor), for checkpoints."""
        return self._sampler.get_state()

    def load_sampler_state(self, state: torch.Tensor) -> None:
        self._sampler.set_state(state)

    # -- diagnostics ----------------------------------------------------------------------------------
    def generate(self, x, n: int | None = None) -> torch.Tensor:
        """G(x, z) on the fixed metric latents (the first n of them)."""
        z = self._metric_state["z"]
        with torch.no_grad():
            return self.G(x, z[:n] if n else z)

    def discriminate(self, y, v) -> torch.Tensor:
        """D's prediction at points v: σ(D) for the GAN losses, the critic value for wgan."""
        with torch.no_grad():
            out = self.D(y, self.tensor(v).reshape(-1, self.dataset.dim)).squeeze(-1)
        return out if self.loss_cfg["kind"] == "wgan" else torch.sigmoid(out)

    def _build_metrics(self) -> dict:
        """Fixed real samples and latents for w1/kl/modes (common random numbers across steps)."""
        from minimax_cli.metrics.distributions import GridKL

        mc, ds = self.metric_cfg, self.dataset
        gen = torch.Generator().manual_seed(stream_seed(self.seed, "metrics"))
        n = max(mc["w1_samples"], mc["kl_samples"], mc["mode_samples"])
        real = ds.sample(n, gen)
        state = {"real": real, "z": self._latent(n, gen), "kl": None}
        if ds.dim <= 2:
            h = mc["kl_bandwidth"] or ds.kde_bandwidth
            lo, hi = ds.bounds(margin=3 * h)
            state["kl"] = GridKL(real[: mc["kl_samples"]], lo, hi, h, mc["kl_floor"])
        return state

    def extra_metrics(self, x, y, step):
        """w1 (exact EMD, m = w1_samples, any dimension), kl (grid KDE, d ≤ 2), and where the data has
        modes (the built-in datasets; a samples file with game.centers) modes_covered, high_quality_frac."""
        from minimax_cli.metrics.distributions import mode_coverage, w1

        mc, ds, state = self.metric_cfg, self.dataset, self._metric_state
        fake = self.generate(x).detach().cpu().double()
        modes = ds.centres is not None
        if not torch.isfinite(fake).all():
            return {"w1": math.nan, **({"kl": math.nan} if state["kl"] is not None else {}),
                    **({"modes_covered": 0, "high_quality_frac": 0.0} if modes else {})}
        m = mc["w1_samples"]
        out = {"w1": w1(fake[:m], state["real"][:m])}
        if state["kl"] is not None:
            out["kl"] = state["kl"](fake[: mc["kl_samples"]])
        if modes:
            covered, quality = mode_coverage(fake[: mc["mode_samples"]], ds.centres, ds.labels, ds.mode_weights(),
                                             ds.sigma, mc["cover_frac"])
            out["modes_covered"] = covered
            out["high_quality_frac"] = quality
        return out

    def figures(self, run_dir, x, y, step, history):
        from minimax_cli.games.gan_figures import gan_figures

        return gan_figures(self, run_dir, x, y, step, history)

    def seed_figures(self, games, seeds, run_dir, x, y, step, history, seed_dirs):
        """The combined figures of a multi-seed run (gan_figures.seed_figures)."""
        from minimax_cli.games.gan_figures import seed_figures

        return seed_figures(games, seeds, run_dir, x, y, step, history, seed_dirs)
