"""The training loop: one algorithm on one game, many starts at once for analytic games.

Analytic games run N independent trajectories as one vectorized run: the algorithm's step is
written for a single trajectory and mapped over starts with torch.func.vmap. Each start has a
status (running → converged | diverged); a start that finishes is frozen (a diverged one at its
last finite iterate) and the run stops when no start is running. Status decisions use tensor
masks, so the host only synchronizes at check and log steps.
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
    trajectory: torch.Tensor | None = None   # (T, P, dim_x + dim_y) for plotting, P <= plot_starts
    cost: dict = field(default_factory=dict)

    def fractions(self) -> dict:
        n = float(self.n_starts)
        return {
            "fraction_converged": int((self.start_status == CONVERGED).sum()) / n,
            "fraction_diverged": int((self.start_status == DIVERGED).sum()) / n,
        }


class Runner:
    def __init__(self, game, algo, *, steps: int, log_every: int, tol: float,
                 converge_on: str = "grad_norm", diverge_norm: float = 1e6, check_every=None,
                 progress: bool = True, log=None, plot_starts: int = 16):
        if converge_on not in CONVERGE_ON:
            raise ConfigError(f"converge_on must be one of {', '.join(CONVERGE_ON)} (got {converge_on!r})")
        if converge_on == "dist_to_eq" and game.equilibrium() is None:
            raise ConfigError(f"converge_on=dist_to_eq needs a game with a known critical point; {game.name} has none")
        self.game, self.algo = game, algo
        self.steps, self.log_every = steps, log_every
        self.tol, self.converge_on, self.diverge_norm = tol, converge_on, diverge_norm
        self.batched = game.analytic
        self.check_every = check_every or (1 if self.batched else log_every)
        self.progress, self.log, self.plot_starts = progress, log, plot_starts
        self.cost = CostMeter()
        eq = game.equilibrium()
        self._eq = None if eq is None else (eq.x, eq.y)
        self._plot = game.analytic and game.dim_x + game.dim_y == 2
        _warm_up_torch_func()

    # -- vectorization helpers -----------------------------------------------------------------
    def _oracle(self, batch, step):
        sampler = None if self.batched else (lambda: self.game.sample(step))
        return Oracle(self.game, batch, self.cost, sampler)

    def _per_start(self, t: torch.Tensor) -> torch.Tensor:
        return t if self.batched else t.unsqueeze(0)

    def measure(self, state, batch=None, losses: bool = True) -> dict[str, torch.Tensor]:
        """Per-start diagnostics (not counted as algorithm cost)."""
        oracle = Oracle(self.game, batch, CostMeter())

        def one(x, y):
            gx, gy = oracle.field(x, y)
            out = (gx.norm(), gy.norm())
            return out + tuple(oracle.losses(x, y)) if losses else out

        values = (vmap(one) if self.batched else one)(state["x"], state["y"])
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
        init = lambda x, y: algo.init(x, y, self._oracle(game.sample(0) if not self.batched else None, 0))  # noqa: E731
        return vmap(init)(x0, y0) if self.batched else init(x0, y0)

    def run(self, initial_state=None, start_step: int = 0) -> RunResult:
        game, algo = self.game, self.algo
        state = self.init_state() if initial_state is None else initial_state
        self.cost.reset()
        n = self._per_start(state["x"]).shape[0]
        device = state["x"].device
        status = torch.full((n,), RUNNING, dtype=torch.int8, device=device)
        stop_step = torch.full((n,), -1, dtype=torch.long, device=device)

        def step_fn(s, batch, t):
            oracle = self._oracle(batch, t)
            return algo.step(s, oracle)

        def step_and_field_norm(s):
            # analytic games check convergence every step: fuse it into the same vmapped call
            new, info = step_fn(s, None, 0)
            gx, gy = Oracle(game, None, CostMeter())._field(new["x"], new["y"])
            return new, info, (gx.pow(2).sum() + gy.pow(2).sum()).sqrt()

        # tol <= 0: no start can converge, so the criterion is never computed; the field norm is
        # fused into the step only when the criterion is the gradient norm
        can_converge = self.tol > 0
        fuse_norm = can_converge and self.converge_on == "grad_norm"
        vstep = vmap(step_and_field_norm if fuse_norm else (lambda s: step_fn(s, None, 0))) if self.batched else None
        traj = [self._traj_point(state)] if self._plot else None
        info_sum: dict[str, torch.Tensor] = {}
        window = {"steps": 0, "grads": 0.0, "hvps": 0.0}
        totals = {"steps": 0, "grads": 0.0, "hvps": 0.0}
        metrics: dict[str, float] = {}
        t0 = time.perf_counter()
        t = start_step
        outcome = None
        bar = self._progress_bar(start_step)

        def log_now(step):
            nonlocal metrics
            metrics = self._log_metrics(step, state, status, info_sum, window, t0)

        try:
            log_now(t)
            while t < self.steps:
                t += 1
                running = status == RUNNING
                field_norm = None
                if self.batched and fuse_norm:
                    new, info, field_norm = vstep(state)
                elif self.batched:
                    new, info = vstep(state)
                else:
                    new, info = step_fn(state, game.sample(t), t)
                for acc in (window, totals):
                    acc["steps"] += 1
                    acc["grads"] += self.cost.grads
                    acc["hvps"] += self.cost.hvps
                self.cost.reset()
                for key, value in info.items():
                    value = self._per_start(value.detach()).float()
                    info_sum[key] = info_sum.get(key, 0) + value
                ok = self._healthy(new)
                diverged_now = running & ~ok
                state = self._select(running & ok, new, state)
                status = torch.where(diverged_now, torch.full_like(status, DIVERGED), status)
                stop_step = torch.where(diverged_now, torch.full_like(stop_step, t), stop_step)
                checking = t % self.check_every == 0 or t % self.log_every == 0 or t == self.steps
                if checking and can_converge:
                    converged_now = (status == RUNNING) & (self._criterion(state, new, field_norm) < self.tol)
                    status = torch.where(converged_now, torch.full_like(status, CONVERGED), status)
                    stop_step = torch.where(converged_now, torch.full_like(stop_step, t), stop_step)
                if traj is not None:
                    traj.append(self._traj_point(state))
                if bar is not None:
                    bar.update(1)
                if checking:
                    done = not bool((status == RUNNING).any())
                    if t % self.log_every == 0 or t == self.steps or done:
                        log_now(t)
                    if done:
                        break
        except KeyboardInterrupt:
            outcome = "interrupted"
            log_now(t)
        finally:
            if bar is not None:
                bar.close()
        wall = time.perf_counter() - t0
        if outcome is None:
            outcome = self._overall(status)
        return RunResult(
            status=outcome, step=t, wall_time_s=wall, n_starts=n, start_status=status.cpu(),
            stop_step=stop_step.cpu(), state=state, metrics=metrics,
            trajectory=None if traj is None else torch.stack(traj).cpu(),
            cost={"grads": totals["grads"], "hvps": totals["hvps"],
                  "grads_per_step": totals["grads"] / max(totals["steps"], 1),
                  "hvps_per_step": totals["hvps"] / max(totals["steps"], 1)},
        )

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

    def _log_metrics(self, step, state, status, info_sum, window, t0) -> dict[str, float]:
        m = self.measure(state, self._eval_batch())
        metrics: dict[str, float] = {}
        n = status.numel()
        for key, value in m.items():
            metrics[key] = float(value.mean())
            if n > 1:
                metrics[key + "/max"] = float(value.max())
        if window["steps"]:
            metrics["cost/grads"] = window["grads"] / window["steps"]
            metrics["cost/hvps"] = window["hvps"] / window["steps"]
            for key, total in info_sum.items():
                metrics[f"algo/{key}"] = float(total.mean()) / window["steps"]
        for key, value in self.game.extra_metrics(state["x"], state["y"], step).items():
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                metrics[key] = float(value.float().mean())
                metrics[key + "/max"] = float(value.float().max())
            else:
                metrics[key] = float(value)
        if n > 1:
            metrics["fraction_converged"] = float((status == CONVERGED).float().mean())
            metrics["fraction_diverged"] = float((status == DIVERGED).float().mean())
        window["steps"], window["grads"], window["hvps"] = 0, 0.0, 0.0
        info_sum.clear()
        if self.log is not None:
            self.log.log(step, metrics, time.perf_counter() - t0)
        return metrics

    def _progress_bar(self, start):
        if not self.progress or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps, initial=start, delay=2.0, file=sys.stderr, dynamic_ncols=True,
                    desc=f"{self.game.name}/{self.algo.name}", leave=False)
