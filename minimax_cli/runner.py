"""The training loop: one algorithm on one game, many starts at once for analytic games.

Analytic games run N independent trajectories as one vectorized run: the algorithm's step is
written for a single trajectory and mapped over starts with torch.func.vmap. Each start has a
status (running → converged | diverged); a start that finishes is frozen (a diverged one at its
last finite iterate) and the run stops when no start is running. Status decisions use tensor
masks, so the host only synchronizes at check and log steps (a single CPU trajectory branches in
Python instead: no synchronization to save, and no copy of a large state per step).

Three cadences: a row of metrics.jsonl every ``log_every`` steps (the algorithm's counted cost and
its info, e.g. the ridge correction's norm); the evaluation metrics every ``metrics_every`` steps
(gradient norms and losses on the game's evaluation batch, distance to the equilibrium, and the
game's own metrics such as a GAN's W1/KL/modes), which for neural games cost about a training
step each time; and the convergence check every ``check_every`` steps. The first, the last and an
interrupted step always get the evaluation metrics, so the summary holds them.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import torch
from torch.func import vmap
from torch.utils._pytree import tree_map

from minimax_cli.errors import ConfigError
from minimax_cli.oracle import CostMeter, Oracle

RUNNING, CONVERGED, DIVERGED = 0, 1, 2
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
                 checkpoint=None, checkpoint_every: int = 0, oracle=Oracle, precision: str = "fp32"):
        if converge_on not in CONVERGE_ON:
            raise ConfigError(f"converge_on must be one of {', '.join(CONVERGE_ON)} (got {converge_on!r})")
        if converge_on == "dist_to_eq" and game.equilibrium() is None:
            raise ConfigError(f"converge_on=dist_to_eq needs a game with a known critical point; {game.name} has none")
        self.game, self.algo = game, algo
        self.steps, self.log_every = steps, log_every
        self.tol, self.converge_on, self.diverge_norm = tol, converge_on, diverge_norm
        self.batched = game.analytic
        self.metrics_every = metrics_every or default_metrics_every(game, log_every)
        if self.metrics_every % log_every:
            raise ConfigError(f"metrics_every ({self.metrics_every}) must be a multiple of log_every ({log_every}): "
                              "evaluation metrics go into the rows written every log_every steps")
        # neural games: a check measures the gradient norms on the evaluation batch, as costly as a step
        self.check_every = check_every or (1 if self.batched else self.metrics_every)
        self.progress, self.log, self.plot_starts = progress, log, plot_starts
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
        sampler = None if self.batched else (lambda: self.game.sample(step))
        return self.oracle(self.game, batch, self.cost, sampler, self.precision)

    def _per_start(self, t: torch.Tensor) -> torch.Tensor:
        return t if self.batched else t.unsqueeze(0)

    def measure(self, state, batch=None, losses: bool = True, field=None) -> dict[str, torch.Tensor]:
        """Per-start diagnostics (not counted as algorithm cost). ``field``: ξ at ``state`` where
        the run already has it (an analytic run's convergence check): only the losses are computed."""
        oracle = self.oracle(self.game, batch, CostMeter())

        def one(x, y, known=None):
            if known is not None:
                gx, gy = known
                return (gx.norm(), gy.norm(), *oracle.losses(x, y)) if losses else (gx.norm(), gy.norm())
            if losses:  # the losses from the field's own forward pass where the game allows
                (gx, gy), (lx, ly) = oracle.field_and_losses(x, y)
                return gx.norm(), gy.norm(), lx, ly
            gx, gy = oracle.field(x, y)
            return gx.norm(), gy.norm()

        if self.batched:
            values = vmap(one)(state["x"], state["y"], *([] if field is None else [field]))
        else:
            values = one(state["x"], state["y"], field)
        names = ("grad_norm/x", "grad_norm/y", "loss/x", "loss/y")
        out = {k: self._per_start(v.detach()) for k, v in zip(names, values)}
        if self._eq is not None:
            X, Y = self._per_start(state["x"]), self._per_start(state["y"])
            out["dist_to_eq"] = ((X - self._eq[0]).pow(2).sum(-1) + (Y - self._eq[1]).pow(2).sum(-1)).sqrt()
        return out

    def _healthy(self, state) -> torch.Tensor:
        """Per start: finite and |(x, y)| <= diverge_norm (a NaN or inf entry makes the norm one)."""
        X, Y = self._per_start(state["x"]), self._per_start(state["y"])
        norm = torch.linalg.vector_norm(X, dim=-1).hypot(torch.linalg.vector_norm(Y, dim=-1))
        return torch.isfinite(norm) & (norm <= self.diverge_norm)

    def _criterion(self, state, ok, field_norm, measured=None) -> torch.Tensor:
        """Per start: the quantity compared with tol (at the state the run now holds); ``ok``:
        whether each start's new iterate was healthy (taken)."""
        if self.converge_on == "dist_to_eq":
            X, Y = self._per_start(state["x"]), self._per_start(state["y"])
            return ((X - self._eq[0]).pow(2).sum(-1) + (Y - self._eq[1]).pow(2).sum(-1)).sqrt()
        if field_norm is not None:
            # measured at the new iterate; a start frozen this step keeps its old (non-converged) status
            return torch.where(ok, field_norm, torch.full_like(field_norm, math.inf))
        m = measured if measured is not None else self.measure(state, self._eval_batch(), losses=False)
        return (m["grad_norm/x"] ** 2 + m["grad_norm/y"] ** 2).sqrt()

    def _select(self, mask, new, old):
        """Per start: new where mask, else old (every leaf of the state)."""
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
        init = lambda x, y: algo.init(x, y, self._oracle(game.sample(0) if not self.batched else None, 0))  # noqa: E731
        return vmap(init)(x0, y0) if self.batched else init(x0, y0)

    def run(self, initial_state=None, start_step: int = 0, resume: dict | None = None) -> RunResult:
        """Run to ``steps``. ``resume``: a payload of ``checkpoint_payload`` (a checkpoint) to
        continue exactly where it was taken."""
        game = self.game
        if resume is not None:  # never re-initialize: init_state may draw a batch, moving the restored sampler
            loop = _Loop.restore(self, resume)
        else:
            loop = _Loop.start(self, self.init_state() if initial_state is None else initial_state, start_step)
        self.cost.reset()
        # tol <= 0: no start can converge, so the criterion is never computed; the field norm is
        # fused into the step only when the criterion is the gradient norm
        can_converge = self.tol > 0
        fuse_norm = can_converge and self.converge_on == "grad_norm"
        vstep = None
        if self.batched:
            vstep = vmap(self._step_and_field if fuse_norm else (lambda s: self._step(s, None, 0)))
            if fuse_norm and loop.field is None:
                loop.field = vmap(self._field_at)(loop.state)
        bar = self._progress_bar(loop.t)
        outcome = None
        try:
            if resume is None:
                self._log_metrics(loop)
            while loop.t < self.steps:
                loop.t += 1
                t = loop.t
                running = loop.status == RUNNING
                field_norm = None
                if self.batched and fuse_norm:
                    new, info, field_norm, field = vstep(loop.state, loop.field)
                elif self.batched:
                    new, info = vstep(loop.state)
                else:
                    game.before_step(loop.state["x"], loop.state["y"], t)
                    new, info = self._step(loop.state, game.sample(t), t)
                for acc in (loop.window, loop.totals):
                    acc["steps"] += 1
                    acc["grads"] += self.cost.grads
                    acc["hvps"] += self.cost.hvps
                self.cost.reset()
                for key, value in info.items():
                    value = self._per_start(value.detach()).float()
                    loop.info_sum[key] = loop.info_sum.get(key, 0) + value
                ok = self._healthy(new)
                diverged_now = running & ~ok
                loop.state = self._select(running & ok, new, loop.state)
                if field_norm is not None:
                    loop.field = self._select(running & ok, field, loop.field)
                loop.mark(diverged_now, DIVERGED, t)
                if self.ema_beta is not None:
                    loop.ema = self.ema_beta * loop.ema + (1 - self.ema_beta) * loop.state["x"].detach()
                last = t == self.steps
                logging = t % self.log_every == 0 or last
                evaluating = logging and self._evaluates(t)
                checking = t % self.check_every == 0 or last or evaluating   # an evaluation measures anyway
                measured = None
                if checking and can_converge:
                    if field_norm is None and self.converge_on == "grad_norm" and evaluating:
                        measured = self._timed(loop, self.measure, loop.state, self._eval_batch())  # reused by the row
                    criterion = self._criterion(loop.state, ok, field_norm, measured)
                    loop.mark((loop.status == RUNNING) & (criterion < self.tol), CONVERGED, t)
                if loop.traj is not None:
                    loop.traj.append(self._traj_point(loop.state))
                if bar is not None:
                    bar.update(1)
                done = (checking or logging) and not bool((loop.status == RUNNING).any())
                if logging or done:
                    self._log_metrics(loop, evaluate=evaluating or done, measured=measured)
                if self.checkpoint is not None and (done or t % self.checkpoint_every == 0):
                    self.checkpoint(self.checkpoint_payload(loop))
                if done:
                    break
        except KeyboardInterrupt:
            outcome = "interrupted"
            self._log_metrics(loop)
            if self.checkpoint is not None:
                self.checkpoint(self.checkpoint_payload(loop))
        finally:
            if bar is not None:
                bar.close()
        if outcome is None:
            outcome = self._overall(loop.status)
            if self.checkpoint is not None and loop.t % self.checkpoint_every:
                self.checkpoint(self.checkpoint_payload(loop))   # the final state, for resume=... steps=more
        totals = loop.totals
        return RunResult(
            status=outcome, step=loop.t, wall_time_s=loop.elapsed(), n_starts=loop.status.numel(),
            metrics_time_s=loop.metrics_time,
            start_status=loop.status.cpu(), stop_step=loop.stop_step.cpu(), state=loop.state, metrics=loop.metrics,
            trajectory=None if loop.traj is None else torch.stack(loop.traj).cpu(),
            cost={"grads": totals["grads"], "hvps": totals["hvps"],
                  "grads_per_step": totals["grads"] / max(totals["steps"], 1),
                  "hvps_per_step": totals["hvps"] / max(totals["steps"], 1)},
            ema=loop.ema,
        )

    def _step(self, state, batch, t):
        return self.algo.step(state, self._oracle(batch, t))

    def _field_at(self, state):
        return Oracle(self.game, None, CostMeter())._field(state["x"], state["y"])

    def _step_and_field(self, state, field):
        """One start's step with the field at its state known (computed by the previous step's
        convergence check), and the field and its norm at the new iterate: analytic games check
        convergence every step, and an algorithm that starts from ξ(x_t, y_t) gets it for free."""
        oracle = _KnownField(self.game, self.cost, self.precision, state["x"], state["y"], field)
        new, info = self.algo.step(state, oracle)
        gx, gy = self._field_at(new)
        return new, info, (gx.pow(2).sum() + gy.pow(2).sum()).sqrt(), (gx, gy)

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
        return None if self.batched else self.game.eval_batch()

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

    def _log_metrics(self, loop: "_Loop", evaluate: bool = True, measured=None) -> None:
        """One row: the algorithm's cost and info since the last row, and with ``evaluate`` the
        evaluation metrics (``measured``: the gradient norms of this step's convergence check)."""
        metrics: dict[str, float] = {}
        n = loop.status.numel()
        x_eval = loop.ema if loop.ema is not None else loop.state["x"]
        started = time.perf_counter()
        if evaluate:
            m = measured if measured is not None else self.measure(loop.state, self._eval_batch(), field=loop.field)
            for key, value in m.items():
                metrics[key] = float(value.mean())
                if n > 1:
                    metrics[key + "/max"] = float(value.max())
        window = loop.window
        if window["steps"]:
            metrics["cost/grads"] = window["grads"] / window["steps"]
            metrics["cost/hvps"] = window["hvps"] / window["steps"]
            for key, total in loop.info_sum.items():
                metrics[f"algo/{key}"] = float(total.mean()) / window["steps"]
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
        if self.log is not None:
            self.log.log(loop.t, metrics, loop.elapsed())
        loop.metrics = {**loop.metrics, **metrics} if not evaluate else metrics

    def _progress_bar(self, start):
        if not self.progress or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps, initial=start, delay=2.0, file=sys.stderr, dynamic_ncols=True,
                    desc=f"{self.game.name}/{self.algo.name}", leave=False)


class _KnownField(Oracle):
    """The Oracle of one analytic start whose field at the step's own (x, y) is already known
    (the same computation, done by the last convergence check): asked for exactly that point,
    it returns it, counted as a field evaluation like any other."""

    def __init__(self, game, cost, precision, x, y, field):
        super().__init__(game, None, cost, None, precision)
        self._x, self._y, self._known = x, y, field

    def field(self, x, y):
        if x is self._x and y is self._y:
            self.cost.grads += 1.0
            return self._known
        return super().field(x, y)


class _Loop:
    """The mutable bookkeeping of one run, saved and restored whole by checkpoints (except
    ``field``, the field at the state, recomputed after a restore)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.metrics: dict[str, float] = {}
        self.field = None

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
        loop.ema = state["x"].detach().clone() if runner.ema_beta is not None else None
        loop.traj = [runner._traj_point(state)] if runner._plot else None
        loop._t0, loop._offset = time.perf_counter(), 0.0
        loop.metrics_time = 0.0
        return loop

    @classmethod
    def restore(cls, runner: Runner, p: dict) -> "_Loop":
        loop = cls(runner)
        loop.state, loop.t = p["state"], int(p["step"])
        loop.status, loop.stop_step = p["status"], p["stop_step"]
        loop.window, loop.totals = dict(p["window"]), dict(p["totals"])
        loop.info_sum = dict(p["info_sum"])
        loop.ema = p["ema"]
        if runner.ema_beta is not None and loop.ema is None:
            raise ConfigError("ema is set but the checkpoint was written without it")
        loop.traj = list(p["trajectory"].unbind(0)) if p["trajectory"] is not None else (
            [runner._traj_point(loop.state)] if runner._plot else None)
        loop.metrics = dict(p["metrics"])
        loop._t0, loop._offset = time.perf_counter(), float(p["wall_time_s"])
        loop.metrics_time = float(p.get("metrics_time_s", 0.0))
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
            "ema": self.ema, "trajectory": None if self.traj is None else torch.stack(self.traj),
            "metrics": dict(self.metrics), "wall_time_s": self.elapsed(), "metrics_time_s": self.metrics_time,
        }
