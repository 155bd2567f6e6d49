"""What minimax's launchers share when a sweep is stopped or a job leaves no result."""

from __future__ import annotations

import math
import signal
from pathlib import Path

from omegaconf import OmegaConf


def worst_objective(config) -> float:
    """What a job that left no objective scores for a tuning sweeper (optuna): the worst value."""
    mode = OmegaConf.select(config, "objective.mode", default="minimize")
    return math.inf if mode == "minimize" else -math.inf


def stopped_line(signum: int, started: int, jobs: int, sweep_dir: Path) -> str:
    """The one line a sweep stopped by ``signum`` ends with (after ``minimax: interrupted: ``)."""
    return (f"{signal.Signals(signum).name} stopped the sweep: {started} of {jobs} jobs had started (those still "
            f"running ended interrupted: minimax train resume=<its run dir> continues one), {jobs - started} not "
            f"started; runs in {sweep_dir}")
