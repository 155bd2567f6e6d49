"""Row writers: what a run logs into metrics.jsonl every log_every steps.

``RunRows``: one row for the whole run (analytic starts aggregated: mean, and max over starts);
``SeedRows``: one row per seed of a multi-seed run, each as its separate run would log it.
"""

from __future__ import annotations

import time

import torch

from minimax_cli.runner.state import CONVERGED, DIVERGED, RUNNING


class RunRows:
    """One row per log step: the algorithm's cost and info since the last row, and with
    ``evaluate`` the evaluation metrics (``measured``: the gradient norms of this step's check)."""

    def __init__(self, runner):
        self.runner, self.game, self.log = runner, runner.game, runner.settings.log

    def stopped_between_rows(self, loop) -> bool:
        """Whether a lane stopped since its last row and needs its last row now (seeds only)."""
        return False

    def write(self, loop, evaluate: bool = True, measured=None, every_seed: bool = True) -> None:
        """One row: the algorithm's cost and info since the last row, and with ``evaluate`` the
        evaluation metrics (``measured``: the gradient norms of this step's convergence check)."""
        metrics: dict[str, float] = {}
        n = loop.status.numel()
        x_eval = loop.ema if loop.ema is not None else loop.state["x"]
        started = time.perf_counter()
        if evaluate:
            known = None if loop.point is None else loop.point["field"]
            m = measured if measured is not None else \
                self.runner.measure(loop.state, self.runner.eval_batch(), field=known)
            for key, value in m.items():
                metrics[key] = float(value.mean())
                if n > 1:
                    metrics[key + "/max"] = float(value.max())
        window = loop.window
        if window["steps"]:
            metrics["cost/grads"] = window["grads"] / window["steps"]
            metrics["cost/hvps"] = window["hvps"] / window["steps"]
            for key, total in loop.info_sum.items():
                metrics[f"algo/{key}"] = float(total.nanmean()) / window["steps"]
        if evaluate or self.game.self_scheduled_metrics:
            for key, value in self.game.extra_metrics(x_eval, loop.state["y"], loop.t).items():
                if isinstance(value, torch.Tensor) and value.numel() > 1:
                    metrics[key] = float(value.float().mean())
                    metrics[key + "/max"] = float(value.float().max())
                else:
                    metrics[key] = float(value)
        if self.log is not None:  # periodic figures (image grids): the game decides when, e.g. every sample_every
            for tag, png in self.game.snapshot(self.log.dir, x_eval, loop.state["y"], loop.t).items():
                self.log.add_figure_png(tag, png, loop.t)
        loop.metrics_time += time.perf_counter() - started
        if n > 1:
            metrics["fraction_converged"] = float((loop.status == CONVERGED).float().mean())
            metrics["fraction_diverged"] = float((loop.status == DIVERGED).float().mean())
        window["steps"], window["grads"], window["hvps"] = 0, 0.0, 0.0
        loop.info_sum.clear()
        loop.info_steps.zero_()
        if self.log is not None:
            self.log.log(loop.t, metrics, loop.elapsed())
        loop.metrics = {**loop.metrics, **metrics} if not evaluate else metrics


class SeedRows(RunRows):
    """One row per seed whose rows are still open, as S separate runs would log them."""

    def __init__(self, runner):
        super().__init__(runner)
        self.seeds = runner.lanes.seeds

    def stopped_between_rows(self, loop) -> bool:
        return bool((loop.open & (loop.status != RUNNING)).any())

    def write(self, loop, evaluate: bool = True, measured=None, every_seed: bool = True) -> None:
        """One metrics row per seed whose rows are still open: the row its separate run would log
        now. ``every_seed=False`` (a check step between log steps): only the seeds that stopped
        since their last row, whose separate runs would end here. A seed's rows close after the
        row that follows its stop. As in a separate run, a row holds the evaluation metrics when
        ``evaluate`` (every metrics_every steps) or when it is the seed's last."""
        stopped = loop.status != RUNNING
        rows = loop.open & stopped if not every_seed else loop.open
        lanes = rows.nonzero().flatten().tolist()
        evaluated = [k for k in lanes if evaluate or bool(stopped[k])]
        x_eval = loop.ema if loop.ema is not None else loop.state["x"]
        started = time.perf_counter()
        m, extra = {}, None
        if evaluated:
            m = measured if measured is not None else self.runner.measure(loop.state, self.runner.eval_batch())
            extra = self.game.metrics_per_seed(x_eval, loop.state["y"], loop.t)
        loop.metrics_time += time.perf_counter() - started
        window = loop.window
        for k in lanes:
            metrics = {key: float(value[k]) for key, value in m.items()} if k in evaluated else {}
            if window["steps"]:
                metrics["cost/grads"] = window["grads"] / window["steps"]
                metrics["cost/hvps"] = window["hvps"] / window["steps"]
            steps = int(loop.info_steps[k])
            for key, total in loop.info_sum.items():
                if steps:
                    metrics[f"algo/{key}"] = float(total[k]) / steps
            if k in evaluated:
                metrics.update({key: float(value) for key, value in extra[k].items()})
            if self.log is not None:
                self.log.log(loop.t, metrics, loop.elapsed(), seed=self.seeds[k])
            # between evaluations a seed keeps its last evaluated values (as RunResult.metrics does)
            loop.seed_metrics[k] = metrics if k in evaluated else {**loop.seed_metrics[k], **metrics}
        if self.log is not None:
            for seed, figures in self.game.snapshot_per_seed(self.log.dir, x_eval, loop.state["y"], loop.t):
                for tag, png in figures.items():
                    self.log.add_figure_png(tag, png, loop.t, seed=seed)
        logged = torch.zeros_like(loop.open)
        logged[lanes] = True
        for key in loop.info_sum:
            loop.info_sum[key] = torch.where(logged, torch.zeros_like(loop.info_sum[key]), loop.info_sum[key])
        loop.info_steps = torch.where(logged, torch.zeros_like(loop.info_steps), loop.info_steps)
        loop.last_row = torch.where(logged, torch.full_like(loop.last_row, loop.t), loop.last_row)
        loop.open = loop.open & ~(logged & stopped)
        if every_seed:
            window["steps"], window["grads"], window["hvps"] = 0, 0.0, 0.0
        rows_so_far = [mm for mm in loop.seed_metrics if mm]   # RunResult.metrics: the mean over seeds
        loop.metrics = {key: sum(mm[key] for mm in rows_so_far) / len(rows_so_far)
                        for key in (rows_so_far[0] if rows_so_far else {}) if all(key in mm for mm in rows_so_far)}
