"""Many seeds of one neural game as one vectorized run (``seeds=S``).

Seed k of a run with ``seed=s`` and ``seeds=S`` is the game set up with seed s + k: the run holds
exactly the S separate runs ``seed=s``, …, ``seed=s+S-1`` (own network initialization, data, latent,
evaluation and metric streams). The seeds share the architecture and the losses, which are pure
functions of (x, y, batch); only the parameters and the batches differ. So the runner stacks the
players' parameters as (S, dim) and each step's batches as (S, …), and maps the algorithm's
single-trajectory step over the seeds with torch.func.vmap, as it maps analytic games' starts.
Every solve, damping rule and preconditioner then acts per seed (their scalars are per-lane
tensors under vmap; solvers mask instead of branching on data), and in float64 the run equals the
S separate runs.

Diagnostics that are not tensor functions (W1 by exact transport, KL on a grid, figures) run per
seed on that seed's own copy of the game, at log steps only.

Only games that declare ``seeds_vectorized`` take ``seeds > 1``: the MLP GANs (``game=mog``).
Image games keep per-seed state outside the parameters (spectral-norm vectors, updated between
steps) and are refused with one line; analytic games vectorize ``game.starts`` instead.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils._pytree import tree_map

from minimax_cli.errors import ConfigError
from minimax_cli.games.base import Game


def check_seeds(cfg, game) -> list[int]:
    """The seeds of a run: [seed, seed + 1, …, seed + seeds − 1]; one line if ``seeds`` is bad or
    the game cannot vectorize them (with hardware=ddp: distributed.check_config)."""
    seeds, seed = cfg.get("seeds", 1), cfg.get("seed", 0)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be an integer >= 1 (got {seeds!r})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer (got {seed!r})")
    if not -(1 << 63) <= seed <= (1 << 63) - seeds:   # torch's and numpy's generators take 64-bit seeds
        raise ConfigError(f"seed={seed} is out of range: seeds are 64-bit integers, from -2^63 to "
                          f"2^63 - {seeds} (with seeds={seeds})")
    if seeds > 1:
        if game.analytic:
            raise ConfigError(f"seeds={seeds}: game {game.name} is analytic and already vectorizes its starts; use "
                              "game.starts=N (spread by game.init/game.init_radius, drawn from the run's seed)")
        if not getattr(game, "seeds_vectorized", False):
            raise ConfigError(f"seeds={seeds}: game {game.name} cannot run several seeds in one process (only the MLP "
                              "GANs, game=mog, can); sweep the seeds instead: -m seed=0,1,2")
    seed_chunk(cfg)
    return list(range(seed, seed + seeds))


def seed_chunk(cfg) -> int | None:
    """``hardware.seed_chunk``: seeds per vmapped call (None: all at once). Chunks run one after
    the other; each seed's arithmetic is the same either way."""
    chunk = (cfg.get("hardware") or {}).get("seed_chunk", None)
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ConfigError(f"hardware.seed_chunk must be null (all seeds at once) or an integer >= 1 (got {chunk!r})")
    return chunk


def seed_dir(run_dir, seed: int) -> Path:
    """Where the per-seed files of a multi-seed run go (figures, samples.npz, TensorBoard events)."""
    return Path(run_dir) / "seeds" / str(seed)


def stack(trees: list):
    """Per-seed pytrees (dicts of tensors) stacked leaf by leaf along a new first dimension."""
    return tree_map(lambda *leaves: torch.stack(leaves), *trees)


class SeedStack(Game):
    """S copies of one game, set up with the seeds of the run (``check_seeds``).

    To the runner and the Oracle it is a game whose points and batches carry a leading seed
    dimension: ``initial_points`` (S, dim), ``sample``/``eval_batch`` stacked batches, and losses
    that are the single-seed functions of the first copy (mapped over seeds by the runner).
    """

    analytic = False

    def __init__(self, games: list[Game], seeds: list[int]):
        if len(games) != len(seeds) or not games:
            raise ValueError("one game per seed")
        base = games[0]
        super().__init__(base.name)
        self.games, self.seeds, self.base = list(games), list(seeds), base
        self.device, self.dtype = base.device, base.dtype
        self.dim_x, self.dim_y = base.dim_x, base.dim_y
        self.zero_sum, self.penalized_zero_sum = base.zero_sum, base.penalized_zero_sum
        self._eval = stack([g.eval_batch() for g in self.games])   # fixed per seed: stacked once

    def __getattr__(self, name):
        # configuration the algorithms and figures read (loss_cfg, dataset, batch_cfg …) is the same
        # for every seed; anything per seed is reached through ``games``
        if name.startswith("__") or name in ("games", "base"):
            raise AttributeError(name)
        return getattr(self.base, name)

    # -- the functional interface: one seed's losses (the runner vmaps them) -----------------------
    def losses(self, x, y, batch=None):
        return self.base.losses(x, y, batch)

    def loss_x(self, x, y, batch=None):
        return self.base.loss_x(x, y, batch)

    def loss_y(self, x, y, batch=None):
        return self.base.loss_y(x, y, batch)

    def follower_loss(self, x, batch=None):
        return self.base.follower_loss(x, batch)

    def value_losses(self, x, y, batch=None):
        return self.base.value_losses(x, y, batch)

    def penalty(self, x, y, batch=None):
        return self.base.penalty(x, y, batch)

    def f(self, x, y, batch=None):
        return self.base.f(x, y, batch)

    # -- per-seed data, stacked ------------------------------------------------------------------------
    def sample(self, step: int):
        """The step's batch of every seed, each from its own sampler, stacked (S, …)."""
        return stack([g.sample(step) for g in self.games])

    def eval_batch(self):
        return self._eval

    def initial_points(self):
        xs, ys = zip(*(g.initial_points() for g in self.games))
        return torch.cat(xs), torch.cat(ys)

    def critical_points(self):
        return []

    def state_dict(self) -> dict:
        return {"seeds": [g.state_dict() for g in self.games]}

    def load_state_dict(self, state: dict) -> None:
        states = state.get("seeds") if isinstance(state, dict) else None
        if states is None or len(states) != len(self.games):
            raise ValueError(f"the checkpoint's game state is not that of {len(self.games)} seeds")
        for game, own in zip(self.games, states):
            game.load_state_dict(own)

    def before_step(self, x, y, step):
        for k, game in enumerate(self.games):
            game.before_step(x[k], y[k], step)

    # -- diagnostics, seed by seed ---------------------------------------------------------------------
    def metrics_per_seed(self, x, y, step) -> list[dict]:
        """``extra_metrics`` of every seed at its own (x_k, y_k): one dict per seed."""
        return [g.extra_metrics(x[k], y[k], step) for k, g in enumerate(self.games)]

    def snapshot_per_seed(self, run_dir, x, y, step) -> list[tuple[int, dict]]:
        out = []
        for k, (seed, game) in enumerate(zip(self.seeds, self.games)):
            written = game.snapshot(_mkdir(seed_dir(run_dir, seed)), x[k], y[k], step)
            if written:
                out.append((seed, written))
        return out

    def figures_per_seed(self, run_dir, x, y, step, history: list[dict]) -> list[tuple[int, list]]:
        """Each seed's end-of-run figures in seeds/<seed>/, drawn from its own metric rows."""
        out = []
        for k, (seed, game) in enumerate(zip(self.seeds, self.games)):
            rows = [r for r in history if r.get("seed") == seed]
            out.append((seed, game.figures(_mkdir(seed_dir(run_dir, seed)), x[k], y[k], step, rows)))
        return out

    def combined_figures(self, run_dir, x, y, step, history: list[dict]) -> list:
        """One figure per kind with every seed in it, in ``run_dir`` (the game's ``seed_figures``;
        each seed's data files still in seeds/<seed>/); [] for a game that has none."""
        draw = getattr(self.base, "seed_figures", None)
        if draw is None:
            return []
        dirs = [_mkdir(seed_dir(run_dir, seed)) for seed in self.seeds]
        return draw(self.games, self.seeds, run_dir, x, y, step, history, dirs)

    def extra_metrics(self, x, y, step):
        raise NotImplementedError("a seed stack's metrics are per seed: metrics_per_seed")

    def figures(self, run_dir, x, y, step, history):
        return [p for _, paths in self.figures_per_seed(run_dir, x, y, step, history) for p in paths]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
