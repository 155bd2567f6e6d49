"""The Game contract (DESIGN.md): two players, each minimizing its own loss.

    leader   x  minimizes  L_x(x, y)
    follower y  minimizes  L_y(x, y)        zero-sum: L_y = -L_x, so min_x max_y f with f = L_x

Algorithms never see modules or data loaders, only the functional interface below; every
derivative is taken with torch.func on ``losses`` (see ``minimax_cli.oracle``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from minimax_cli.errors import ConfigError


@dataclass(frozen=True)
class CriticalPoint:
    x: torch.Tensor
    y: torch.Tensor
    label: str = ""


class Game:
    """Base class. Subclasses set ``dim_x``/``dim_y`` and implement ``losses`` (or ``f``).

    ``__init__`` only stores and validates configuration (it must stay cheap: the CLI builds
    games to validate a sweep before launching it); tensors and data are created in ``setup``.
    """

    zero_sum: bool = True
    #: L_y = −L_x + penalty(x, y, batch): a zero-sum game whose follower adds a regularizer (a GAN
    #: discriminator's L2 or gradient penalty); the oracle then gets ξ from one backward pass of L_x
    penalized_zero_sum: bool = False
    #: analytic games (closed-form losses of a few parameters) run many starts vectorized and
    #: default to float64; neural games default to float32 and run one trajectory.
    analytic: bool = True
    #: the runner calls ``extra_metrics`` only at evaluation steps (``metrics_every``); a game that
    #: schedules its own costly metrics (an image GAN's FID every ``fid_every`` steps) is called at
    #: every logged row instead and returns {} where it has nothing to add
    self_scheduled_metrics: bool = False

    def __init__(self, name: str):
        self.name = name
        self.device = torch.device("cpu")
        self.dtype = torch.float64

    def parameter_dims(self) -> tuple[int, int] | None:
        """(dim_x, dim_y) before ``setup`` when known (analytic games know them from their config);
        checks.check_run gives them to the algorithm's size checks."""
        dims = getattr(self, "dim_x", None), getattr(self, "dim_y", None)
        return None if None in dims else dims

    # -- life cycle ---------------------------------------------------------------------------
    def setup(self, device: torch.device, dtype: torch.dtype, seed: int) -> None:
        self.device, self.dtype = torch.device(device), dtype

    def tensor(self, value) -> torch.Tensor:
        return torch.as_tensor(value, dtype=self.dtype, device=self.device)

    # -- the functional interface -------------------------------------------------------------
    def f(self, x: torch.Tensor, y: torch.Tensor, batch=None) -> torch.Tensor:
        """Zero-sum value f(x, y) = L_x (the leader minimizes it, the follower maximizes it)."""
        raise NotImplementedError

    def losses(self, x: torch.Tensor, y: torch.Tensor, batch=None):
        """(L_x, L_y): scalars, pure functions of x and y (torch.func-friendly)."""
        value = self.f(x, y, batch)
        return value, -value

    def loss_x(self, x: torch.Tensor, y: torch.Tensor, batch=None) -> torch.Tensor:
        """L_x alone (override where it is cheaper than ``losses``)."""
        return self.losses(x, y, batch)[0]

    def loss_y(self, x: torch.Tensor, y: torch.Tensor, batch=None) -> torch.Tensor:
        """L_y alone (override where it is cheaper than ``losses``)."""
        return self.losses(x, y, batch)[1]

    def follower_loss(self, x: torch.Tensor, batch=None):
        """y ↦ L_y(x, y, batch) at a fixed x: what the derivatives in y alone (∇_y L_y, ∇²_yy L_y
        products) differentiate. A game overrides it to compute once what depends on x only (a GAN:
        its generator's samples), so repeated products at one x do not redo it. Must equal loss_y;
        the closure may capture tensors computed from x (derivatives in x still flow through them)."""
        return lambda y: self.loss_y(x, y, batch)

    def value_losses(self, x: torch.Tensor, y: torch.Tensor, batch=None):
        """(L_x, L_y) of the game's value function alone, without the follower's regularizer (a
        GAN's L2/gradient penalty). Liang & Stokes 2019, §4 computes consensus optimization's term R on these
        (``algo.consensus_on=value``). Default: the losses (games without a regularizer)."""
        return self.losses(x, y, batch)

    def penalty(self, x: torch.Tensor, y: torch.Tensor, batch=None) -> torch.Tensor:
        """L_y + L_x, the follower's regularizer, for games with ``penalized_zero_sum``."""
        raise NotImplementedError

    def sample(self, step: int):
        """The batch every derivative of one step is taken on (None for deterministic games)."""
        return None

    def eval_batch(self):
        """The batch diagnostics (gradient norms, losses) are measured on; a fixed one is best."""
        return self.sample(0)

    def initial_points(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Starting iterates, shaped (starts, dim_x) and (starts, dim_y)."""
        raise NotImplementedError

    # -- what the game knows about itself -----------------------------------------------------
    def critical_points(self) -> list[CriticalPoint]:
        """Known critical points; the first is the equilibrium ``dist_to_eq`` measures to."""
        return []

    def equilibrium(self) -> CriticalPoint | None:
        points = self.critical_points()
        return points[0] if points else None

    # -- state outside the players' parameters (checkpointed) -------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs beyond (x, y) and the algorithm state: the data
        sampler's generator, spectral-norm vectors … (tensors, numbers and strings only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state but the checkpoint has {sorted(state)}")

    def before_step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> None:
        """Called before each step at the iterate the step starts from (e.g. one power iteration of
        spectral normalization at the discriminator's current weights). Default: nothing."""

    # -- hooks the runner calls (neural games use them for W1, FID, sample figures ...) ----------
    def extra_metrics(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict:
        """Scalars logged beside the standard ones at every evaluation step (names are fixed by the
        issue that adds them: ``w1``, ``kl``, ``fid`` ...). Values: floats, or per-start tensors
        for analytic games (the runner reports their mean and max)."""
        return {}

    def figures(self, run_dir, x: torch.Tensor, y: torch.Tensor, step: int, history: list[dict]) -> list:
        """Write end-of-run figures into ``run_dir``; ``history`` holds the metrics.jsonl rows.
        Returns the paths written (PNG files are also added to TensorBoard)."""
        return []

    def snapshot(self, run_dir, x: torch.Tensor, y: torch.Tensor, step: int) -> dict:
        """Called at every log step (x: the leader's EMA when ``ema`` is set): write periodic
        figures (e.g. image grids every ``sample_every`` steps) into ``run_dir`` and return
        {TensorBoard tag: PNG path} for those written now. Default: none."""
        return {}

    def plot_value(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The scalar drawn as contours under 2-D trajectories (the leader's loss)."""
        return self.losses(x, y, None)[0]


class AnalyticGame(Game):
    """A closed-form game of a few parameters; many starting points run as one vectorized run.

    Starting points: ``x0``/``y0`` is the centre (or the only point); ``starts`` is either a
    number N of points drawn around it (``init``: ball | box | normal | grid, scale
    ``init_radius``) or an explicit list of points ``[[x..., y...], ...]``.
    """

    INITS = ("ball", "box", "normal", "grid")

    def __init__(self, name, x0=None, y0=None, starts=1, init="ball", init_radius=0.0):
        super().__init__(name)
        self._x0 = None if x0 is None else _vector(x0, "game.x0")
        self._y0 = None if y0 is None else _vector(y0, "game.y0")
        if init not in self.INITS:
            raise ConfigError(f"game.init must be one of {', '.join(self.INITS)} (got {init!r})")
        if not isinstance(init_radius, (int, float)) or init_radius < 0:
            raise ConfigError(f"game.init_radius must be a number >= 0 (got {init_radius!r})")
        self.init, self.init_radius = init, float(init_radius)
        self._explicit = None
        if isinstance(starts, bool) or not isinstance(starts, (int, list, tuple)):
            raise ConfigError(f"game.starts must be a positive integer or a list of points (got {starts!r})")
        if isinstance(starts, int):
            if starts < 1:
                raise ConfigError(f"game.starts must be >= 1 (got {starts})")
            self.n_starts = starts
        else:
            self._explicit = [_vector(p, "game.starts[i]") for p in starts]
            if not self._explicit:
                raise ConfigError("game.starts is an empty list; give N >= 1 or at least one point")
            self.n_starts = len(self._explicit)
        self._seed = 0

    def _check_dims(self):
        # called by subclasses once dim_x/dim_y are known
        for vec, dim, key in ((self._x0, self.dim_x, "game.x0"), (self._y0, self.dim_y, "game.y0")):
            if vec is not None and len(vec) != dim:
                raise ConfigError(f"{key} has {len(vec)} entries but this game's player has dimension {dim}")
        if self._explicit is not None:
            for p in self._explicit:
                if len(p) != self.dim_x + self.dim_y:
                    raise ConfigError(
                        f"each point in game.starts must have dim_x + dim_y = {self.dim_x + self.dim_y} "
                        f"entries [x..., y...] (got {len(p)})")
        if self.init == "grid" and self._explicit is None:
            d = self.dim_x + self.dim_y
            k = round(self.n_starts ** (1.0 / d))
            if k ** d != self.n_starts:
                raise ConfigError(f"game.init=grid needs game.starts to be k^{d} for this {d}-D game "
                                  f"(got {self.n_starts}; e.g. {max(k, 2) ** d})")

    def setup(self, device, dtype, seed):
        super().setup(device, dtype, seed)
        self._seed = int(seed)

    def default_start(self) -> tuple[list[float], list[float]]:
        return [1.0] * self.dim_x, [1.0] * self.dim_y

    def initial_points(self):
        dx, dy = self.dim_x, self.dim_y
        if self._explicit is not None:
            z = self.tensor(self._explicit)
            return z[:, :dx].clone(), z[:, dx:].clone()
        x0, y0 = self.default_start()
        centre = self.tensor(list(self._x0 if self._x0 is not None else x0) +
                             list(self._y0 if self._y0 is not None else y0))
        n, d, r = self.n_starts, dx + dy, self.init_radius
        gen = torch.Generator().manual_seed(self._seed)
        if n == 1 or r == 0.0:
            offsets = torch.zeros(n, d, dtype=torch.float64)
        elif self.init == "ball":
            direction = torch.randn(n, d, generator=gen, dtype=torch.float64)
            direction /= direction.norm(dim=1, keepdim=True)
            offsets = r * direction * torch.rand(n, 1, generator=gen, dtype=torch.float64) ** (1.0 / d)
        elif self.init == "box":
            offsets = r * (2 * torch.rand(n, d, generator=gen, dtype=torch.float64) - 1)
        elif self.init == "normal":
            offsets = r * torch.randn(n, d, generator=gen, dtype=torch.float64)
        else:  # grid: k points per axis spanning [-r, r]
            k = round(n ** (1.0 / d))
            axis = torch.linspace(-r, r, k, dtype=torch.float64)
            offsets = torch.cartesian_prod(*([axis] * d)).reshape(n, d)
        z = centre + offsets.to(self.device, self.dtype)
        return z[:, :dx].clone(), z[:, dx:].clone()


def _vector(value, key) -> list[float]:
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a list of numbers (got {value!r})") from None
    if not all(math.isfinite(v) for v in out):
        raise ConfigError(f"{key} must contain finite numbers (got {value!r})")
    return out


def matrix(value, key: str) -> list[list[float]]:
    """Validate a nested-list matrix from the config; one clear error if it is malformed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [[value]]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{key} must be a non-empty nested list like [[1.0, 0.0], [0.0, 1.0]] (got {value!r})")
    rows = []
    for row in value:
        if not isinstance(row, (list, tuple)):
            raise ConfigError(f"{key} must be a nested list of rows like [[1.0, 0.0], [0.0, 1.0]] (got {value!r})")
        rows.append(_vector(row, key))
    widths = {len(r) for r in rows}
    if len(widths) != 1 or 0 in widths:
        raise ConfigError(f"{key} is malformed: every row must have the same non-zero length (got row lengths {[len(r) for r in rows]})")
    return rows
