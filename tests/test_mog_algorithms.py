"""Every algorithm on the GAN game: the ridge methods' CG and BB solves against the exact solve on a
tiny MLP GAN (float64, computed here with torch.autograd, independently of the oracle), Liang & Stokes 2019's
consensus term on the unpenalized value, and each conf/algo option running with each preconditioner."""

import pytest
import torch
from omegaconf import OmegaConf

from minimax_cli.algos.consensus import ConsensusOptimization
from minimax_cli.algos.implicit import ImplicitUpdate
from minimax_cli.algos.ridge import FollowTheRidge
from minimax_cli.build import build
from minimax_cli.catalog import option_names
from minimax_cli.config import compose
from minimax_cli.errors import ConfigError
from minimax_cli.games.gan import GAN
from minimax_cli.games.toy import G3
from minimax_cli.oracle import CostMeter, Oracle
from minimax_cli.runner import LoopSettings, Runner
from tests.conftest import make_game

SMALL = {"batch": {"mode": "fixed", "dataset_size": 48, "size": 48, "latent": "fixed"},
         "metrics": {"w1_samples": 48, "kl_samples": 128, "mode_samples": 128}}
TINY = {"generator": {"latent": 2, "depth": 1, "width": 3, "activation": "tanh"},
        "discriminator": {"depth": 1, "width": 4, "activation": "tanh"}}


def tiny_gan(seed=0, **kw):
    return make_game(GAN, name="mog", seed=seed, **{**SMALL, **TINY, "loss": {"kind": "saturating", "l2": 1e-3}, **kw})


def start(game):
    x, y = game.initial_points()
    return x[0], y[0]


# -- the players' derivatives, by torch.autograd on the game's losses (not through the oracle) ----------
def grads(game, batch, x, y):
    x, y = x.detach().requires_grad_(), y.detach().requires_grad_()
    gx = torch.autograd.grad(game.loss_x(x, y, batch), x)[0]
    gy = torch.autograd.grad(game.loss_y(x, y, batch), y)[0]
    return gx, gy


def grad_y(game, batch, x, y):
    return grads(game, batch, x, y)[1]


def follower_blocks(game, batch, x, y):
    """G = ∇²_yy L_y and G_yx = ∇²_yx L_y from the dense Hessian of L_y in (x, y)."""
    n = x.numel()
    H = torch.autograd.functional.hessian(lambda z: game.loss_y(z[:n], z[n:], batch), torch.cat([x, y]))
    return H[n:, n:], H[n:, :n]


def one_step(algo, game, x, y, steps=1, batch=None):
    oracle = Oracle(game, game.sample(1) if batch is None else batch)
    state = algo.init(x, y, oracle)
    info = {}
    for _ in range(steps):
        state, info = algo.step(state, oracle)
    return state, info


def close(a, b, rtol=1e-7, atol=1e-10):
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


# -- FR / HessianFR / GDN on a tiny MLP GAN -----------------------------------------------------------------
def ridge_by_hand(game, x, y, lr_x, lr_y, lr_y2, mixed):
    """Wang et al. 2020, Alg. 1 / Gao et al. 2022, Alg. 3.1 with plain steps: x+ = x − η_x ∇_x L_x,
    y+ = y − η_y1 ∇_y L_y + z,  G z = −(η_y2 ∇_y L_y + G_yx Δx); jvp: G, G_yx at (x, y);
    fd: G_yx Δx ≈ ∇_y L_y(x + Δx, y) − ∇_y L_y(x, y) and G at (x + Δx, y) (App. D.4)."""
    batch = game.sample(1)
    gx, gy = grads(game, batch, x, y)
    dx = -lr_x * gx
    if mixed == "jvp":
        G, Gyx = follower_blocks(game, batch, x, y)
        rhs = -(lr_y2 * gy + Gyx @ dx)
    else:
        G, _ = follower_blocks(game, batch, x + dx, y)
        rhs = -(lr_y2 * gy + grad_y(game, batch, x + dx, y) - gy)
    z = torch.linalg.solve(G, rhs)
    return x + dx, y - lr_y * gy + z, G


VARIANTS = {  # name: (lr_y, lr_y2, FollowTheRidge keyword arguments)
    "fr_jvp": (0.2, 0.0, {}),
    "fr_fd": (0.2, 0.0, {"mixed": "fd"}),
    "hessianfr_jvp": (0.2, 0.1, {}),
    "hessianfr_fd": (0.2, 0.1, {"mixed": "fd"}),
    "gdn": (0.0, 1.0, {"mixed": "fd", "hessian_at": "updated"}),
}


# LM damping's reduction ratio belongs to App. D.4's finite-difference form
CASES = [(v, s) for v in VARIANTS for s in ("exact", "cg", "cg_adaptive")
         if not (s == "cg_adaptive" and VARIANTS[v][2].get("mixed", "jvp") == "jvp")]


@pytest.mark.parametrize("variant, solver", CASES)
def test_one_ridge_step_on_a_tiny_mlp_gan_equals_the_exact_solve(variant, solver):
    """CG with k = dim_y steps and λ → 0 solves the normal equations G² z = G b exactly, so one step
    of CG-FR/HessianFR/GDN equals the dense solve; the exact solver matches the hand computation."""
    game = tiny_gan(seed=2, loss={"kind": "saturating", "l2": 0.3})   # cond(G) ≈ 5: k-step CG exactness survives rounding
    x, y = start(game)
    lr_y, lr_y2, kw = VARIANTS[variant]
    mixed = kw.get("mixed", "jvp")
    x1, y1, G = ridge_by_hand(game, x, y, 0.1, lr_y, lr_y2, mixed)
    assert torch.linalg.cond(G) < 10             # well posed: CG's k-step exactness is observable
    assert (torch.linalg.eigvalsh(G) < 0).any()  # and indefinite: the normal equations matter
    spec = {"kind": "exact"}
    if solver != "exact":
        spec = {"kind": "cg", "iters": game.dim_y, "tol": 0.0, "damping": 0.0}
    if solver == "cg_adaptive":
        spec.update(adaptive=True, damping=1e-12, damping_min=1e-14)
    algo = FollowTheRidge(variant, lr_x=0.1, lr_y=lr_y, lr_y2=lr_y2, solver=spec, **kw)
    state, info = one_step(algo, game, x, y)
    close(state["x"], x1)
    close(state["y"], y1, rtol=1e-6, atol=1e-9)
    assert not torch.allclose(state["y"], y - lr_y * grads(game, game.sample(1), x, y)[1])   # a real correction
    if solver == "cg_adaptive":       # the model is near exact: ρ ≈ 1 keeps z and lowers λ (×0.9)
        assert float(info["rho"]) > 0.95
        assert float(state["damping"]) == pytest.approx(0.9e-12)


@pytest.mark.parametrize("lr_y2", [0.0, 0.1])
def test_barzilai_borwein_ridge_on_a_tiny_mlp_gan_matches_seed001_eq_3_33(lr_y2):
    """FR-DG / HessianFR-DG, two steps: the first has no curvature estimate (s = 0); the second
    uses s = ⟨Δg, Δy⟩ / ‖Δg‖², Δg = ∇_y L_y(x_1, y_1) − ∇_y L_y(x_1, y_0), Δy = y_1 − y_0."""
    game = tiny_gan(seed=3)
    batch = game.sample(1)
    lr_x, lr_y = 0.1, 0.3
    x0, y0 = start(game)
    gx, gy = grads(game, batch, x0, y0)
    x1, y1 = x0 - lr_x * gx, y0 - lr_y * gy                # s = 0: no correction at step 1
    gx, gy = grads(game, batch, x1, y1)
    dg, dy = gy - grad_y(game, batch, x1, y0), y1 - y0
    s = (dg @ dy) / (dg @ dg)
    assert s > 0                                          # the estimate is used, not clamped to 0
    dx = -lr_x * gx
    b = -(lr_y2 * gy + grad_y(game, batch, x1 + dx, y1) - gy)
    expected_y = y1 - lr_y * gy + s * b
    for reuse in (True, False):
        algo = FollowTheRidge("dg", lr_x=lr_x, lr_y=lr_y, lr_y2=lr_y2, mixed="fd",
                              solver={"kind": "diag", "diag_reuse": reuse})
        state, info = one_step(algo, game, x0, y0, steps=2)
        close(state["x"], x1 + dx)
        close(state["y"], expected_y)
        assert float(info["diag_inverse"]) == pytest.approx(float(s), rel=1e-9)


def test_gdn_with_an_adam_leader_keeps_the_followers_newton_step():
    """GDN's yaml: precond_y = sgd, so with algo.precond=adam only the generator runs Adam (first Adam
    step: m̂ = g, v̂ = g²) and the discriminator still steps y − G(x+, y)⁻¹ ∇_y L_y(x+, y)."""
    game = tiny_gan(seed=2, loss={"kind": "saturating", "l2": 0.3})
    batch = game.sample(1)
    x, y = start(game)
    gx, _ = grads(game, batch, x, y)
    x1 = x - 0.01 * gx / (gx.abs() + 1e-8)
    G, _ = follower_blocks(game, batch, x1, y)
    y1 = y - torch.linalg.solve(G, grad_y(game, batch, x1, y))
    algo = FollowTheRidge("gdn", lr_x=0.01, lr_y=0.0, lr_y2=1.0, mixed="fd", hessian_at="updated", solver="exact",
                          precond="adam", precond_y="sgd")
    state, _ = one_step(algo, game, x, y)
    close(state["x"], x1)
    close(state["y"], y1)


def test_ridge_with_rmsprop_and_eq9_momentum_runs_the_paper_setting_on_a_gan():
    """Wang et al. 2020, App. D.4 as configured for the MoG (RMSprop, CG + adaptive damping, fd), with Eq. 9
    momentum: finite, the damping adapts, and the correction is non-zero."""
    game = tiny_gan()
    algo = FollowTheRidge("fr", lr_x=2e-3, lr_y=2e-3, mixed="fd", precond="rmsprop", momentum=0.8,
                          solver={"kind": "cg", "iters": 3, "damping": 1.0, "adaptive": True})
    state, info = one_step(algo, game, *start(game), steps=5)
    assert torch.isfinite(state["x"]).all() and torch.isfinite(state["y"]).all()
    assert float(state["damping"]) != 1.0 and float(info["ridge_norm"]) > 0


def test_follower_curvature_products_equal_the_hessian_through_the_gradient_penalty():
    """The kept-graph products (reverse over reverse) equal ∇²_yy L_y v through WGAN-GP's penalty."""
    game = tiny_gan(loss={"kind": "wgan", "gp": 1.0})
    batch = game.sample(1)
    x, y = start(game)
    cost = CostMeter()
    oracle = Oracle(game, batch, cost)
    g, hvp = oracle.follower_curvature(x, y)
    G, _ = follower_blocks(game, batch, x, y)
    v = torch.linspace(-1, 1, game.dim_y, dtype=torch.float64)
    close(g, grad_y(game, batch, x, y))
    close(hvp(v), G @ v)
    close(hvp(2 * v), 2 * G @ v)
    close(oracle.hvp_yy(x, y, v), G @ v)
    assert (cost.grads, cost.hvps) == (0.5, 3.0)
    close(game.follower_loss(x, batch)(y), game.loss_y(x, y, batch))


# -- consensus optimization on the value function (Liang & Stokes 2019, §4) ------------------------
def test_consensus_on_the_value_function_leaves_the_gradient_penalty_out_of_R():
    """Liang & Stokes 2019: L_gen = U + γR, L_dis = −U + γR + Λ with R = ½(‖∇_θU‖² + ‖∇_ωU‖²) and no
    penalty in R: the step is z − η (ξ + γ ∇R), ξ the players' full gradients (Λ included)."""
    game = tiny_gan(loss={"kind": "wgan", "gp": 1.0})
    batch = game.sample(1)
    x, y = start(game)
    eta, gamma = 0.05, 1.0
    xr, yr = x.detach().requires_grad_(), y.detach().requires_grad_()
    U = game.value(*game._scores(xr, yr, batch))
    gu_x, gu_y = torch.autograd.grad(U, (xr, yr), create_graph=True)
    R = 0.5 * (gu_x.pow(2).sum() + gu_y.pow(2).sum())
    r_x, r_y = torch.autograd.grad(R, (xr, yr))
    gx, gy = grads(game, batch, x, y)
    algo = ConsensusOptimization("co", lr_x=eta, lr_y=eta, gamma=gamma, penalty="half_squared_norm",
                                 consensus_on="value")
    state, _ = one_step(algo, game, x, y, batch=batch)
    close(state["x"], x - eta * (gx + gamma * r_x))
    close(state["y"], y - eta * (gy + gamma * r_y))
    # R with the penalty inside differs (its gradient carries the penalty's curvature) ...
    other, _ = one_step(ConsensusOptimization("co", lr_x=eta, lr_y=eta, gamma=gamma, penalty="half_squared_norm"),
                        game, x, y, batch=batch)
    assert not torch.allclose(other["y"], state["y"])
    # ... and without a regularizer the two readings are the same algorithm
    plain = tiny_gan(loss={"kind": "wgan"})
    a, _ = one_step(ConsensusOptimization("co", lr_x=eta, lr_y=eta, consensus_on="value"), plain, x, y)
    b, _ = one_step(ConsensusOptimization("co", lr_x=eta, lr_y=eta), plain, x, y)
    close(a["y"], b["y"], rtol=1e-12, atol=1e-14)


def test_unknown_consensus_reading_is_one_clear_error():
    with pytest.raises(ConfigError, match="algo.consensus_on must be one of field, value"):
        ConsensusOptimization("co", lr_x=0.1, lr_y=0.1, consensus_on="loss")


# -- dense solves: chosen for small games only -------------------------------------------------------------------
def test_auto_solver_is_exact_on_analytic_games_and_cg_on_gans():
    toy = make_game(G3)
    fr = FollowTheRidge("fr", lr_x=0.05, lr_y=0.05)
    fr.init(torch.tensor([1.0]), torch.tensor([1.0]), Oracle(toy))
    assert fr.solver.kind == "exact"
    gan = tiny_gan()
    fr = FollowTheRidge("fr", lr_x=0.05, lr_y=0.05, solver={"adaptive": True, "damping": 1.0})
    state = fr.init(*start(gan), Oracle(gan, gan.sample(0)))
    assert fr.solver.kind == "cg" and "damping" in state
    iu = ImplicitUpdate("iu", lr_x=0.01, lr_y=0.01)
    iu.init(*start(gan), Oracle(gan, gan.sample(0)))
    assert iu.inner == "fixed_point"


def test_dense_solves_of_large_players_are_refused_with_one_line():
    game = make_game(GAN, name="mog", **SMALL)          # Wang et al. 2020's 2×64 networks: 4,353 follower parameters
    oracle = Oracle(game, game.sample(0))
    with pytest.raises(ConfigError, match=r"algo.solver.kind=exact builds the dense 4353x4353 follower Hessian"):
        FollowTheRidge("fr", solver="exact").init(*start(game), oracle)
    with pytest.raises(ConfigError, match=r"algo.inner=newton builds the dense \d+x\d+ Jacobian.*fixed_point"):
        ImplicitUpdate("iu", lr_x=0.01, lr_y=0.01, inner="newton").init(*start(game), oracle)


# -- every algorithm of conf/algo, stochastic, with each preconditioner ---------------------------------------
GAME_OVERRIDES = ["game=mog", "game.batch.mode=fresh", "game.batch.size=32", "game.generator.latent=2",
                  "game.generator.width=5", "game.discriminator.width=5", "game.generator.depth=1",
                  "game.discriminator.depth=1"]
ALGOS = option_names("algo")


@pytest.fixture(scope="module")
def stochastic_gan():
    cfg = compose(GAME_OVERRIDES)
    game = build(cfg.game, "game")
    game.setup("cpu", torch.float32, 0)
    return game


@pytest.mark.parametrize("name", ALGOS)
def test_every_algorithm_runs_on_the_stochastic_gan_with_every_preconditioner(name, stochastic_gan):
    spec = OmegaConf.to_container(compose([f"algo={name}"]).algo, resolve=True)
    scale = 1e-3 / spec["lr_x"]                  # small steps, each algorithm's own lr_y / lr_x ratio
    spec["lr_x"] *= scale
    spec["lr_y"] *= scale
    spec.pop("tau", None)
    preconds = ["sgd", "rmsprop", "adam"] if "precond" in spec else ["none"]   # IU is an implicit step, no P
    if spec.get("solver", {}).get("kind") == "auto":
        spec["solver"]["iters"] = 3
    for precond in preconds:
        if precond != "none":
            spec["precond"] = precond
        algo = build(dict(spec), "algo")
        runner = Runner(stochastic_gan, algo, LoopSettings(steps=3, log_every=3, tol=0.0, progress=False))
        x0, y0 = start(stochastic_gan)
        result = runner.run()
        assert result.status == "finished" and result.step == 3, (name, precond)
        x, y = result.state["x"], result.state["y"]
        assert torch.isfinite(x).all() and torch.isfinite(y).all()
        assert not torch.equal(x, x0) and not torch.equal(y, y0), (name, precond)
        assert result.cost["grads"] > 0


def test_gda_2_takes_its_second_follower_step_on_a_fresh_minibatch(stochastic_gan):
    """Gao et al. 2022's GDA-2 (App. A): two discriminator steps per generator step, each on its own batch."""
    algo = build(dict(OmegaConf.to_container(compose(["algo=gda", "algo.follower_steps=2", "algo.lr_x=1e-3",
                                                        "algo.precond=adam"]).algo, resolve=True)), "algo")
    result = Runner(stochastic_gan, algo, LoopSettings(steps=4, log_every=4, tol=0.0, progress=False)).run()
    assert result.cost["grads_per_step"] == 1.5           # the field, then ∇_y L_y on a new batch
    one = build(dict(OmegaConf.to_container(compose(["algo=gda", "algo.lr_x=1e-3", "algo.precond=adam"]).algo,
                                           resolve=True)), "algo")
    other = Runner(stochastic_gan, one, LoopSettings(steps=4, log_every=4, tol=0.0, progress=False)).run()
    assert not torch.equal(result.state["y"], other.state["y"])
