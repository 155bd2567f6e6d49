"""CGD and ACGD (Schäfer & Anandkumar 2019): one step against the closed form on a bilinear game, and
20 steps against the official code (the ``CGDs`` package: BCGD, ACGD) in float64 on a bilinear game
and on the MoG networks, with the inner solver's tolerance matched (its defaults)."""

import contextlib

import numpy as np
import pytest
import torch

from minimax_cli.algos.cgd import ACGD, CGD
from minimax_cli.errors import ConfigError
from minimax_cli.games.gan import GAN
from minimax_cli.games.toy import Bilinear, GeneralQuadratic
from minimax_cli.oracle import CostMeter, Oracle
from tests.conftest import kill_resume_and_twin, load_summary, make_game, rows_without_time

A = [[1.0, 0.5, -0.3], [0.2, -1.2, 0.7], [0.4, 0.1, 0.9], [-0.6, 0.8, 0.3]]     # x: 4, y: 3
X0 = [0.3, -0.2, 0.5, 0.1]
Y0 = [-0.4, 0.6, 0.2]
LR_X, LR_Y = 0.3, 0.2
#: a zero-sum MoG GAN with small networks and a fixed batch (every step sees the same f)
MOG = {"generator": {"latent": 2, "depth": 1, "width": 4, "activation": "tanh"},
       "discriminator": {"depth": 1, "width": 5, "activation": "tanh"},
       "loss": {"kind": "saturating", "l2": 0.0},
       "batch": {"mode": "fixed", "dataset_size": 32, "size": 32, "latent": "fixed"},
       "metrics": {"w1_samples": 32, "kl_samples": 64, "mode_samples": 64}}


def bilinear():
    return make_game(Bilinear, C=A)


def steps(algo, game, x, y, n, batch=None):
    oracle = Oracle(game, batch)
    state = algo.init(x, y, oracle)
    out = []
    for _ in range(n):
        state, _ = algo.step(state, oracle)
        out.append((state["x"], state["y"]))
    return out


# -- the closed form -------------------------------------------------------------------------------------
def test_one_cgd_step_is_the_nash_step_of_the_bilinear_game():
    """f = xᵀAy: Δx = −η_x (I + η_xη_y AAᵀ)⁻¹(Ay + η_y A Aᵀx), Δy = η_y (I + η_xη_y AᵀA)⁻¹(Aᵀx − η_x AᵀA y)."""
    M, x, y = np.array(A), np.array(X0), np.array(Y0)
    dx = -LR_X * np.linalg.solve(np.eye(4) + LR_X * LR_Y * M @ M.T, M @ y + LR_Y * M @ (M.T @ x))
    dy = LR_Y * np.linalg.solve(np.eye(3) + LR_X * LR_Y * M.T @ M, M.T @ x - LR_X * M.T @ (M @ y))
    for first in ("y", "x"):   # the solved system and the derived step give the same equilibrium
        (x1, y1), = steps(CGD(lr_x=LR_X, lr_y=LR_Y, cg={"solve_first": first}), bilinear(),
                          torch.tensor(X0, dtype=torch.float64), torch.tensor(Y0, dtype=torch.float64), 1)
        np.testing.assert_allclose(x1.numpy(), x + dx, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y1.numpy(), y + dy, rtol=1e-12, atol=1e-14)


def test_two_acgd_steps_are_the_nash_steps_with_the_adaptive_rates():
    """ACGD: Δx = −a_x (∇_x f + A Δy), Δy = a_y (∇_y f + AᵀΔx) with a = η √(1 − βᵗ)/(√v + ε), solved exactly."""
    M, beta, eps = np.array(A), 0.9, 1e-3
    x, y = np.array(X0), np.array(Y0)
    vx, vy = np.zeros(4), np.zeros(3)
    got = steps(ACGD(lr_x=LR_X, lr_y=LR_Y, beta=beta, eps=eps), bilinear(),
                torch.tensor(X0, dtype=torch.float64), torch.tensor(Y0, dtype=torch.float64), 2)
    for t in (1, 2):
        gx, gy = M @ y, M.T @ x
        vx, vy = beta * vx + (1 - beta) * gx**2, beta * vy + (1 - beta) * gy**2
        ax = LR_X * np.sqrt(1 - beta**t) / (np.sqrt(vx) + eps)
        ay = LR_Y * np.sqrt(1 - beta**t) / (np.sqrt(vy) + eps)
        # the equilibrium of Δx = −a_x(gx + MΔy), Δy = a_y(gy + MᵀΔx) as one linear system
        K = np.block([[np.eye(4), ax[:, None] * M], [-ay[:, None] * M.T, np.eye(3)]])
        d = np.linalg.solve(K, np.concatenate([-ax * gx, ay * gy]))
        x, y = x + d[:4], y + d[4:]
        np.testing.assert_allclose(got[t - 1][0].numpy(), x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[t - 1][1].numpy(), y, rtol=1e-12, atol=1e-14)


# -- the official code -----------------------------------------------------------------------------------
@contextlib.contextmanager
def float64_default():
    """The reference builds its CG vectors with torch.zeros(n) (the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def reference(kind, loss, x0, y0, n, **kw):
    """The official optimizer's iterates: x minimizes ``loss``, y maximizes it."""
    cgds = pytest.importorskip("CGDs")
    x = torch.nn.Parameter(x0.clone())
    y = torch.nn.Parameter(y0.clone())
    out = []
    with float64_default():
        opt = getattr(cgds, kind)(max_params=[y], min_params=[x], **kw)
        for _ in range(n):
            opt.zero_grad()
            opt.step(loss(x, y))
            out.append((x.detach().clone(), y.detach().clone()))
    return out


def assert_same_iterates(ours, theirs, rtol=1e-10):
    assert len(ours) == len(theirs) >= 20
    for t, ((x, y), (rx, ry)) in enumerate(zip(ours, theirs)):
        z, rz = torch.cat([x, y]), torch.cat([rx, ry])
        assert float((z - rz).norm() / rz.norm()) <= rtol, t


def mog():
    game = make_game(GAN, name="mog", seed=1, **MOG)
    assert game.zero_sum
    x, y = game.initial_points()
    return game, game.sample(1), x.reshape(-1), y.reshape(-1)


@pytest.mark.parametrize("kind", ["BCGD", "ACGD"])
def test_bilinear_iterates_equal_the_official_code(kind):
    game = bilinear()
    x0, y0 = torch.tensor(X0, dtype=torch.float64), torch.tensor(Y0, dtype=torch.float64)
    ours = CGD(lr_x=LR_X, lr_y=LR_Y) if kind == "BCGD" else ACGD(lr_x=LR_X, lr_y=LR_Y)
    theirs = reference(kind, lambda x, y: game.loss_x(x, y, None), x0, y0, 25, lr_max=LR_Y, lr_min=LR_X)
    assert_same_iterates(steps(ours, game, x0, y0, 25), theirs)


@pytest.mark.parametrize("kind", ["BCGD", "ACGD"])
def test_mog_network_iterates_equal_the_official_code(kind):
    game, batch, x0, y0 = mog()
    lr_x, lr_y = (0.05, 0.1) if kind == "BCGD" else (0.01, 0.02)
    ours = CGD(lr_x=lr_x, lr_y=lr_y) if kind == "BCGD" else ACGD(lr_x=lr_x, lr_y=lr_y)
    theirs = reference(kind, lambda x, y: game.loss_x(x, y, batch), x0, y0, 20, lr_max=lr_y, lr_min=lr_x)
    ours = steps(ours, game, x0, y0, 20, batch)
    assert_same_iterates(ours, theirs)
    assert float((ours[-1][0] - x0).norm()) > 1e-3    # the networks did move


def test_a_looser_inner_solve_is_matched_too():
    """The tolerance is the reference's: a loose one (few CG steps) still gives its iterates."""
    game, batch, x0, y0 = mog()
    theirs = reference("BCGD", lambda x, y: game.loss_x(x, y, batch), x0, y0, 20, lr_max=0.1, lr_min=0.05,
                       tol=1e-4, atol=1e-12)
    ours = steps(CGD(lr_x=0.05, lr_y=0.1, cg={"tol": 1e-4, "atol": 1e-12}), game, x0, y0, 20, batch)
    assert_same_iterates(ours, theirs)


# -- cost, state, bad input ------------------------------------------------------------------------------
def test_counted_cost_of_a_step():
    """One field, 1 product for the right-hand side, 2 per CG step, 1 for the derived step; a warm start's
    residual 2 more."""
    game = bilinear()
    cost = CostMeter()
    oracle = Oracle(game, cost=cost)
    algo = CGD(lr_x=LR_X, lr_y=LR_Y, cg={"max_iters": 2})
    state = algo.init(torch.tensor(X0, dtype=torch.float64), torch.tensor(Y0, dtype=torch.float64), oracle)
    cost.reset()
    state, _ = algo.step(state, oracle)
    assert (cost.grads, cost.hvps) == (1.0, 1 + 2 * 2 + 1)
    cost.reset()
    algo.step(state, oracle)
    assert (cost.grads, cost.hvps) == (1.0, 1 + 2 + 2 * 2 + 1)


def test_general_sum_games_and_bad_settings_are_one_clear_error():
    game = make_game(GeneralQuadratic, Ax=[[1.0]], Bx=[[1.0]], Cx=[[-1.0]], Ay=[[1.0]], By=[[2.0]], Cy=[[1.0]])
    one = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ConfigError, match="algo=cgd needs a zero-sum game"):
        CGD(lr_y=0.1).init(one, one, Oracle(game))
    with pytest.raises(ConfigError, match="unknown key algo.cg.iters"):
        CGD(lr_y=0.1, cg={"iters": 3})
    with pytest.raises(ConfigError, match="algo.cg.solve_first must be x or y"):
        CGD(lr_y=0.1, cg={"solve_first": "both"})
    with pytest.raises(ConfigError, match=r"algo.beta must be in \[0, 1\)"):
        ACGD(lr_y=0.1, beta=1.0)


# -- composes: analyze's step map, resume, precisions ------------------------------------------------------
@pytest.mark.parametrize("eta", [0.1, 0.5])
def test_step_map_spectral_radius_on_the_bilinear_game(eta):
    """f = xy: the CGD map is [[1, −η], [η, 1]]/(1 + η²), eigenvalues (1 ± iη)/(1 + η²), radius 1/√(1 + η²)
    (the step differentiated solves its system exactly: CG alone stops at once where ∇f = 0)."""
    from minimax_cli.metrics import spectrum

    game = make_game(Bilinear, C=[[1.0]])
    out = spectrum.step_jacobian(CGD(lr_x=eta, lr_y=eta), game, torch.zeros(1, dtype=torch.float64),
                                 torch.zeros(1, dtype=torch.float64))
    expected = np.array([[1.0, -eta], [eta, 1.0]]) / (1 + eta**2)
    np.testing.assert_allclose(out["matrix"], expected, rtol=1e-13, atol=1e-15)


TOY = ["game=g3", "game.starts=[[7.0,5.0],[2.0,-1.0],[-3.0,3.0]]", "algo.lr_x=0.01", "log_every=10",
       "tensorboard=false", "plot=false"]
TINY_MOG = ["game=mog", "game.batch.mode=fresh", "game.batch.size=32", "game.generator.width=6",
            "game.discriminator.width=6", "game.metrics.kl_samples=256", "game.metrics.mode_samples=256",
            "algo.lr_x=0.005", "log_every=5", "checkpoint_every=10", "plot=false", "tensorboard=false",
            "progress=false"]


def test_a_resumed_run_continues_exactly(cli, tmp_path):
    """The warm starts and the step count (which system is solved) are state: 20 steps of many
    starts, then resume to 30, equal 30 steps at once."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("train", *TOY, "algo=cgd", "steps=20", "checkpoint_every=10", f"hydra.run.dir={a}")[0] == 0
    code, _, err = cli("train", f"resume={a}", "steps=30")
    assert code == 0, err
    assert cli("train", *TOY, "algo=cgd", "steps=30", f"hydra.run.dir={b}")[0] == 0
    assert rows_without_time(a) == rows_without_time(b)
    assert load_summary(a)["metrics"] == load_summary(b)["metrics"]


@pytest.mark.slow
def test_a_killed_acgd_gan_run_resumes_to_its_uninterrupted_twin(tmp_path):
    """SIGKILL past a checkpoint, resume: the rows of the uninterrupted run (ACGD's moments, the warm
    starts and the step count restored)."""
    import os
    import sys

    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    killed, twin = tmp_path / "killed", tmp_path / "twin"
    cmd = [sys.executable, "-m", "minimax_cli", "train", *TINY_MOG, "algo=acgd", "steps=150"]
    kill_resume_and_twin(cmd, env, killed, twin, past_step=25)
    assert rows_without_time(killed) == rows_without_time(twin)
    assert load_summary(killed)["metrics"] == load_summary(twin)["metrics"]


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_runs_in_every_precision(cli, tmp_path, precision):
    run = tmp_path / "run"
    code, _, err = cli("train", *TINY_MOG, "algo=acgd", "steps=4", f"hardware.precision={precision}",
                       "hardware.dtype=float32", f"hydra.run.dir={run}")
    assert code == 0, err
    assert load_summary(run)["status"] == "finished"
