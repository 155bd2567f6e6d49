"""The objective a tuning sweeper (optuna) gets from one run directory: a metric's final value.

Here, beside the other metrics, so that training (which returns it to the sweeper) and
reporting (which tables it) both read it from below."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from minimax_cli.errors import ConfigError, DataError
from minimax_cli.runlog import read_rows


def objective_value(run_dir: str | os.PathLike, metric: str, mode: str = "minimize") -> float:
    """The value a tuning sweeper (optuna) gets for a run: its final ``metric``.

    A run that failed, diverged, was interrupted or left no summary, and a missing or non-finite
    value, score the worst value: +inf when minimizing, -inf when maximizing (never nan: the optuna
    sweeper cannot record a nan trial and stops the sweep).
    """
    if mode not in ("minimize", "maximize"):
        raise ConfigError(f"objective.mode must be minimize or maximize (got {mode!r})")
    worst = math.inf if mode == "minimize" else -math.inf
    path = Path(run_dir)
    if not (path / "summary.json").exists():
        return worst
    summary = _summary(path / "summary.json")
    if summary.get("status") not in ("converged", "finished"):
        return worst
    metrics = summary.get("metrics") or {}
    rows = [] if metric in metrics else read_rows(path / "metrics.jsonl")
    value = _final(metric, metrics, rows)
    if value is None:
        names = list(metrics) or list(dict.fromkeys(k for r in rows for k in r if k not in ("step", "wall_time_s")))
        logging.getLogger("minimax").warning("objective.metric %r is not among this run's metrics (%s): scored %s",
                                             metric, ", ".join(names), worst)
    return value if value is not None and math.isfinite(value) else worst


def _summary(file: Path) -> dict:
    try:
        summary = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {file} ({exc})") from None
    if not isinstance(summary, dict):
        raise DataError(f"{file} is not a JSON object")
    return summary


def _final(metric: str, metrics: dict, rows: list[dict]) -> float | None:
    """The summary's value of ``metric``, else its last logged one ("nan", "inf" are written as text)."""
    found = [metrics[metric]] if metric in metrics else [r[metric] for r in reversed(rows) if metric in r][:1]
    if not found:
        return None
    try:
        return float(found[0])
    except (TypeError, ValueError):
        return math.nan
