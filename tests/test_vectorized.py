"""N starts in one vectorized run give the trajectories of the N runs one by one."""

import pytest
import torch

from minimax_cli.algos.cgd import ACGD, CGD
from minimax_cli.algos.complex_momentum import ComplexMomentum
from minimax_cli.algos.consensus import SGA, ConsensusOptimization
from minimax_cli.algos.extra_adam import ExtraAdam
from minimax_cli.algos.extragradient import OGDA, Extrapolation
from minimax_cli.algos.gda import GDA
from minimax_cli.algos.implicit import ImplicitUpdate
from minimax_cli.algos.lead import LEAD
from minimax_cli.algos.ridge import FollowTheRidge
from minimax_cli.games.dirac import DiracGAN
from minimax_cli.games.polynomial import Poly53
from minimax_cli.games.toy import G3, Quadratic
from minimax_cli.runner import DIVERGED, LoopSettings, Runner
from tests.conftest import make_game

POINTS = [[7.0, 5.0], [-3.0, 2.0], [0.5, -0.5], [4.0, -6.0], [-1.5, -2.5]]


def final(game, algo, steps=40):
    result = Runner(game, algo, LoopSettings(steps=steps, log_every=50, tol=0.0, progress=False)).run()
    return result


ALGOS = [
    GDA(lr_x=0.05, lr_y=0.05), GDA(lr_x=0.05, tau=2.0, momentum=-0.3),
    GDA(lr_x=0.03, lr_y=0.03, order="alternating", precond="adam"),
    OGDA("ogda", lr_x=0.02, lr_y=0.02), Extrapolation("pm", lr_x=0.02, lr_y=0.02, lookahead=0.05),
    SGA("sga", lr_x=0.01, lr_y=0.01), ConsensusOptimization("co", lr_x=0.01, lr_y=0.01),
    ImplicitUpdate("iu", lr_x=0.05, lr_y=0.05, inner_steps=3),
    LEAD("lead", lr_x=0.02, lr_y=0.02, alpha=0.05, momentum=0.3),
    ExtraAdam(lr_x=0.02, lr_y=0.02),
    ComplexMomentum(lr_x=0.02, lr_y=0.02), ComplexMomentum(lr_x=0.02, lr_y=0.03, beta_arg=2.0, order="alternating"),
    FollowTheRidge("hfr", lr_x=0.02, lr_y=0.02, lr_y2=0.02),
    FollowTheRidge("fr_cg", lr_x=0.02, lr_y=0.02, mixed="fd", precond="rmsprop",
                   solver={"kind": "cg", "iters": 2, "damping": 0.5, "adaptive": True}),
    FollowTheRidge("fr_dg", lr_x=0.02, lr_y=0.02, mixed="fd", solver={"kind": "diag"}),
    CGD("cgd", lr_x=0.05, lr_y=0.05), ACGD("acgd", lr_x=0.02, lr_y=0.02),
]


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.name + ("_" + a.order if hasattr(a, "order") else ""))
def test_vectorized_starts_equal_one_by_one(algo):
    many = final(make_game(G3, starts=POINTS), algo)
    for i, point in enumerate(POINTS):
        one = final(make_game(G3, x0=point[:1], y0=point[1:]), algo)
        torch.testing.assert_close(many.state["x"][i], one.state["x"][0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(many.state["y"][i], one.state["y"][0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(many.trajectory[:, i], one.trajectory[:, 0], rtol=1e-12, atol=1e-12)


def test_grid_starts_cover_the_box():
    game = make_game(G3, starts=25, init="grid", init_radius=2.0, x0=[1.0], y0=[-1.0])
    x, y = game.initial_points()
    assert x.shape == (25, 1) and y.shape == (25, 1)
    assert float(x.min()) == pytest.approx(-1.0) and float(x.max()) == pytest.approx(3.0)
    assert float(y.min()) == pytest.approx(-3.0) and float(y.max()) == pytest.approx(1.0)
    assert len({(float(a), float(b)) for a, b in zip(x[:, 0], y[:, 0])}) == 25


def test_ball_starts_lie_in_the_ball_and_depend_on_the_seed():
    a = make_game(Quadratic, A=[[1.0]], B=[[1.0]], C=[[-1.0]], starts=200, init_radius=0.5, seed=1)
    b = make_game(Quadratic, A=[[1.0]], B=[[1.0]], C=[[-1.0]], starts=200, init_radius=0.5, seed=2)
    xa, ya = a.initial_points()
    radius = ((xa - 1) ** 2 + (ya - 1) ** 2).sqrt()
    assert float(radius.max()) <= 0.5 + 1e-12
    assert not torch.equal(xa, b.initial_points()[0])


@pytest.mark.parametrize("tol, converge_on", [(1e-300, "grad_norm"), (1e-300, "dist_to_eq"), (0.0, "grad_norm")])
def test_the_convergence_check_never_changes_the_trajectories(tol, converge_on):
    """The runner takes ‖ξ‖² for the check from the derivatives its vectorized step reads, measures
    the distance to the equilibrium apart, and skips the check when tol <= 0: every path gives the
    same iterates."""
    algo = OGDA("ogda", lr_x=0.02, lr_y=0.02)
    reference = Runner(make_game(G3, starts=POINTS), algo,
                       LoopSettings(steps=30, log_every=10, tol=1e-300, progress=False)).run()
    other = Runner(make_game(G3, starts=POINTS), algo, LoopSettings(steps=30, log_every=10, tol=tol,
                                                                    converge_on=converge_on, progress=False)).run()
    torch.testing.assert_close(other.state["x"], reference.state["x"], rtol=0, atol=0)
    torch.testing.assert_close(other.state["y"], reference.state["y"], rtol=0, atol=0)
    assert other.status == reference.status == "finished"
    assert other.metrics["dist_to_eq"] == reference.metrics["dist_to_eq"]


@pytest.mark.parametrize("name", ["g1", "g2", "g3", "poly54", "torus"])
def test_the_convergence_checks_field_over_all_starts_is_each_starts_own(name):
    """The runner differentiates the sum of f over starts (elementwise ``f_over_starts``, plain
    autograd): each start's gradient must be the one a single start's oracle computes."""
    from minimax_cli.build import build
    from minimax_cli.config import compose
    from minimax_cli.oracle import CostMeter, Oracle

    game = build(compose([f"game={name}", "game.starts=[[7.0,5.0],[-3.0,2.0],[0.5,-0.5],[4.0,-6.0]]"]).game, "game")
    game.setup(torch.device("cpu"), torch.float64, 0)
    assert callable(getattr(game, "f_over_starts", None))
    runner = Runner(game, GDA(lr_x=0.01, lr_y=0.01), LoopSettings(steps=1, log_every=1, tol=1e-6, progress=False))
    state = runner.init_state()
    gx, gy = runner.lanes.point_at(state)["field"]
    for i in range(len(POINTS) - 1):
        ox, oy = Oracle(game, None, CostMeter()).field(state["x"][i], state["y"][i])
        torch.testing.assert_close((gx[i], gy[i]), (ox, oy), rtol=1e-15, atol=1e-15)


FUSED_ALGOS = [
    FollowTheRidge("fr", lr_x=0.01, lr_y=0.01),                                  # exact solve, G and G_yx at (x_t, y_t)
    FollowTheRidge("fr_total", lr_x=0.01, lr_y=0.01, leader="total"),            # G and G_yxᵀ in the leader's step
    FollowTheRidge("fr_updated", lr_x=0.01, lr_y=0.01, mixed="fd"),              # G at the moved leader: not known
    GDA(lr_x=0.01, lr_y=0.01, order="alternating"),                              # ∇_x L_x at (x_t, y_t) known
]
FUSED_GAMES = {   # class, its options, starts (x then y)
    "g3": (G3, {}, POINTS),
    "poly53": (Poly53, {}, [[-1.5, 2.5, 2.5, 3.0], [0.5, -0.3, 1.2, 0.8], [1.1, 0.9, 1.0, 1.05]]),
    "dirac_ns": (DiracGAN, {"objective": "non_saturating"}, [[0.5, 0.3], [-0.4, 0.9], [1.5, -1.0]]),
}


def fused_game(name, start=None):
    cls, options, points = FUSED_GAMES[name]
    if start is None:
        return make_game(cls, starts=points, **options)
    n = len(start) // 2
    return make_game(cls, x0=start[:n], y0=start[n:], **options)


@pytest.mark.parametrize("game_name", sorted(FUSED_GAMES))
@pytest.mark.parametrize("algo", FUSED_ALGOS, ids=lambda a: a.name)
def test_steps_from_the_derivatives_known_at_each_start_equal_one_by_one(algo, game_name):
    """The runner's loop computes ξ (and, for FR's exact solve, the follower's blocks G, G_yx) over
    all starts at once and the vmapped step reads them (oracle.KnownPointOracle): the trajectories
    and counted costs must be those of one start at a time stepped by ``Runner.stepper()``, where
    every derivative comes from the Oracle under vmap."""
    runner = Runner(fused_game(game_name), algo, LoopSettings(steps=25, log_every=5, tol=1e-300, progress=False))
    assert runner.lanes.blocks == (algo.name in ("fr", "fr_total"))   # the blocks are computed exactly where read
    many = runner.run()
    for i, start in enumerate(FUSED_GAMES[game_name][2]):
        one = by_the_oracle(Runner(fused_game(game_name, start), algo,
                                   LoopSettings(steps=25, log_every=5, tol=0.0, progress=False)), 25)
        torch.testing.assert_close(many.state["x"][i], one.state["x"][0], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(many.state["y"][i], one.state["y"][0], rtol=1e-12, atol=1e-12)
        assert many.cost["hvps_per_step"] == one.cost["hvps_per_step"]
        assert many.cost["grads_per_step"] == one.cost["grads_per_step"]


def by_the_oracle(runner, steps):
    """Up to ``steps`` steps of one start with every derivative from the Oracle under vmap (no
    known points), frozen at its last iterate when it diverges (as the runner freezes it): the
    final state and the counted cost per step."""
    from types import SimpleNamespace

    state, step = runner.init_state(), runner.stepper()
    runner.cost.reset()
    for t in range(1, steps + 1):
        new = step(state, t)[0]
        if not bool(runner._healthy(new).all()):
            break
        state = new
    return SimpleNamespace(state=state, cost={"hvps_per_step": runner.cost.hvps / t,
                                              "grads_per_step": runner.cost.grads / t})


@pytest.mark.parametrize("game_name", sorted(FUSED_GAMES))
def test_the_follower_blocks_over_all_starts_are_each_starts_own(game_name):
    from minimax_cli.oracle import CostMeter, Oracle

    game = fused_game(game_name)
    runner = Runner(game, FollowTheRidge("fr", lr_x=0.01, lr_y=0.01),
                    LoopSettings(steps=1, log_every=1, tol=1e-6, progress=False))
    state = runner.init_state()
    point = runner.lanes.point_at(state)
    n, m = game.dim_x, game.dim_y
    assert point["G"].shape == (state["x"].shape[0], m, m) and point["G_yx"].shape == (state["x"].shape[0], m, n)
    for i in range(state["x"].shape[0]):
        oracle = Oracle(game, None, CostMeter())
        x, y = state["x"][i], state["y"][i]
        torch.testing.assert_close(point["G"][i], oracle.hess_yy(x, y), rtol=1e-13, atol=1e-13)
        columns = [oracle.hvp_yx(x, y, e) for e in torch.eye(n, dtype=x.dtype)]
        torch.testing.assert_close(point["G_yx"][i], torch.stack(columns, dim=1), rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(point["field"][0][i], oracle.field(x, y)[0], rtol=1e-15, atol=1e-15)
        torch.testing.assert_close(point["field"][1][i], oracle.field(x, y)[1], rtol=1e-15, atol=1e-15)


def test_a_known_point_is_named_by_its_token_not_by_its_tensors():
    """A KnownPointOracle answers requests made ``at=oracle.here`` from what it knows (a copy of x
    too), counted as the Oracle counts them; requests without its token, or where it knows
    nothing, are computed."""
    from minimax_cli.oracle import CostMeter, KnownPointOracle, Oracle

    game = make_game(G3, starts=POINTS)
    x, y = (p[0] for p in game.initial_points())
    known = (torch.full_like(x, 7.0), torch.full_like(y, -7.0))
    oracle = KnownPointOracle(game, {"field": known}, CostMeter())
    assert oracle.field(x.clone(), y.clone(), at=oracle.here) is known and oracle.cost.grads == 1.0
    assert oracle.grad_y(x, y, at=oracle.here) is known[1] and oracle.cost.grads == 1.5
    exact = Oracle(game).field(x, y)
    other = KnownPointOracle(game, {"field": known}, CostMeter())
    for at in (None, other.here):
        torch.testing.assert_close(oracle.field(x, y, at=at), exact, rtol=0, atol=0)
    assert oracle.cost.grads == 3.5
    torch.testing.assert_close(oracle.hess_yy(x, y, at=oracle.here), Oracle(game).hess_yy(x, y), rtol=0, atol=0)
    assert oracle.cost.hvps == 1.0


def test_without_a_check_a_diverging_start_stops_at_its_last_iterate_as_with_one():
    """tol=0 steps from the derivatives taken at every start's point too: FR's start at (8.5, 5.34)
    leaves diverge_norm within a few steps and is frozen at its last iterate, the others go on,
    and every iterate, status and stop step is the one of a run that checks convergence."""
    algo = FollowTheRidge("fr", lr_x=0.05, lr_y=0.05)
    points = POINTS + [[8.5, 5.34]]
    runs = [Runner(make_game(G3, starts=points), algo, LoopSettings(steps=40, log_every=10, tol=tol,
                                                                     progress=False)).run() for tol in (0.0, 1e-300)]
    for key in ("x", "y"):
        torch.testing.assert_close(runs[0].state[key], runs[1].state[key], rtol=0, atol=0)
    assert torch.equal(runs[0].start_status, runs[1].start_status)
    assert torch.equal(runs[0].stop_step, runs[1].stop_step)
    assert int(runs[0].start_status[-1]) == DIVERGED and 0 < int(runs[0].stop_step[-1]) < 10
    last = torch.cat([runs[0].state["x"][-1], runs[0].state["y"][-1]])
    assert bool(torch.isfinite(last).all()) and float(last.norm()) <= 1e6


def test_a_lanes_select_matches_the_states_leaves_by_key():
    """A step's new state may list its dict's keys in another order than the old one: the per-lane
    choice pairs them by key."""
    runner = Runner(make_game(G3, starts=POINTS[:2]), GDA(lr_x=0.05, lr_y=0.05),
                    LoopSettings(steps=1, log_every=1, tol=0.0, progress=False))
    new = {"y": torch.tensor([[1.0], [2.0]]), "p": {}, "x": torch.tensor([3.0, 4.0])}
    old = {"x": torch.tensor([5.0, 6.0]), "y": torch.tensor([[7.0], [8.0]]), "p": {}}
    out = runner.lanes.select(torch.tensor([True, False]), new, old)
    assert torch.equal(out["x"], torch.tensor([3.0, 6.0])) and torch.equal(out["y"], torch.tensor([[1.0], [8.0]]))
