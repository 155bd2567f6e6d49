"""The training loop: one algorithm on one game, many trajectories at once.

A run holds N independent trajectories ("lanes") as one vectorized run: the algorithm's step is
written for a single trajectory and mapped over lanes with torch.func.vmap. Lanes are the starts
of an analytic game (no batch; metrics are aggregated into one row: mean and max over starts) or
the seeds of a neural game (``seeds=S``, games/seeds.py: each step's batches are drawn per seed
and mapped with the state; every seed logs its own rows, with a ``seed`` field, as S separate runs
would). Each lane has a status (running → converged | diverged); a lane that finishes is frozen
(a diverged one at its last finite iterate) and the run stops when no lane is running. Status
decisions use tensor masks, so the host only synchronizes at check and log steps.

Analytic starts are independent, so the derivatives of a loss summed over starts are each start's
own: what a step asks at its own point (the field ξ, which the previous step's convergence check
computed; FR's exact-solve blocks G, G_yx) is taken over all starts at once by plain autograd,
outside vmap, and the vmapped step reads it (``_point_at``, ``_KnownPoint``). Only what depends on
the step's own intermediate points (an extrapolation, a moved leader) is differentiated under vmap.

Three cadences: a row of metrics.jsonl every ``log_every`` steps (the algorithm's counted cost and
its info, e.g. the ridge correction's norm); the evaluation metrics every ``metrics_every`` steps
(gradient norms and losses on the game's evaluation batch, distance to the equilibrium, and the
game's own metrics such as a GAN's W1/KL/modes), which for neural games cost about a training
step each time; and the convergence check every ``check_every`` steps. The first, the last and an
interrupted step always get the evaluation metrics, so the summary holds them.
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


def default_metrics_every(game, log_every: int) -> int:
    """``metrics_every: null``: every row for analytic games (a vectorized evaluation costs about
    one step); for neural games the first multiple of log_every at or above 100 steps (an
    evaluation costs about a training step on the evaluation batch plus the game's metrics, so this
    keeps them within a few percent of a run; seed 000's code logs every 100 iterations)."""
    if game.analytic:
        return log_every
    return log_every * math.ceil(100 / log_every)


class Runner:
    def __init__(self, game, algo, *, steps: int, log_every: int, tol: float,
                 converge_on: str = "grad_norm", diverge_norm: float = 1e6, check_every=None, metrics_every=None,
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
        self.metrics_every = metrics_every or default_metrics_every(game, log_every)
        if self.metrics_every % log_every:
            raise ConfigError(f"metrics_every ({self.metrics_every}) must be a multiple of log_every ({log_every}): "
                              "evaluation metrics go into the rows written every log_every steps")
        # neural games: a check measures the gradient norms on the evaluation batch, as costly as a step
        self.check_every = check_every or (1 if game.analytic else self.metrics_every)
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
        self._blocks = game.analytic and algo.point_blocks(game)   # _point_at computes them for the step
        #: f written for N starts at once (zero-sum analytic games that have it): no vmap of the loss
        self._f_over_starts = getattr(game, "f_over_starts", None) if game.zero_sum else None
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

    def measure(self, state, batch=None, losses: bool = True, field=None) -> dict[str, torch.Tensor]:
        """Per-lane diagnostics (not counted as algorithm cost). ``batch``: the evaluation batch (per
        seed in a multi-seed run). ``field``: ξ at ``state`` where the run already has it (an
        analytic run's convergence check): only the losses are computed."""
        def one(x, y, b, known=None):
            oracle = self.oracle(self.game, b, CostMeter())
            if known is not None:
                gx, gy = known
                return (gx.norm(), gy.norm(), *oracle.losses(x, y)) if losses else (gx.norm(), gy.norm())
            if losses:  # the losses from the field's own forward pass where the game allows
                (gx, gy), (lx, ly) = oracle.field_and_losses(x, y)
                return gx.norm(), gy.norm(), lx, ly
            gx, gy = oracle.field(x, y)
            return gx.norm(), gy.norm()

        if self.seeds is not None:
            values = vmap(one, chunk_size=self.seed_chunk)(state["x"], state["y"], batch)
        elif self.batched:   # analytic starts: every start at once, without vmap's wrappers
            gx, gy = field if field is not None else self._point_at(state, blocks=False)["field"]
            values = (torch.linalg.vector_norm(gx.flatten(1), dim=1), torch.linalg.vector_norm(gy.flatten(1), dim=1))
            if losses:
                values += self._losses_over_starts(state["x"].detach(), state["y"].detach())
        else:
            values = one(state["x"], state["y"], batch, field)
        names = ("grad_norm/x", "grad_norm/y", "loss/x", "loss/y")
        out = {k: self._per_start(v.detach()) for k, v in zip(names, values)}
        if self._eq is not None:
            X, Y = self._per_start(state["x"]), self._per_start(state["y"])
            out["dist_to_eq"] = ((X - self._eq[0]).pow(2).sum(-1) + (Y - self._eq[1]).pow(2).sum(-1)).sqrt()
        return out

    def _healthy(self, state) -> torch.Tensor:
        """Per start: finite and |(x, y)| <= diverge_norm. A NaN or inf entry makes the squared norm
        NaN or inf, which fails the comparison; squares overflow only far beyond any finite bound
        the comparison is done for (below 1e150), else the overflow-safe norm is taken."""
        X, Y = self._per_start(state["x"]), self._per_start(state["y"])
        if self.diverge_norm < 1e150:
            return X.square().sum(-1) + Y.square().sum(-1) <= self.diverge_norm ** 2
        norm = torch.linalg.vector_norm(X, dim=-1).hypot(torch.linalg.vector_norm(Y, dim=-1))
        return torch.isfinite(norm) & (norm <= self.diverge_norm)

    def _criterion_sq(self, state, field_sq, measured=None) -> torch.Tensor:
        """Per start: the square of the quantity compared with tol, at the state the run now holds
        (``field_sq``: ‖ξ‖² there, when the step computed it)."""
        if self.converge_on == "dist_to_eq":
            X, Y = self._per_start(state["x"]), self._per_start(state["y"])
            return (X - self._eq[0]).pow(2).sum(-1) + (Y - self._eq[1]).pow(2).sum(-1)
        if field_sq is not None:
            return field_sq
        m = measured if measured is not None else self.measure(state, self._eval_batch(), losses=False)
        return m["grad_norm/x"] ** 2 + m["grad_norm/y"] ** 2

    def _select(self, mask, new, old):
        """Per start: new where mask, else old (every leaf of the state). The loop takes ``new``
        itself when every start moves on the CPU (the usual step), without calling this."""
        if not self.batched:
            mask = mask.squeeze(0)
            if mask.device.type == "cpu":  # nothing to synchronize: no per-step copy of the whole state
                return new if bool(mask) else old
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
        if fuse_norm and loop.point is None:
            loop.point = self._point_at(loop.state)
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
                running = loop.running()
                new, info, field_sq, point = step(loop.state, t, loop.point)
                for acc in (loop.window, loop.totals):
                    acc["steps"] += 1
                    acc["grads"] += self.cost.grads
                    acc["hvps"] += self.cost.hvps
                self.cost.reset()
                for key, value in info.items():
                    # a frozen start is still stepped (vectorized), maybe into NaN (a singular solve): not logged
                    value = torch.where(running, self._per_start(value.detach()).float(), math.nan)
                    loop.info_sum[key] = loop.info_sum.get(key, 0) + value
                if self.seeds is not None:   # a seed's row averages its info over its own steps
                    loop.info_steps += 1
                ok = self._healthy(new)
                moving = running & ok
                if moving.device.type == "cpu" and bool(moving.all()):   # the usual step: no copy, nobody stops
                    loop.state = new
                    if field_sq is not None:
                        loop.point = point
                else:
                    loop.state = self._select(moving, new, loop.state)
                    if field_sq is not None:
                        loop.point = self._select(moving, point, loop.point)
                    loop.mark(running & ~ok, DIVERGED, t)
                if self.ema_beta is not None:
                    loop.ema = self.ema_beta * loop.ema + (1 - self.ema_beta) * loop.state["x"].detach()
                last = t == self.steps
                logging = t % self.log_every == 0 or last
                evaluating = logging and self._evaluates(t)
                checking = t % self.check_every == 0 or last or evaluating   # an evaluation measures anyway
                measured = None
                if checking and can_converge:
                    if field_sq is None and self.converge_on == "grad_norm" and evaluating:
                        measured = self._timed(loop, self.measure, loop.state, self._eval_batch())  # reused by the row
                    loop.mark(loop.running() & (self._criterion_sq(loop.state, field_sq, measured) < self.tol ** 2),
                              CONVERGED, t)
                if loop.traj is not None:
                    loop.traj.append(self._traj_point(loop.state))
                bar.update(1)
                done = (checking or logging) and not loop.any_running()
                if logging or done:
                    self._log_metrics(loop, evaluate=evaluating or done, measured=measured)
                    bar.set_note(_headline(loop.metrics))
                elif checking and self.seeds is not None and bool((loop.open & (loop.status != RUNNING)).any()):
                    # a seed that stopped between rows: its last row now, where its separate run ends
                    self._log_metrics(loop, evaluate=False, measured=measured, every_seed=False)
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
            metrics_time_s=loop.metrics_time,
            start_status=loop.status.cpu(), stop_step=loop.stop_step.cpu(), state=loop.state, metrics=loop.metrics,
            trajectory=None if loop.traj is None else loop.traj.tensor(),
            cost={"grads": totals["grads"], "hvps": totals["hvps"],
                  "grads_per_step": totals["grads"] / max(totals["steps"], 1),
                  "hvps_per_step": totals["hvps"] / max(totals["steps"], 1)},
            ema=loop.ema, seeds=self.seeds, seed_metrics=list(loop.seed_metrics),
            last_row=None if self.seeds is None else loop.last_row.cpu(),
        )

    def stepper(self, fuse_norm: bool = False):
        """The loop's step t: (state, t, derivatives at state or None) -> (new state, info,
        ‖ξ(new state)‖² per start or None, derivatives at the new state or None).

        Seeds: every seed's batches drawn, then one vmapped step (in chunks of ``seed_chunk``);
        analytic starts: one vmapped step, with ``_point_at`` the new iterate fused in when the
        runner checks convergence every step (``fuse_norm``; the next step starts from it);
        one trajectory: the step itself."""
        game = self.game
        if self.seeds is not None:
            vstep = _LaneMap(lambda s, b: self._step(s, b, 0), chunk_size=self.seed_chunk)

            def step(state, t, known=None):
                game.before_step(state["x"], state["y"], t)
                new, info = vstep(state, self._draw(t))
                self._per_chunk_cost()
                return new, info, None, None
        elif self.batched and fuse_norm:
            vstep = _LaneMap(self._step_known)

            def step(state, t, known=None):
                new, info = vstep(state, self._point_at(state) if known is None else known)
                point = self._point_at(new)
                gx, gy = point["field"]
                return new, info, gx.square().flatten(1).sum(1) + gy.square().flatten(1).sum(1), point
        elif self.batched:
            vstep = _LaneMap(lambda s: self._step(s, None, 0))
            step = lambda state, t, known=None: (*vstep(state), None, None)  # noqa: E731
        else:
            def step(state, t, known=None):
                game.before_step(state["x"], state["y"], t)
                return (*self._step(state, game.sample(t), t), None, None)
        return step

    def _step(self, state, batch, t):
        return self.algo.step(state, self._oracle(batch, t))

    def _summed(self, loss):
        """A player's loss summed over starts, (N, n), (N, m) -> scalar: ``f_over_starts`` where
        the game writes f for N starts at once (elementwise), else the loss vmapped."""
        elementwise = self._f_over_starts
        if elementwise is not None and loss == "x":
            return lambda xs, ys: elementwise(xs, ys).sum()
        single = getattr(Oracle(self.game, None, CostMeter()), f"loss_{loss}")
        return lambda xs, ys: vmap(single)(xs, ys).sum()

    def _losses_over_starts(self, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
        """(L_x, L_y) at every start, (N,) each."""
        if self._f_over_starts is not None:
            f = self._f_over_starts(X, Y)
            return f, -f
        return vmap(Oracle(self.game, None, CostMeter()).losses)(X, Y)

    def _point_at(self, state, blocks: bool | None = None) -> dict:
        """What a step asks at each start's own state, for every start at once: the field ξ and,
        where the algorithm takes them there (``algo.point_blocks``), the follower's Hessian blocks
        G = ∇²_yy L_y, (N, m, m), and G_yx = ∇²_yx L_y, (N, m, n). The starts are independent, so
        the derivatives of a loss summed over starts are each start's own: one plain autograd
        backward pass for ξ (half the cost of torch.func's per-operation wrappers under vmap), and
        for the blocks one more per follower coordinate through ∇_y L_y's graph, which is what a
        hand-vectorized loop does."""
        blocks = self._blocks if blocks is None else blocks
        x, y = state["x"].detach(), state["y"].detach()
        with torch.enable_grad():
            X, Y = x.requires_grad_(), y.requires_grad_()
            sign = -1.0 if self.game.zero_sum else 1.0   # zero-sum: ∇_y L_y = −∇_y f, from f's pass
            if self.game.zero_sum:   # one backward pass gives both players' gradients
                gx, gy = _grads(self._summed("x")(X, Y), (X, Y), create_graph=blocks)
            else:
                (gx,) = _grads(self._summed("x")(X, Y), (X,))
                (gy,) = _grads(self._summed("y")(X, Y), (Y,), create_graph=blocks)
            point = {"field": (gx.detach(), sign * gy.detach())}
            if blocks:   # row j of both blocks: ∇ of Σ_starts ∂_{y_j} L_y (= sign · ∂_{y_j} of what gy differentiates)
                m = y.shape[-1]
                rows = [_grads(gy, (X, Y), retain_graph=j + 1 < m, seed=_unit(gy, j, sign)) for j in range(m)]
                point["G_yx"], point["G"] = (torch.stack([r[k] for r in rows], dim=1) if m > 1 else rows[0][k].unsqueeze(1)
                                             for k in (0, 1))
        return point

    def _step_known(self, state, point):
        """One start's step with what it asks at its own state known (``_point_at``, computed by
        the previous step's convergence check): analytic games check convergence every step, and
        an algorithm that starts from ξ(x_t, y_t) gets it for free."""
        oracle = _KnownPoint(self.game, self.cost, self.precision, state["x"], state["y"], point)
        return self.algo.step(state, oracle)

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
        k = self.plot_starts   # the plotted starts only (not a copy of every start per step)
        return torch.cat([self._per_start(state["x"])[:k], self._per_start(state["y"])[:k]], -1).detach()

    def _eval_batch(self):
        return None if self.game.analytic else self.game.eval_batch()

    def _evaluates(self, t: int) -> bool:
        """Whether step t gets the evaluation metrics (the last step always does)."""
        return t % self.metrics_every == 0 or t == self.steps

    @staticmethod
    def _timed(loop: "_Loop", fn, *args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            loop.metrics_time += time.perf_counter() - started

    def _log_metrics(self, loop: "_Loop", evaluate: bool = True, measured=None, every_seed: bool = True) -> None:
        """One row: the algorithm's cost and info since the last row, and with ``evaluate`` the
        evaluation metrics (``measured``: the gradient norms of this step's convergence check)."""
        if self.seeds is not None:
            self._log_seed_rows(loop, every_seed, evaluate, measured)
            return
        metrics: dict[str, float] = {}
        n = loop.status.numel()
        x_eval = loop.ema if loop.ema is not None else loop.state["x"]
        started = time.perf_counter()
        if evaluate:
            m = measured if measured is not None else self.measure(loop.state, self._eval_batch(),
                                                                      field=None if loop.point is None else loop.point["field"])
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

    def _log_seed_rows(self, loop: "_Loop", every_seed: bool, evaluate: bool, measured=None) -> None:
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
            m = measured if measured is not None else self.measure(loop.state, self._eval_batch())
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


#: metrics shown beside a run's progress (the first few of these it logs)
HEADLINE = ("fid", "is", "w1", "kl", "modes_covered", "dist_to_eq", "fraction_converged", "grad_norm/x", "grad_norm/y")


def _headline(metrics: dict, most: int = 3) -> str:
    shown = [f"{k} {metrics[k]:.4g}" for k in HEADLINE if k in metrics][:most]
    return ", ".join(shown)


class _KnownPoint(Oracle):
    """The Oracle of one analytic start whose derivatives at the step's own (x, y) are already
    known (``Runner._point_at``: the field, done by the last convergence check, and the follower's
    Hessian blocks where the algorithm takes them): asked at exactly that point, it answers from
    them, counted as the Oracle counts the same request."""

    def __init__(self, game, cost, precision, x, y, point):
        super().__init__(game, None, cost, None, precision)
        self._x, self._y, self._point = x, y, point

    def _known(self, x, y, key):
        return self._point.get(key) if x is self._x and y is self._y else None

    def field(self, x, y):
        known = self._known(x, y, "field")
        if known is None:
            return super().field(x, y)
        self.cost.grads += 1.0
        return known

    def grad_x(self, x, y):
        known = self._known(x, y, "field")
        if known is None:
            return super().grad_x(x, y)
        self.cost.grads += 0.5
        return known[0]

    def grad_y(self, x, y):
        known = self._known(x, y, "field")
        if known is None:
            return super().grad_y(x, y)
        self.cost.grads += 0.5
        return known[1]

    def hess_yy(self, x, y):
        G = self._known(x, y, "G")
        if G is None:
            return super().hess_yy(x, y)
        self.cost.hvps += float(y.shape[-1])
        return G

    def hvp_yy(self, x, y, v):
        G = self._known(x, y, "G")
        if G is None:
            return super().hvp_yy(x, y, v)
        self.cost.hvps += 1.0
        return G @ v

    def hvp_yx(self, x, y, u, with_grad: bool = False):
        G_yx = self._known(x, y, "G_yx")
        if G_yx is None:
            return super().hvp_yx(x, y, u, with_grad)
        self.cost.hvps += 1.0
        if with_grad:
            self.cost.grads += 0.5
            return self._point["field"][1], G_yx @ u
        return G_yx @ u

    def hvp_xy_follower(self, x, y, v):
        G_yx = self._known(x, y, "G_yx")
        if G_yx is None:
            return super().hvp_xy_follower(x, y, v)
        self.cost.hvps += 1.0
        return G_yx.T @ v   # ∇²_xy L_y = (∇²_yx L_y)ᵀ


class _LaneMap:
    """vmap(fn) over lanes, handed flat tuples of tensors: the argument and result trees (the
    algorithm's state, info: dicts, tuples, lists of tensors) are flattened here by ``_flatten``,
    for a fraction of what torch's general pytree handling inside vmap costs (in_dims broadcast
    over nested dicts: ~0.08 ms of a 1.3 ms GDA step on 10,000 g3 starts)."""

    def __init__(self, fn, chunk_size: int | None = None):
        self.fn = fn
        self._mapped = vmap(self._flat, chunk_size=chunk_size)
        self._in_spec = self._out_spec = None

    def __call__(self, *trees):
        leaves = []
        self._in_spec = _flatten(trees, leaves)
        out = self._mapped(*leaves)   # sets _out_spec
        return _unflatten(self._out_spec, iter(out))

    def _flat(self, *leaves):
        out = []
        self._out_spec = _flatten(self.fn(*_unflatten(self._in_spec, iter(leaves))), out)
        return tuple(out)


def _flatten(tree, leaves: list):
    """The structure of a tree of dicts, tuples and lists (None: an empty node), its tensors
    appended to ``leaves`` in order."""
    if isinstance(tree, dict):
        return dict, tuple(tree), tuple(_flatten(v, leaves) for v in tree.values())
    if isinstance(tree, (tuple, list)):
        return type(tree), None, tuple(_flatten(v, leaves) for v in tree)
    if tree is None:
        return None
    leaves.append(tree)
    return ()


def _unflatten(spec, leaves):
    if spec is None:
        return None
    if not spec:
        return next(leaves)
    kind, keys, children = spec
    if kind is dict:
        return {k: _unflatten(c, leaves) for k, c in zip(keys, children)}
    return kind(_unflatten(c, leaves) for c in children)


def _grads(value, inputs, create_graph: bool = False, retain_graph: bool | None = None, seed=None):
    """torch.autograd.grad of a scalar (or of Σ seed·value), zeros for inputs it does not depend on."""
    if not value.requires_grad:
        return tuple(torch.zeros_like(i) for i in inputs)
    out = torch.autograd.grad(value, inputs, seed, create_graph=create_graph, retain_graph=retain_graph,
                              allow_unused=True)
    return tuple(torch.zeros_like(i) if g is None else g for i, g in zip(inputs, out))


def _unit(g: torch.Tensor, j: int, value: float) -> torch.Tensor:
    """``value`` in column j of g's shape (N, m), zeros elsewhere."""
    if g.shape[-1] == 1:
        return torch.full_like(g, value)
    seed = torch.zeros_like(g)
    seed[:, j] = value
    return seed


class _Loop:
    """The mutable bookkeeping of one run, saved and restored whole by checkpoints (except
    ``point``, the derivatives at the state, recomputed after a restore)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.metrics: dict[str, float] = {}
        self.point = None

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
        loop.metrics_time = 0.0
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
        self._status, self._running, self._any_running = value, None, None

    def running(self) -> torch.Tensor:
        """status == RUNNING, computed once per change of the statuses."""
        if self._running is None:
            self._running = self._status == RUNNING
        return self._running

    def any_running(self) -> bool:
        if self._any_running is None:
            self._any_running = bool(self.running().any())
        return self._any_running

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
