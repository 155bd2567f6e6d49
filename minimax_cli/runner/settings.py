"""What a run's loop is told: a frozen ``LoopSettings``, built once from the config (train.py)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from minimax_cli.errors import ConfigError
from minimax_cli.oracle import Oracle

CONVERGE_ON = ("grad_norm", "dist_to_eq")


@dataclass(frozen=True)
class LoopSettings:
    """The loop's cadences, stopping rules and outlets. Checked once, here, at construction (the
    rule that needs the set-up game: checks.check_converge_on); the runner trusts it. Per phase
    (pretraining, main) a copy differs by ``replace(...)``."""

    steps: int
    log_every: int
    tol: float
    converge_on: str = "grad_norm"       # what is compared with tol: ‖ξ‖ or the distance to the equilibrium
    diverge_norm: float = 1e6            # a lane with |(x, y)| above it (or not finite) diverged
    check_every: int | None = None       # convergence check (None: every step, or metrics_every for neural games)
    metrics_every: int | None = None     # evaluation metrics (None: ``default_metrics_every``)
    progress: bool = True                # a progress line
    log: object = None                   # the run log (runlog.py): rows and figures
    plot_starts: int = 16                # starts whose paths a 2-D game keeps for its plot
    ema_beta: float | None = None        # keep the leader's exponential moving average
    checkpoint: object = None            # a callable taking the loop's payload (train.py writes it)
    checkpoint_every: int = 0            # steps between checkpoints (0: none)
    oracle: type = Oracle                # the Oracle class (distributed.DistributedOracle in data-parallel runs)
    precision: str = "fp32"              # of the algorithm's first-order evaluations (oracle.py)
    title: str | None = None             # the phase's name in progress lines
    trajectory_file: object = None       # where a 2-D game's plotted paths go (trajectory.py); None: memory
    seed_chunk: int | None = None        # seeds per vmapped call of a multi-seed run (None: all)

    def __post_init__(self):
        if self.converge_on not in CONVERGE_ON:
            raise ConfigError(f"converge_on must be one of {', '.join(CONVERGE_ON)} (got {self.converge_on!r})")
        if self.metrics_every and self.metrics_every % self.log_every:
            raise ConfigError(f"metrics_every ({self.metrics_every}) must be a multiple of log_every "
                              f"({self.log_every}): evaluation metrics go into the rows written every log_every steps")
        if self.ema_beta is not None and not 0.0 <= self.ema_beta < 1.0:
            raise ConfigError(f"ema must be null or a number in [0, 1) (got {self.ema_beta})")

    def replace(self, **changes) -> "LoopSettings":
        return dataclasses.replace(self, **changes)


def default_metrics_every(game, log_every: int) -> int:
    """``metrics_every: null``: every row for analytic games (a vectorized evaluation costs about
    one step); for neural games the first multiple of log_every at or above 100 steps (an
    evaluation costs about a training step on the evaluation batch plus the game's metrics, so this
    keeps them within a few percent of a run; Wang et al. 2020's code logs every 100 iterations)."""
    if game.analytic:
        return log_every
    return log_every * math.ceil(100 / log_every)
