"""What the GAN reproductions read from their runs: metric curves, gradient norms, final samples."""

from __future__ import annotations

import math
import statistics
from pathlib import Path


def curve(run, metric: str, phase: str | None = "main"):
    """(steps, values, wall seconds) of a metric, from metrics.jsonl rows of one phase (rows of a
    run without phases are all 'main')."""
    rows = [r for r in run.history if metric in r and (phase is None or r.get("phase", "main") == phase)]
    steps = [float(r["step"]) for r in rows]
    values = [float(r[metric]) for r in rows]
    wall = [float(r.get("wall_time_s", math.nan)) for r in rows]
    return steps, values, wall


def grad_norm(run, phase: str | None = "main"):
    """(steps, ‖(∇ₓL_x, ∇ᵧL_y)‖, wall) on the eval batch, per logged row."""
    s, gx, w = curve(run, "grad_norm/x", phase)
    _, gy, _ = curve(run, "grad_norm/y", phase)
    return s, [math.hypot(a, b) for a, b in zip(gx, gy)], w


def tail_median(values: list[float], frac: float = 0.5) -> float:
    """Median of the last ``frac`` of the values (robust to the oscillation of GAN gradient norms)."""
    if not values:
        return math.nan
    k = max(1, int(round(len(values) * frac)))
    return statistics.median(values[-k:])


def report_table(result, metrics: list[str]) -> str:
    """`minimax report`'s table of the runs, one row per variant."""
    from minimax_cli import report

    rows = report.table(result.runs, by=["algo.name"], metrics=metrics)
    return report.to_markdown(rows)


def load_samples(run):
    """The final generated samples and discriminator grid of a run (samples.npz), or None."""
    import numpy as np

    path = Path(run.files) / "samples.npz"   # a seed of a multi-seed run: seeds/<seed>/
    return dict(np.load(path)) if path.exists() else None


RUN_QUIET = ["tensorboard=false", "progress=false", "hardware.threads=1"]   # every GAN run: one thread, no extras
