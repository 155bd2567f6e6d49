"""The training loop: one algorithm on one game, many trajectories at once.

A run holds N independent trajectories ("lanes") as one vectorized run: the algorithm's step is
written for a single trajectory and mapped over lanes with torch.func.vmap. Lanes are the starts
of an analytic game (no batch; metrics are aggregated into one row: mean and max over starts) or
the seeds of a neural game (``seeds=S``, games/seeds.py: each step's batches are drawn per seed
and mapped with the state; every seed logs its own rows, with a ``seed`` field, as S separate runs
would). Each lane has a status (running → converged | diverged); a lane that finishes is frozen
(a diverged one at its last finite iterate) and the run stops when no lane is running. Status
decisions use tensor masks, so the host only synchronizes at check and log steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch.func import vmap
from torch.utils._pytree import tree_map

from minimax_cli import progress, signals
from minimax_cli.errors import ConfigError
from minimax_cli.oracle import CostMeter, Oracle
from minimax_cli.trajectory import TrajectoryLog

RUNNING, CONVERGED, DIVERGED = 0, 1, 2
STATUS_NAMES = ("running", "converged", "diverged")
CONVERGE_ON = ("grad_norm", "dist_to_eq")


def _warm_up_torch_func():
    """The first torch.func gradient imports torch._dynamo (~2 s, once per process): pay it here,
    outside the run's clock, so wall times measure the algorithm."""
    torch.func.grad(lambda v: (v * v).sum())(torch.ones(1))


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


class Runner:
    def __init__(self, game, algo, *, steps: int, log_every: int, tol: float,
                 converge_on: str = "grad_norm", diverge_norm: float = 1e6, check_every=None,
                 progress: bool = True, log=None, plot_starts: int = 16, ema_beta: float | None = None,
                 checkpoint=None, checkpoint_every: int = 0, oracle=Oracle, precision: str = "fp32",
                 title: str | None = None, trajectory_file=None, seed_chunk: int | None = None):
        if converge_on not in CONVERGE_ON:
            raise ConfigError(f"converge_on must be one of {', '.join(CONVERGE_ON)} (got {converge_on!r})")
        if converge_on == "dist_to_eq" and game.equilibrium() is None:
            raise ConfigError(f"converge_on=dist_to_eq needs a game with a known critical point; {game.name} has none")
        self.game, self.algo = game, algo
        self.steps, self.log_every = steps, log_every
        self.tol, self.converge_on, self.diverge_norm = tol, converge_on, diverge_norm
        #: a multi-seed run (games/seeds.py): the seed of each lane, whose batches are stacked
        self.seeds = getattr(game, "seeds", None)
        self.batched = game.analytic or self.seeds is not None
        self.seed_chunk = seed_chunk   # seeds per vmapped call (None: all)
        self.check_every = check_every or (1 if game.analytic else log_every)
        self.progress, self.log, self.plot_starts = progress, log, plot_starts
        #: the phase's name in progress lines (train.py: "pretraining ...", "training ...")
        self.title = title or f"training {game.name}/{algo.name}"
        #: where the plotted paths of a 2-D game go (trajectory.py); None: kept in memory
        self.trajectory_file = trajectory_file
        if ema_beta is not None and not 0.0 <= ema_beta < 1.0:
            raise ConfigError(f"ema must be null or a number in [0, 1) (got {ema_beta})")
        self.ema_beta = ema_beta
        # checkpoint: a callable taking the loop's payload (train.py adds RNG and game state, writes it)
        self.checkpoint = checkpoint if checkpoint is not None and checkpoint_every > 0 else None
        self.checkpoint_every = checkpoint_every
        self.oracle = oracle  # the Oracle class (distributed.DistributedOracle in data-parallel runs)
        self.precision = precision  # of the algorithm's first-order evaluations (oracle.py); diagnostics: fp32
        self.cost = CostMeter()
        eq = game.equilibrium()
        self._eq = None if eq is None else (eq.x, eq.y)
        self._plot = game.analytic and game.dim_x + game.dim_y == 2
        _warm_up_torch_func()

    # -- vectorization helpers -----------------------------------------------------------------
    def _oracle(self, batch, step):
        if self.seeds is not None:  # one seed's batches of this step, drawn before the vmapped step
            return self.oracle(self.game, batch[0], self.cost, _Batches(batch[1:]), self.precision)
        sampler = None if self.batched else (lambda: self.game.sample(step))
        return self.oracle(self.game, batch, self.cost, sampler, self.precision)

    def _per_chunk_cost(self):
        """The cost meter counts each traced call, i.e. once per chunk of seeds: back to per step."""
        chunks = -(-len(self.seeds) // self.seed_chunk) if self.seed_chunk else 1
        if chunks > 1:
            self.cost.grads /= chunks
            self.cost.hvps /= chunks

    def _draw(self, step):
        """A multi-seed step's batches: ``algo.batches_per_step`` of every seed, in the order a
        single-seed run draws them (the step's own, then those of ``oracle.next_batch()``)."""
        return [self.game.sample(step) for _ in range(self.algo.batches_per_step)]

    def _per_start(self, t: torch.Tensor) -> torch.Tensor:
        return t if self.batched else t.unsqueeze(0)

    def measure(self, state, batch=None, losses: bool = True) -> dict[str, torch.Tensor]:
        """Per-start diagnostics (not counted as algorithm cost)."""
        def one(x, y, b):
            oracle = self.oracle(self.game, b, CostMeter())
            gx, gy = oracle.field(x, y)
            out = (gx.norm(), gy.norm())
            return out + tuple(oracle.losses(x, y)) if losses else out

        lanes = vmap(one, in_dims=(0, 0, 0 if self.seeds is not None else None), chunk_size=self.seed_chunk)
        values = (lanes if self.batched else one)(state["x"], state["y"], batch)
        names = ("grad_norm/x", "grad_norm/y", "loss/x", "loss/y")
        out = {k: self._per_start(v.detach()) for k, v in zip(names, values)}
        if self._eq is not None:
            X, Y = self._per_start(state["x"]), self._per_start(state["y"])
            out["dist_to_eq"] = ((X - self._eq[0]).pow(2).sum(-1) + (Y - self._eq[1]).pow(2).sum(-1)).sqrt()
        return out

    def _healthy(self, state) -> torch.Tensor:
        X, Y = self._per_start(state["x"]), self._per_start(state["y"])
        finite = torch.isfinite(X).all(-1) & torch.isfinite(Y).all(-1)
        norm = (X.pow(2).sum(-1) + Y.pow(2).sum(-1)).sqrt()
        return finite & (norm <= self.diverge_norm)

    def _criterion(self, state, new, field_norm) -> torch.Tensor:
        """Per start: the quantity compared with tol (at the state the run now holds)."""
        if self.converge_on == "dist_to_eq":
            X, Y = self._per_start(state["x"]), self._per_start(state["y"])
            return ((X - self._eq[0]).pow(2).sum(-1) + (Y - self._eq[1]).pow(2).sum(-1)).sqrt()
        if field_norm is not None:
            # measured at the new iterate; a start frozen this step keeps its old (non-converged) status
            return torch.where(self._healthy(new), field_norm, torch.full_like(field_norm, math.inf))
        m = self.measure(state, self._eval_batch(), losses=False)
        return (m["grad_norm/x"] ** 2 + m["grad_norm/y"] ** 2).sqrt()

    def _select(self, mask, new, old):
        """Per start: new where mask, else old (every leaf of the state)."""
        if not self.batched:
            mask = mask.squeeze(0)
            return tree_map(lambda a, b: torch.where(mask, a, b), new, old)
        return tree_map(lambda a, b: torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b), new, old)

    # -- the loop ---------------------------------------------------------------------------------
    def init_state(self, x0=None, y0=None) -> dict:
        """The algorithm's initial state at (x0, y0), by default the game's initial points."""
        game, algo = self.game, self.algo
        if x0 is None:
            x0, y0 = game.initial_points()
            if not self.batched:
                x0, y0 = x0[0], y0[0]
        if self.seeds is not None:
            init = vmap(lambda x, y, b: algo.init(x, y, self._oracle([b], 0)), chunk_size=self.seed_chunk)
            return init(x0, y0, game.sample(0))
        init = lambda x, y: algo.init(x, y, self._oracle(game.sample(0) if not self.batched else None, 0))  # noqa: E731
        return vmap(init)(x0, y0) if self.batched else init(x0, y0)

    def run(self, initial_state=None, start_step: int = 0, resume: dict | None = None,
            finished: "RunResult | None" = None) -> RunResult:
        """Run to ``steps``. ``resume``: a payload of ``checkpoint_payload`` (a checkpoint) to
        continue exactly where it was taken. ``finished``: an earlier phase's result whose lanes
        that stopped stay stopped (a multi-seed run's seeds that diverged in pretraining)."""
        game = self.game
        if resume is not None:  # never re-initialize: init_state may draw a batch, moving the restored sampler
            loop = _Loop.restore(self, resume)
        else:
            loop = _Loop.start(self, self.init_state() if initial_state is None else initial_state, start_step)
            if finished is not None:
                loop.carry_over(finished)
        self.cost.reset()
        # tol <= 0: no start can converge, so the criterion is never computed; the field norm is
        # fused into the step only when the criterion is the gradient norm
        can_converge = self.tol > 0
        fuse_norm = can_converge and self.converge_on == "grad_norm" and game.analytic
        step = self.stepper(fuse_norm)
        bar = progress.phase(self.title, total=self.steps, unit="steps", initial=loop.t, quiet=not self.progress)
        bar.start()
        outcome, ended = None, False
        try:
            if resume is None:
                self._log_metrics(loop)
            while loop.t < self.steps:
                signals.at_step_boundary()   # data-parallel ranks stop on a signal at one agreed step
                loop.t += 1
                t = loop.t
                running = loop.status == RUNNING
                new, info, field_norm = step(loop.state, t)
                for acc in (loop.window, loop.totals):
                    acc["steps"] += 1
                    acc["grads"] += self.cost.grads
                    acc["hvps"] += self.cost.hvps
                self.cost.reset()
                for key, value in info.items():
                    # a frozen start is still stepped (vectorized), maybe into NaN (a singular solve): not logged
                    value = torch.where(running, self._per_start(value.detach()).float(), math.nan)
                    loop.info_sum[key] = loop.info_sum.get(key, 0) + value
                loop.info_steps += 1
                ok = self._healthy(new)
                diverged_now = running & ~ok
                loop.state = self._select(running & ok, new, loop.state)
                loop.mark(diverged_now, DIVERGED, t)
                if self.ema_beta is not None:
                    loop.ema = self.ema_beta * loop.ema + (1 - self.ema_beta) * loop.state["x"].detach()
                checking = t % self.check_every == 0 or t % self.log_every == 0 or t == self.steps
                if checking and can_converge:
                    converged_now = (loop.status == RUNNING) & (self._criterion(loop.state, new, field_norm) < self.tol)
                    loop.mark(converged_now, CONVERGED, t)
                if loop.traj is not None:
                    loop.traj.append(self._traj_point(loop.state))
                bar.update(1)
                done = checking and not bool((loop.status == RUNNING).any())
                if checking and (t % self.log_every == 0 or t == self.steps or done):
                    self._log_metrics(loop)
                    bar.set_note(_headline(loop.metrics))
                elif checking and self.seeds is not None and bool((loop.open & (loop.status != RUNNING)).any()):
                    self._log_metrics(loop, every_seed=False)   # a seed that stopped: its last row, now
                if self.checkpoint is not None and (done or t % self.checkpoint_every == 0):
                    self.checkpoint(self.checkpoint_payload(loop))
                if done:
                    break
            ended = True
        except KeyboardInterrupt:
            outcome = "interrupted"
            self._log_metrics(loop)
            if self.checkpoint is not None:
                self.checkpoint(self.checkpoint_payload(loop))
        finally:
            bar.close(done=ended)
        if outcome is None:
            outcome = self._overall(loop.status)
            if self.checkpoint is not None and loop.t % self.checkpoint_every:
                self.checkpoint(self.checkpoint_payload(loop))   # the final state, for resume=... steps=more
        totals = loop.totals
        return RunResult(
            status=outcome, step=loop.t, wall_time_s=loop.elapsed(), n_starts=loop.status.numel(),
            start_status=loop.status.cpu(), stop_step=loop.stop_step.cpu(), state=loop.state, metrics=loop.metrics,
            trajectory=None if loop.traj is None else loop.traj.tensor(),
            cost={"grads": totals["grads"], "hvps": totals["hvps"],
                  "grads_per_step": totals["grads"] / max(totals["steps"], 1),
                  "hvps_per_step": totals["hvps"] / max(totals["steps"], 1)},
            ema=loop.ema, seeds=self.seeds, seed_metrics=list(loop.seed_metrics),
            last_row=None if self.seeds is None else loop.last_row.cpu(),
        )

    def stepper(self, fuse_norm: bool = False):
        """The loop's step t: (state, t) -> (new state, info, ‖ξ(new state)‖ per start or None).

        Seeds: every seed's batches drawn, then one vmapped step (in chunks of ``seed_chunk``);
        analytic starts: one vmapped step, with the field norm at the new iterate fused in when the
        runner checks convergence every step (``fuse_norm``); one trajectory: the step itself."""
        game = self.game
        if self.seeds is not None:
            vstep = vmap(lambda s, b: self._step(s, b, 0), chunk_size=self.seed_chunk)

            def step(state, t):
                game.before_step(state["x"], state["y"], t)
                new, info = vstep(state, self._draw(t))
                self._per_chunk_cost()
                return new, info, None
        elif self.batched and fuse_norm:
            vstep = vmap(self._step_and_field_norm)
            step = lambda state, t: vstep(state)  # noqa: E731
        elif self.batched:
            vstep = vmap(lambda s: self._step(s, None, 0))
            step = lambda state, t: (*vstep(state), None)  # noqa: E731
        else:
            def step(state, t):
                game.before_step(state["x"], state["y"], t)
                return (*self._step(state, game.sample(t), t), None)
        return step

    def _step(self, state, batch, t):
        return self.algo.step(state, self._oracle(batch, t))

    def _step_and_field_norm(self, state):
        # analytic games check convergence every step: fuse it into the same vmapped call
        new, info = self._step(state, None, 0)
        gx, gy = Oracle(self.game, None, CostMeter())._field(new["x"], new["y"])
        return new, info, (gx.pow(2).sum() + gy.pow(2).sum()).sqrt()

    def checkpoint_payload(self, loop: "_Loop") -> dict:
        """Everything of the loop a resumed run needs to continue bit for bit (tensors, numbers)."""
        return loop.payload()

    @staticmethod
    def _overall(status: torch.Tensor) -> str:
        if bool((status == CONVERGED).all()):
            return "converged"
        if bool((status == DIVERGED).all()):
            return "diverged"
        if status.numel() == 1 and int(status[0]) == DIVERGED:
            return "diverged"
        return "finished"

    def _traj_point(self, state):
        z = torch.cat([self._per_start(state["x"]), self._per_start(state["y"])], -1)
        return z[: self.plot_starts].detach().clone()

    def _eval_batch(self):
        return None if self.game.analytic else self.game.eval_batch()

    def _log_metrics(self, loop: "_Loop", every_seed: bool = True) -> None:
        if self.seeds is not None:
            self._log_seed_rows(loop, every_seed)
            return
        m = self.measure(loop.state, self._eval_batch())
        metrics: dict[str, float] = {}
        n = loop.status.numel()
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
        x_eval = loop.ema if loop.ema is not None else loop.state["x"]
        for key, value in self.game.extra_metrics(x_eval, loop.state["y"], loop.t).items():
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                metrics[key] = float(value.float().mean())
                metrics[key + "/max"] = float(value.float().max())
            else:
                metrics[key] = float(value)
        if self.log is not None:  # periodic figures (image grids): the game decides when, e.g. every sample_every
            for tag, png in self.game.snapshot(self.log.dir, x_eval, loop.state["y"], loop.t).items():
                self.log.add_figure_png(tag, png, loop.t)
        if n > 1:
            metrics["fraction_converged"] = float((loop.status == CONVERGED).float().mean())
            metrics["fraction_diverged"] = float((loop.status == DIVERGED).float().mean())
        window["steps"], window["grads"], window["hvps"] = 0, 0.0, 0.0
        loop.info_sum.clear()
        loop.info_steps.zero_()
        if self.log is not None:
            self.log.log(loop.t, metrics, loop.elapsed())
        loop.metrics = metrics

    def _log_seed_rows(self, loop: "_Loop", every_seed: bool) -> None:
        """One metrics row per seed whose rows are still open: the row its separate run would log
        now. ``every_seed=False`` (a check step between log steps): only the seeds that stopped
        since their last row, whose separate runs would end here. A seed's rows close after the
        row that follows its stop."""
        rows = loop.open & (loop.status != RUNNING) if not every_seed else loop.open
        lanes = rows.nonzero().flatten().tolist()
        m = self.measure(loop.state, self._eval_batch())
        x_eval = loop.ema if loop.ema is not None else loop.state["x"]
        extra = self.game.metrics_per_seed(x_eval, loop.state["y"], loop.t)
        window = loop.window
        for k in lanes:
            metrics = {key: float(value[k]) for key, value in m.items()}
            if window["steps"]:
                metrics["cost/grads"] = window["grads"] / window["steps"]
                metrics["cost/hvps"] = window["hvps"] / window["steps"]
            steps = int(loop.info_steps[k])
            for key, total in loop.info_sum.items():
                if steps:
                    metrics[f"algo/{key}"] = float(total[k]) / steps
            metrics.update({key: float(value) for key, value in extra[k].items()})
            if self.log is not None:
                self.log.log(loop.t, metrics, loop.elapsed(), seed=self.seeds[k])
            loop.seed_metrics[k] = metrics
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
        loop.open = loop.open & ~(logged & (loop.status != RUNNING))
        if every_seed:
            window["steps"], window["grads"], window["hvps"] = 0, 0.0, 0.0
        rows_so_far = [mm for mm in loop.seed_metrics if mm]   # RunResult.metrics: the mean over seeds
        loop.metrics = {key: sum(mm[key] for mm in rows_so_far) / len(rows_so_far)
                        for key in (rows_so_far[0] if rows_so_far else {}) if all(key in mm for mm in rows_so_far)}


#: metrics shown beside a run's progress (the first few of these it logs)
HEADLINE = ("fid", "is", "w1", "kl", "modes_covered", "dist_to_eq", "fraction_converged", "grad_norm/x", "grad_norm/y")


def _headline(metrics: dict, most: int = 3) -> str:
    shown = [f"{k} {metrics[k]:.4g}" for k in HEADLINE if k in metrics][:most]
    return ", ".join(shown)


class _Loop:
    """The mutable bookkeeping of one run, saved and restored whole by checkpoints."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.metrics: dict[str, float] = {}

    @classmethod
    def start(cls, runner: Runner, state: dict, t: int) -> "_Loop":
        loop = cls(runner)
        n = runner._per_start(state["x"]).shape[0]
        device = state["x"].device
        loop.state, loop.t = state, t
        loop.status = torch.full((n,), RUNNING, dtype=torch.int8, device=device)
        loop.stop_step = torch.full((n,), -1, dtype=torch.long, device=device)
        loop.window = {"steps": 0, "grads": 0.0, "hvps": 0.0}
        loop.totals = {"steps": 0, "grads": 0.0, "hvps": 0.0}
        loop.info_sum = {}
        loop.info_steps = torch.zeros((n,), dtype=torch.long, device=device)   # steps in each lane's info_sum
        loop.ema = state["x"].detach().clone() if runner.ema_beta is not None else None
        loop.traj = TrajectoryLog.start(runner._traj_point(state), runner.trajectory_file) if runner._plot else None
        loop._lanes(n, device)
        loop._t0, loop._offset = time.perf_counter(), 0.0
        return loop

    def _lanes(self, n: int, device, p: dict | None = None) -> None:
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
    def restore(cls, runner: Runner, p: dict) -> "_Loop":
        loop = cls(runner)
        loop.state, loop.t = p["state"], int(p["step"])
        loop.status, loop.stop_step = p["status"], p["stop_step"]
        loop.window, loop.totals = dict(p["window"]), dict(p["totals"])
        loop.info_sum = dict(p["info_sum"])
        n = loop.status.numel()
        loop.info_steps = p.get("info_steps", torch.full((n,), int(loop.window["steps"]), dtype=torch.long,
                                                         device=loop.status.device))
        loop._lanes(n, loop.status.device, p)
        loop.ema = p["ema"]
        if runner.ema_beta is not None and loop.ema is None:
            raise ConfigError("ema is set but the checkpoint was written without it")
        if runner._plot and (p.get("trajectory") is not None or p.get("trajectory_rows") is not None):
            loop.traj = TrajectoryLog.restore(runner._traj_point(loop.state), runner.trajectory_file, p)
        else:
            loop.traj = TrajectoryLog.start(runner._traj_point(loop.state), runner.trajectory_file) \
                if runner._plot else None
        loop.metrics = dict(p["metrics"])
        loop._t0, loop._offset = time.perf_counter(), float(p["wall_time_s"])
        return loop

    def elapsed(self) -> float:
        return self._offset + time.perf_counter() - self._t0

    def mark(self, mask: torch.Tensor, status: int, t: int) -> None:
        self.status = torch.where(mask, torch.full_like(self.status, status), self.status)
        self.stop_step = torch.where(mask, torch.full_like(self.stop_step, t), self.stop_step)

    def payload(self) -> dict:
        return {
            "step": self.t, "state": self.state, "status": self.status, "stop_step": self.stop_step,
            "window": dict(self.window), "totals": dict(self.totals), "info_sum": dict(self.info_sum),
            "ema": self.ema, **({"trajectory": None} if self.traj is None else self.traj.payload()),
            "metrics": dict(self.metrics), "wall_time_s": self.elapsed(),
            "info_steps": self.info_steps, "open": self.open, "last_row": self.last_row,
            "seed_metrics": [dict(m) for m in self.seed_metrics],
        }


class _Batches:
    """``oracle.next_batch()``'s sampler in a multi-seed step: the batches drawn before it, in order."""

    def __init__(self, batches):
        self._rest = iter(batches)

    def __call__(self):
        try:
            return next(self._rest)
        except StopIteration:
            raise RuntimeError("the algorithm drew more batches in one step than its batches_per_step "
                               "says; a multi-seed run draws them before the step") from None
