"""The run's state: each lane's status, the loop's bookkeeping (what a checkpoint saves) and the
result a run returns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from minimax_cli.errors import ConfigError
from minimax_cli.trajectory import TrajectoryLog

RUNNING, CONVERGED, DIVERGED = 0, 1, 2
STATUS_NAMES = ("running", "converged", "diverged")


def overall(status: torch.Tensor) -> str:
    """The run's status from its lanes' statuses (a run still going at its last step: finished)."""
    if bool((status == CONVERGED).all()):
        return "converged"
    if bool((status == DIVERGED).all()):
        return "diverged"
    if status.numel() == 1 and int(status[0]) == DIVERGED:
        return "diverged"
    return "finished"


@dataclass
class RunResult:
    status: str
    step: int
    wall_time_s: float
    n_starts: int
    start_status: torch.Tensor          # (N,) RUNNING / CONVERGED / DIVERGED
    stop_step: torch.Tensor             # (N,) step at which each start converged/diverged (-1: never)
    state: dict
    metrics: dict = field(default_factory=dict)
    metrics_time_s: float = 0.0         # wall time spent on evaluation metrics (inside wall_time_s)
    trajectory: torch.Tensor | None = None   # (T, P, dim_x + dim_y) for plotting, P <= plot_starts
    cost: dict = field(default_factory=dict)
    ema: torch.Tensor | None = None      # the leader's exponential moving average (``ema``), if kept
    seeds: list | None = None            # a multi-seed run: the seed of each lane
    seed_metrics: list = field(default_factory=list)   # ... and each seed's last logged row
    last_row: torch.Tensor | None = None     # (N,) step of each seed's last row (where its separate run ends)

    def start_outcomes(self) -> tuple[list[str], torch.Tensor]:
        """Per start: its status name and the step it stopped at, as summary.json counts them. A
        start still running when the run ended shares the run's end: finished (or interrupted) at
        the run's last step."""
        end = self.status if self.status in ("finished", "interrupted") else "finished"
        names = [STATUS_NAMES[int(s)] if int(s) != RUNNING else end for s in self.start_status]
        stop = torch.where(self.start_status == RUNNING, torch.full_like(self.stop_step, self.step), self.stop_step)
        return names, stop

    def fractions(self) -> dict:
        n = float(self.n_starts)
        return {
            "fraction_converged": int((self.start_status == CONVERGED).sum()) / n,
            "fraction_diverged": int((self.start_status == DIVERGED).sum()) / n,
        }


class _Loop:
    """The mutable bookkeeping of one run, saved and restored whole by checkpoints (except
    ``point``, the derivatives at the state, recomputed after a restore)."""

    def __init__(self):
        self.metrics: dict[str, float] = {}
        self.point = None

    @classmethod
    def start(cls, runner, state: dict, t: int) -> "_Loop":
        loop = cls()
        n = runner.lanes.per_start(state["x"]).shape[0]
        device = state["x"].device
        loop.state, loop.t = state, t
        loop.status = torch.full((n,), RUNNING, dtype=torch.int8, device=device)
        loop.stop_step = torch.full((n,), -1, dtype=torch.long, device=device)
        loop.window = {"steps": 0, "grads": 0.0, "hvps": 0.0}
        loop.totals = {"steps": 0, "grads": 0.0, "hvps": 0.0}
        loop.info_sum = {}
        loop.info_steps = torch.zeros((n,), dtype=torch.long, device=device)   # steps in each lane's info_sum
        loop.ema = state["x"].detach().clone() if runner.settings.ema_beta is not None else None
        loop.traj = TrajectoryLog.start(runner.traj_point(state), runner.settings.trajectory_file) \
            if runner.plotted else None
        loop._open_rows(n, device)
        loop._t0, loop._offset = time.perf_counter(), 0.0
        loop.metrics_time = 0.0
        return loop

    def _open_rows(self, n: int, device, p: dict | None = None) -> None:
        """Per-seed row bookkeeping: which seeds still log rows, the step of each one's last row,
        and its last row (a checkpoint of a single-trajectory run has none: every lane open)."""
        p = p or {}
        self.open = p.get("open", torch.ones((n,), dtype=torch.bool, device=device))
        self.last_row = p.get("last_row", torch.full((n,), -1, dtype=torch.long, device=device))
        self.seed_metrics = [dict(m) for m in p.get("seed_metrics", [{} for _ in range(n)])]

    def carry_over(self, earlier: RunResult) -> None:
        """Seeds that diverged in an earlier phase stay stopped, with their rows closed (their
        separate runs end there; a converged one goes on, as a single run does)."""
        if earlier.seeds is None:
            return
        device = self.status.device
        stopped = earlier.start_status.to(device) == DIVERGED
        self.status = torch.where(stopped, earlier.start_status.to(device), self.status)
        self.stop_step = torch.where(stopped, earlier.stop_step.to(device), self.stop_step)
        self.open = ~stopped
        self.last_row = earlier.last_row.to(device).clone()
        self.seed_metrics = [dict(m) for m in earlier.seed_metrics]

    @classmethod
    def restore(cls, runner, p: dict) -> "_Loop":
        loop = cls()
        loop.state, loop.t = p["state"], int(p["step"])
        loop.status, loop.stop_step = p["status"], p["stop_step"]
        loop.window, loop.totals = dict(p["window"]), dict(p["totals"])
        loop.info_sum = dict(p["info_sum"])
        n = loop.status.numel()
        loop.info_steps = p.get("info_steps", torch.full((n,), int(loop.window["steps"]), dtype=torch.long,
                                                         device=loop.status.device))
        loop._open_rows(n, loop.status.device, p)
        loop.ema = p["ema"]
        if runner.settings.ema_beta is not None and loop.ema is None:
            raise ConfigError("ema is set but the checkpoint was written without it")
        if runner.plotted and (p.get("trajectory") is not None or p.get("trajectory_rows") is not None):
            loop.traj = TrajectoryLog.restore(runner.traj_point(loop.state), runner.settings.trajectory_file, p)
        else:
            loop.traj = TrajectoryLog.start(runner.traj_point(loop.state), runner.settings.trajectory_file) \
                if runner.plotted else None
        loop.metrics = dict(p["metrics"])
        loop._t0, loop._offset = time.perf_counter(), float(p["wall_time_s"])
        loop.metrics_time = float(p.get("metrics_time_s", 0.0))
        return loop

    def elapsed(self) -> float:
        return self._offset + time.perf_counter() - self._t0

    @property
    def status(self) -> torch.Tensor:
        """Each lane's status (RUNNING, CONVERGED, DIVERGED)."""
        return self._status

    @status.setter
    def status(self, value: torch.Tensor) -> None:
        self._status, self._running, self._n_running = value, None, None

    def running(self) -> torch.Tensor:
        """status == RUNNING, computed once per change of the statuses."""
        if self._running is None:
            self._running = self._status == RUNNING
        return self._running

    def n_running(self) -> int:
        """How many lanes are running (one host sync per change of the statuses)."""
        if self._n_running is None:
            self._n_running = int(self.running().sum())
        return self._n_running

    def any_running(self) -> bool:
        return self.n_running() > 0

    def all_running(self) -> bool:
        return self.n_running() == self._status.numel()

    def mark(self, mask: torch.Tensor, status: int, t: int) -> None:
        """Lanes in mask get this status at step t."""
        if mask.device.type == "cpu" and not bool(mask.any()):   # the usual step: nobody stops
            return
        self.status = torch.where(mask, torch.full_like(self.status, status), self.status)
        self.stop_step = torch.where(mask, torch.full_like(self.stop_step, t), self.stop_step)

    def payload(self) -> dict:
        return {
            "step": self.t, "state": self.state, "status": self.status, "stop_step": self.stop_step,
            "window": dict(self.window), "totals": dict(self.totals), "info_sum": dict(self.info_sum),
            "ema": self.ema, **({"trajectory": None} if self.traj is None else self.traj.payload()),
            "metrics": dict(self.metrics), "wall_time_s": self.elapsed(), "metrics_time_s": self.metrics_time,
            "info_steps": self.info_steps, "open": self.open, "last_row": self.last_row,
            "seed_metrics": [dict(m) for m in self.seed_metrics],
        }
