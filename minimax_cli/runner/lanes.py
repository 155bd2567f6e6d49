"""The lanes of a run: how its trajectories are laid out, initialized, stepped and measured.

A run holds N independent trajectories ("lanes"); one of three layouts is chosen once, at the
runner's construction (``make_lanes``):

    OneTrajectory   a neural game's single run: the step itself, on the step's batch
    AnalyticStarts  N starts of an analytic game (no batch): the step written for one start and
                    vmapped; with a convergence check every step the field (and FR's follower
                    blocks) at every start's point is taken for all starts at once and the step
                    reads it (points.py, oracle.KnownPointOracle)
    SeedStack       S seeds of a neural game (games/seeds.py): each step's batches drawn per seed,
                    then one vmapped step (in chunks of ``seed_chunk`` seeds)

Every layout answers the same questions: its per-lane view of a tensor, the initial state, the
step function, the diagnostics, and the per-lane choice between two states.
"""

from __future__ import annotations

import torch
from torch.func import vmap
from torch.utils._pytree import tree_map

from minimax_cli.oracle import CostMeter, KnownPointOracle
from minimax_cli.runner.lanemap import LaneMap, flatten_tree, leaves_as, unflatten_tree
from minimax_cli.runner.points import StartPoints

MEASURED = ("grad_norm/x", "grad_norm/y", "loss/x", "loss/y")


class Lanes:
    """The interface (and what the layouts share): the game, the algorithm, the cost meter the
    algorithm's requests are counted on, and the Oracle class and precision it is asked with."""

    seeds = None            # a multi-seed run: the seed of each lane
    knows_points = False    # whether the step can start from derivatives known at its point

    def __init__(self, game, algo, cost: CostMeter, settings):
        self.game, self.algo, self.cost = game, algo, cost
        self.oracle_class, self.precision = settings.oracle, settings.precision
        eq = game.equilibrium()
        self.eq = None if eq is None else (eq.x, eq.y)

    def per_start(self, t: torch.Tensor) -> torch.Tensor:
        """t with a leading lane dimension."""
        return t

    def init_state(self, x0=None, y0=None) -> dict:
        raise NotImplementedError

    def stepper(self, known_points: bool = False):
        """The loop's step t: (state, t, derivatives at state or None) -> (new state, info,
        derivatives at the new state or None).
        ``known_points`` (analytic starts): the derivatives at every start's point are taken
        over all starts at once, and the step reads them."""
        raise NotImplementedError

    def measure(self, state, batch=None, losses: bool = True, field=None) -> dict[str, torch.Tensor]:
        """Per-lane diagnostics (not counted as algorithm cost). ``batch``: the evaluation batch (per
        seed in a multi-seed run). ``field``: ξ at ``state`` where the run already has it (an
        analytic run's convergence check): only the losses are computed."""
        values = self._norms_and_losses(state, batch, losses, field)
        out = {k: self.per_start(v.detach()) for k, v in zip(MEASURED, values)}
        if self.eq is not None:
            X, Y = self.per_start(state["x"]), self.per_start(state["y"])
            out["dist_to_eq"] = ((X - self.eq[0]).pow(2).sum(-1) + (Y - self.eq[1]).pow(2).sum(-1)).sqrt()
        return out

    def _norms_and_losses(self, state, batch, losses: bool, field):
        raise NotImplementedError

    def _measure_one(self, x, y, b, losses: bool, known=None):
        """(‖ξ_x‖, ‖ξ_y‖[, L_x, L_y]) of one trajectory on batch b (``known``: ξ there)."""
        oracle = self.oracle_class(self.game, b, CostMeter())
        if known is not None:
            gx, gy = known
            return (gx.norm(), gy.norm(), *oracle.losses(x, y)) if losses else (gx.norm(), gy.norm())
        if losses:  # the losses from the field's own forward pass where the game allows
            (gx, gy), (lx, ly) = oracle.field_and_losses(x, y)
            return gx.norm(), gy.norm(), lx, ly
        gx, gy = oracle.field(x, y)
        return gx.norm(), gy.norm()

    def select(self, mask, new, old):
        """Per lane: new where mask, else old (every leaf of the state). The loop takes ``new``
        itself when every lane moves on the CPU (the usual step), without calling this. Flat
        leaves (lanemap.py) instead of tree_map: once a start has stopped this runs every step."""
        new_leaves, old_leaves = [], []
        spec = flatten_tree(new, new_leaves)
        leaves_as(spec, old, old_leaves)   # matched by key, as dicts may order them differently
        views = {}   # the mask shaped for each leaf's rank, made once per rank
        chosen = []
        for a, b in zip(new_leaves, old_leaves):
            m = views.get(a.dim())
            if m is None:
                m = views[a.dim()] = mask.view(-1, *([1] * (a.dim() - 1)))
            chosen.append(torch.where(m, a, b))
        return unflatten_tree(spec, iter(chosen))


class OneTrajectory(Lanes):
    """One trajectory of a neural game: each step on its own batch, no vmap."""

    def per_start(self, t: torch.Tensor) -> torch.Tensor:
        return t.unsqueeze(0)

    def oracle(self, batch, step):
        return self.oracle_class(self.game, batch, self.cost, lambda: self.game.sample(step), self.precision)

    def init_state(self, x0=None, y0=None) -> dict:
        if x0 is None:
            x0, y0 = self.game.initial_points()
            x0, y0 = x0[0], y0[0]
        return self.algo.init(x0, y0, self.oracle(self.game.sample(0), 0))

    def stepper(self, known_points: bool = False):
        game = self.game

        def step(state, t, known=None):
            game.before_step(state["x"], state["y"], t)
            return (*self.algo.step(state, self.oracle(game.sample(t), t)), None)
        return step

    def _norms_and_losses(self, state, batch, losses, field):
        return self._measure_one(state["x"], state["y"], batch, losses, field)

    def select(self, mask, new, old):
        mask = mask.squeeze(0)
        if mask.device.type == "cpu":  # nothing to synchronize: no per-step copy of the whole state
            return new if bool(mask) else old
        return tree_map(lambda a, b: torch.where(mask, a, b), new, old)


class AnalyticStarts(Lanes):
    """N starts of an analytic game, stepped by one vmapped step."""

    knows_points = True

    def __init__(self, game, algo, cost, settings):
        super().__init__(game, algo, cost, settings)
        #: whether the step reads the follower's blocks at its point (computed for it, then)
        self.blocks = algo.point_blocks(game)
        self.points = StartPoints(game, self.blocks)

    def oracle(self, batch=None, step=0):
        return self.oracle_class(self.game, None, self.cost, None, self.precision)

    def init_state(self, x0=None, y0=None) -> dict:
        if x0 is None:
            x0, y0 = self.game.initial_points()
        return vmap(lambda x, y: self.algo.init(x, y, self.oracle()))(x0, y0)

    def point_at(self, state, blocks: bool | None = None) -> dict:
        """The field (and the blocks) at every start's state (points.py)."""
        return self.points.at(state, blocks)

    def stepper(self, known_points: bool = False):
        """One vmapped step; with ``known_points`` (the runner's loop) the derivatives at the new
        iterate are taken with it over all starts at once (the convergence check reads ξ there),
        and the next step starts from them; without, the Oracle differentiates under vmap."""
        if not known_points:
            vstep = LaneMap(lambda s: self.algo.step(s, self.oracle()))
            return lambda state, t, known=None: (*vstep(state), None)
        vstep = LaneMap(self._step_known)

        def step(state, t, known=None):
            new, info = vstep(state, self.point_at(state) if known is None else known)
            return new, info, self.point_at(new)
        return step

    def _step_known(self, state, point):
        """One start's step, its requests at its own state answered from ``point``."""
        return self.algo.step(state, KnownPointOracle(self.game, point, self.cost, self.precision))

    def _norms_and_losses(self, state, batch, losses, field):
        # every start at once, without vmap's wrappers
        gx, gy = field if field is not None else self.point_at(state, blocks=False)["field"]
        values = (torch.linalg.vector_norm(gx.flatten(1), dim=1), torch.linalg.vector_norm(gy.flatten(1), dim=1))
        if losses:
            values += self.points.losses(state["x"].detach(), state["y"].detach())
        return values


class SeedStack(Lanes):
    """S seeds of a neural game (games/seeds.py), stepped by one vmapped step on their batches."""

    def __init__(self, game, algo, cost, settings):
        super().__init__(game, algo, cost, settings)
        self.seeds = game.seeds
        self.seed_chunk = settings.seed_chunk   # seeds per vmapped call (None: all)

    def oracle(self, batches, step=0):
        """One seed's batches of this step, drawn before the vmapped step."""
        return self.oracle_class(self.game, batches[0], self.cost, _Batches(batches[1:]), self.precision)

    def init_state(self, x0=None, y0=None) -> dict:
        if x0 is None:
            x0, y0 = self.game.initial_points()
        init = vmap(lambda x, y, b: self.algo.init(x, y, self.oracle([b])), chunk_size=self.seed_chunk)
        return init(x0, y0, self.game.sample(0))

    def stepper(self, known_points: bool = False):
        game = self.game
        vstep = LaneMap(lambda s, b: self.algo.step(s, self.oracle(b)), chunk_size=self.seed_chunk)

        def step(state, t, known=None):
            game.before_step(state["x"], state["y"], t)
            new, info = vstep(state, self._draw(t))
            self._per_chunk_cost()
            return new, info, None
        return step

    def _draw(self, step):
        """A step's batches: ``algo.batches_per_step`` of every seed, in the order a single-seed
        run draws them (the step's own, then those of ``oracle.next_batch()``)."""
        return [self.game.sample(step) for _ in range(self.algo.batches_per_step)]

    def _per_chunk_cost(self):
        """The cost meter counts each traced call, i.e. once per chunk of seeds: back to per step."""
        chunks = -(-len(self.seeds) // self.seed_chunk) if self.seed_chunk else 1
        if chunks > 1:
            self.cost.grads /= chunks
            self.cost.hvps /= chunks

    def _norms_and_losses(self, state, batch, losses, field):
        one = lambda x, y, b: self._measure_one(x, y, b, losses)  # noqa: E731
        return vmap(one, chunk_size=self.seed_chunk)(state["x"], state["y"], batch)


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


def make_lanes(game, algo, cost: CostMeter, settings) -> Lanes:
    """The layout of this run, chosen once: S seeds, N analytic starts, or one trajectory."""
    if getattr(game, "seeds", None) is not None:
        return SeedStack(game, algo, cost, settings)
    if game.analytic:
        return AnalyticStarts(game, algo, cost, settings)
    return OneTrajectory(game, algo, cost, settings)
