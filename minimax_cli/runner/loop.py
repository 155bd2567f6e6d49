"""The training loop: one algorithm on one game, its lanes stepped together to the end.

Each lane (lanes.py: one trajectory, N analytic starts, or S seeds) has a status (running →
converged | diverged); a lane that finishes is frozen (a diverged one at its last finite
iterate) and the run stops when no lane is running. Status decisions use tensor masks, so the
host only synchronizes at check and log steps.

Four cadences: the step, every step; the convergence check every ``check_every`` steps; a row
of metrics.jsonl every ``log_every`` steps (rows.py: the algorithm's counted cost and its info,
e.g. the ridge correction's norm), with the evaluation metrics every ``metrics_every`` steps
(gradient norms and losses on the game's evaluation batch, distance to the equilibrium, and the
game's own metrics such as a GAN's W1/KL/modes), which for neural games cost about a training
step each time; and a checkpoint every ``checkpoint_every`` steps. The first, the last and an
interrupted step always get the evaluation metrics, so the summary holds them.
"""

from __future__ import annotations

import math
import time

import torch

from minimax_cli import progress, signals
from minimax_cli.oracle import CostMeter
from minimax_cli.runner.lanes import make_lanes
from minimax_cli.runner.rows import RunRows, SeedRows
from minimax_cli.runner.settings import LoopSettings, default_metrics_every
from minimax_cli.runner.state import CONVERGED, DIVERGED, RunResult, _Loop, overall

#: metrics shown beside a run's progress (the first few of these it logs)
HEADLINE = ("fid", "is", "w1", "kl", "modes_covered", "dist_to_eq", "fraction_converged", "grad_norm/x", "grad_norm/y")


def _warm_up_torch_func():
    """The first torch.func gradient imports torch._dynamo (~2 s, once per process): pay it here,
    outside the run's clock, so wall times measure the algorithm."""
    torch.func.grad(lambda v: (v * v).sum())(torch.ones(1))


def _headline(metrics: dict, most: int = 3) -> str:
    shown = [f"{k} {metrics[k]:.4g}" for k in HEADLINE if k in metrics][:most]
    return ", ".join(shown)


class Runner:
    """Runs ``algo`` on ``game`` as ``settings`` say, trusting them (``LoopSettings`` checks its
    fields; the one rule that needs the set-up game is checks.check_converge_on)."""

    def __init__(self, game, algo, settings: LoopSettings):
        self.game, self.algo, self.settings = game, algo, settings
        self.steps, self.log_every, self.tol = settings.steps, settings.log_every, settings.tol
        self.metrics_every = settings.metrics_every or default_metrics_every(game, settings.log_every)
        # neural games: a check measures the gradient norms on the evaluation batch, as costly as a step
        self.check_every = settings.check_every or (1 if game.analytic else self.metrics_every)
        #: the phase's name in progress lines (train.py: "pretraining ...", "training ...")
        self.title = settings.title or f"training {game.name}/{algo.name}"
        # checkpoint: a callable taking the loop's payload (train.py adds RNG and game state, writes it)
        self.checkpoint = settings.checkpoint if settings.checkpoint_every > 0 else None
        self.cost = CostMeter()
        self.lanes = make_lanes(game, algo, self.cost, settings)
        self.seeds = self.lanes.seeds
        self.rows = SeedRows(self) if self.seeds is not None else RunRows(self)
        self.plotted = game.analytic and game.dim_x + game.dim_y == 2   # a 2-D game keeps its paths for a plot
        _warm_up_torch_func()

    def init_state(self, x0=None, y0=None) -> dict:
        """The algorithm's initial state at (x0, y0), by default the game's initial points."""
        return self.lanes.init_state(x0, y0)

    def stepper(self, known_points: bool = False):
        """The loop's step (lanes.py)."""
        return self.lanes.stepper(known_points)

    def measure(self, state, batch=None, losses: bool = True, field=None) -> dict[str, torch.Tensor]:
        """Per-lane diagnostics (lanes.py)."""
        return self.lanes.measure(state, batch, losses, field)

    def checkpoint_payload(self, loop: _Loop) -> dict:
        """Everything of the loop a resumed run needs to continue bit for bit (tensors, numbers)."""
        return loop.payload()

    def run(self, initial_state=None, start_step: int = 0, resume: dict | None = None,
            finished: RunResult | None = None) -> RunResult:
        """Run to ``steps``. ``resume``: a payload of ``checkpoint_payload`` (a checkpoint) to
        continue exactly where it was taken. ``finished``: an earlier phase's result whose lanes
        that stopped stay stopped (a multi-seed run's seeds that diverged in pretraining)."""
        if resume is not None:  # never re-initialize: init_state may draw a batch, moving the restored sampler
            loop = _Loop.restore(self, resume)
        else:
            loop = _Loop.start(self, self.init_state() if initial_state is None else initial_state, start_step)
            if finished is not None:
                loop.carry_over(finished)
        self.cost.reset()
        # tol <= 0: no start can converge, so the criterion is never computed. Analytic starts
        # always step from the derivatives taken at every start's point at once (whatever the
        # check: under vmap the Oracle's own derivatives cost 2-3x the step, tol=0 included)
        can_converge = self.tol > 0
        known_points = self.lanes.knows_points
        step = self.stepper(known_points)
        if known_points and loop.point is None:
            loop.point = self.lanes.point_at(loop.state)
        bar = progress.phase(self.title, total=self.steps, unit="steps", initial=loop.t,
                             quiet=not self.settings.progress)
        bar.start()
        outcome, ended = None, False
        try:
            with signals.only_between_steps():
                self._loop(loop, resume, step, can_converge, bar)
            ended = True
        except KeyboardInterrupt:
            outcome = "interrupted"
            self.rows.write(loop)
            if self.checkpoint is not None:
                self.checkpoint(self.checkpoint_payload(loop))
        finally:
            bar.close(done=ended)
        if outcome is None:
            outcome = overall(loop.status)
            if self.checkpoint is not None and loop.t % self.settings.checkpoint_every:
                self.checkpoint(self.checkpoint_payload(loop))   # the final state, for resume=... steps=more
        return self._result(loop, outcome)

    def _loop(self, loop, resume, step, can_converge: bool, bar) -> None:
        """The steps, each with its convergence check, rows and checkpoint (a stop signal raises
        KeyboardInterrupt at a step boundary: signals.only_between_steps)."""
        if resume is None:
            self.rows.write(loop)
        while loop.t < self.steps:
            signals.at_step_boundary()   # data-parallel ranks stop on a signal at one agreed step
            loop.t += 1
            self._step(loop, step)
            t = loop.t
            last = t == self.steps
            logging = t % self.log_every == 0 or last
            evaluating = logging and self._evaluates(t)
            checking = t % self.check_every == 0 or last or evaluating   # an evaluation measures anyway
            measured = None
            if checking and can_converge:
                known = None if loop.point is None else loop.point["field"]   # ξ at the state, where the step took it
                if known is None and self.settings.converge_on == "grad_norm" and evaluating:
                    measured = self._timed(loop, self.measure, loop.state, self.eval_batch())  # reused by the row
                loop.mark(loop.running() & (self._criterion_sq(loop.state, known, measured) < self.tol ** 2),
                          CONVERGED, t)
            if loop.traj is not None:
                loop.traj.append(self.traj_point(loop.state))
            bar.update(1)
            done = (checking or logging) and not loop.any_running()
            if logging or done:
                self.rows.write(loop, evaluate=evaluating or done, measured=measured)
                bar.set_note(_headline(loop.metrics))
            elif checking and self.rows.stopped_between_rows(loop):
                # a seed that stopped between rows: its last row now, where its separate run ends
                self.rows.write(loop, evaluate=False, measured=measured, every_seed=False)
            if self.checkpoint is not None and (done or t % self.settings.checkpoint_every == 0):
                self.checkpoint(self.checkpoint_payload(loop))
            if done:
                break

    def _step(self, loop: _Loop, step):
        """Step t of every lane: the algorithm's cost and info booked, lanes that left the
        diverge_norm ball (or became non-finite) frozen at their last iterate, the EMA moved."""
        running = loop.running()
        new, info, point = step(loop.state, loop.t, loop.point)
        for acc in (loop.window, loop.totals):
            acc["steps"] += 1
            acc["grads"] += self.cost.grads
            acc["hvps"] += self.cost.hvps
        self.cost.reset()
        per_start = self.lanes.per_start
        on_cpu = running.device.type == "cpu"
        every_lane = on_cpu and loop.all_running()   # no frozen lane to mask (known without a sync on the CPU)
        for key, value in info.items():
            # a frozen start is still stepped (vectorized), maybe into NaN (a singular solve): not logged
            value = per_start(value.detach()).float()
            if not every_lane:
                value = torch.where(running, value, math.nan)
            loop.info_sum[key] = loop.info_sum.get(key, 0) + value
        if self.seeds is not None:   # a seed's row averages its info over its own steps
            loop.info_steps += 1
        ok = self._healthy(new)
        moving = ok if every_lane else running & ok
        # on the CPU one count (one host sync) tells both whether every lane moves and whether one
        # diverged at this step; on a GPU the masks are applied without asking
        n_moving = int(moving.sum()) if on_cpu else None
        if n_moving == moving.numel():   # the usual step: no copy, nobody stops
            loop.state = new
            if point is not None:
                loop.point = point
        else:
            loop.state = self.lanes.select(moving, new, loop.state)
            if point is not None:
                loop.point = self.lanes.select(moving, point, loop.point)
            if not on_cpu or n_moving < loop.n_running():
                loop.mark(running & ~ok, DIVERGED, loop.t)
        ema_beta = self.settings.ema_beta
        if ema_beta is not None:
            loop.ema = ema_beta * loop.ema + (1 - ema_beta) * loop.state["x"].detach()

    def _result(self, loop: _Loop, outcome: str) -> RunResult:
        totals = loop.totals
        return RunResult(
            status=outcome, step=loop.t, wall_time_s=loop.elapsed(), n_starts=loop.status.numel(),
            metrics_time_s=loop.metrics_time,
            start_status=loop.status.cpu(), stop_step=loop.stop_step.cpu(), state=loop.state, metrics=loop.metrics,
            trajectory=None if loop.traj is None else loop.traj.tensor(),
            cost={"grads": totals["grads"], "hvps": totals["hvps"],
                  "grads_per_step": totals["grads"] / max(totals["steps"], 1),
                  "hvps_per_step": totals["hvps"] / max(totals["steps"], 1)},
            ema=loop.ema, seeds=self.seeds, seed_metrics=list(loop.seed_metrics),
            last_row=None if self.seeds is None else loop.last_row.cpu(),
        )

    def _healthy(self, state) -> torch.Tensor:
        """Per lane: finite and |(x, y)| <= diverge_norm. A NaN or inf entry makes the squared norm
        NaN or inf, which fails the comparison; squares overflow only far beyond any finite bound
        the comparison is done for (below 1e150), else the overflow-safe norm is taken."""
        X, Y = self.lanes.per_start(state["x"]), self.lanes.per_start(state["y"])
        bound = self.settings.diverge_norm
        if bound < 1e150:
            return X.square().sum(-1) + Y.square().sum(-1) <= bound ** 2
        norm = torch.linalg.vector_norm(X, dim=-1).hypot(torch.linalg.vector_norm(Y, dim=-1))
        return torch.isfinite(norm) & (norm <= bound)

    def _criterion_sq(self, state, field=None, measured=None) -> torch.Tensor:
        """Per lane: the square of the quantity compared with tol, at the state the run now holds
        (``field``: ξ there, where the step took it)."""
        if self.settings.converge_on == "dist_to_eq":
            eq = self.lanes.eq
            X, Y = self.lanes.per_start(state["x"]), self.lanes.per_start(state["y"])
            return (X - eq[0]).pow(2).sum(-1) + (Y - eq[1]).pow(2).sum(-1)
        if field is not None:
            gx, gy = field
            return gx.square().flatten(1).sum(1) + gy.square().flatten(1).sum(1)
        m = measured if measured is not None else self.measure(state, self.eval_batch(), losses=False)
        return m["grad_norm/x"] ** 2 + m["grad_norm/y"] ** 2

    def traj_point(self, state):
        """The plotted starts' (x, y) (not a copy of every start per step)."""
        k = self.settings.plot_starts
        per_start = self.lanes.per_start
        return torch.cat([per_start(state["x"])[:k], per_start(state["y"])[:k]], -1).detach()

    def eval_batch(self):
        return None if self.game.analytic else self.game.eval_batch()

    def _evaluates(self, t: int) -> bool:
        """Whether step t gets the evaluation metrics (the last step always does)."""
        return t % self.metrics_every == 0 or t == self.steps

    @staticmethod
    def _timed(loop: _Loop, fn, *args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            loop.metrics_time += time.perf_counter() - started
