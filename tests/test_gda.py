"""The GDA family against its closed form on a quadratic game (one step, by hand with numpy)."""

import numpy as np
import pytest
import torch

from minimax_cli.algos.gda import GDA
from minimax_cli.errors import ConfigError
from minimax_cli.oracle import Oracle
from tests.quadratic_case import X0, Y0, grad_x, grad_y, quadratic_game, run_steps


@pytest.fixture
def game():
    return quadratic_game()


def test_simultaneous_gda_one_step(game):
    x, y = run_steps(GDA(lr_x=0.1, lr_y=0.3), game, 1)
    np.testing.assert_allclose(x, X0 - 0.1 * grad_x(X0, Y0), rtol=1e-12)
    np.testing.assert_allclose(y, Y0 + 0.3 * grad_y(X0, Y0), rtol=1e-12)


def test_alternating_gda_uses_the_new_leader(game):
    x, y = run_steps(GDA(lr_x=0.1, lr_y=0.3, order="alternating"), game, 1)
    x1 = X0 - 0.1 * grad_x(X0, Y0)
    np.testing.assert_allclose(x, x1, rtol=1e-12)
    np.testing.assert_allclose(y, Y0 + 0.3 * grad_y(x1, Y0), rtol=1e-12)


def test_alternating_follower_first(game):
    x, y = run_steps(GDA(lr_x=0.1, lr_y=0.3, order="alternating_follower_first"), game, 1)
    y1 = Y0 + 0.3 * grad_y(X0, Y0)
    np.testing.assert_allclose(y, y1, rtol=1e-12)
    np.testing.assert_allclose(x, X0 - 0.1 * grad_x(X0, y1), rtol=1e-12)


def test_explicit_lr_y_wins_over_tau():
    assert GDA(lr_x=0.1, lr_y=0.3, tau=2.0).lr_y == 0.3
    assert GDA(lr_x=0.1, tau=2.0).lr_y == pytest.approx(0.2)


def test_tau_gda_scales_the_follower(game):
    x, y = run_steps(GDA(lr_x=0.02, tau=7.5), game, 1)
    np.testing.assert_allclose(x, X0 - 0.02 * grad_x(X0, Y0), rtol=1e-12)
    np.testing.assert_allclose(y, Y0 + 0.15 * grad_y(X0, Y0), rtol=1e-12)


@pytest.mark.parametrize("beta", [0.6, -0.4])
def test_heavy_ball_momentum(game, beta):
    """x_{t+1} = x_t − η∇ + β(x_t − x_{t−1}) (Polyak), negative β included, from rest."""
    x, y = run_steps(GDA(lr_x=0.1, lr_y=0.2, momentum=beta), game, 3)
    xs, ys = [X0, X0], [Y0, Y0]
    for _ in range(3):
        gx, gy = grad_x(xs[-1], ys[-1]), grad_y(xs[-1], ys[-1])
        xs.append(xs[-1] - 0.1 * gx + beta * (xs[-1] - xs[-2]))
        ys.append(ys[-1] + 0.2 * gy + beta * (ys[-1] - ys[-2]))
    np.testing.assert_allclose(x, xs[-1], rtol=1e-12)
    np.testing.assert_allclose(y, ys[-1], rtol=1e-12)


def test_gda_k_follower_steps(game):
    """GDA-k (Gao et al. 2022, App. A): the follower takes k ascent steps at x_t."""
    x, y = run_steps(GDA(lr_x=0.1, lr_y=0.2, follower_steps=3), game, 1)
    yk = Y0.copy()
    for _ in range(3):
        yk = yk + 0.2 * grad_y(X0, yk)
    np.testing.assert_allclose(x, X0 - 0.1 * grad_x(X0, Y0), rtol=1e-12)
    np.testing.assert_allclose(y, yk, rtol=1e-12)


@pytest.mark.parametrize("kind", ["rmsprop", "adam"])
def test_adaptive_preconditioners_two_steps(game, kind):
    b1, b2, eps = 0.5, 0.9, 1e-8
    algo = GDA(lr_x=0.1, lr_y=0.2, precond={"kind": kind, "beta1": b1, "beta2": b2, "eps": eps})
    x, y = run_steps(algo, game, 2)
    xs, ys = X0.copy(), Y0.copy()
    state = {k: np.zeros(len(v)) for k, v in (("mx", X0), ("vx", X0), ("my", Y0), ("vy", Y0))}
    for t in (1, 2):
        gx, gy = grad_x(xs, ys), -grad_y(xs, ys)  # each player descends its own loss
        for p, g, lr in (("x", gx, 0.1), ("y", gy, 0.2)):
            state["v" + p] = b2 * state["v" + p] + (1 - b2) * g * g
            vhat = state["v" + p] / (1 - b2**t)
            if kind == "adam":
                state["m" + p] = b1 * state["m" + p] + (1 - b1) * g
                num = state["m" + p] / (1 - b1**t)
            else:
                num = g
            step = -lr * num / (np.sqrt(vhat) + eps)
            if p == "x":
                dx = step
            else:
                dy = step
        xs, ys = xs + dx, ys + dy
    np.testing.assert_allclose(x, xs, rtol=1e-10)
    np.testing.assert_allclose(y, ys, rtol=1e-10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr_x=-0.1, lr_y=0.1), "algo.lr_x must be >= 0"),
    (dict(lr_x=0.1, lr_y=-1.0), "algo.lr_y must be >= 0"),
    (dict(lr_x=0.1), "give algo.lr_y or algo.tau"),
    (dict(lr_x=0.1, tau=0.0), "algo.tau must be > 0"),
    (dict(lr_x=0.1, lr_y=0.1, momentum=1.0), "algo.momentum must lie in (-1, 1)"),
    (dict(lr_x=0.1, lr_y=0.1, order="sideways"), "algo.order must be one of"),
    (dict(lr_x=0.1, lr_y=0.1, precond="lbfgs"), "algo.precond.kind must be one of"),
])
def test_bad_hyper_parameters_are_one_clear_error(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GDA(**kwargs)


def test_lr_decay_is_seed003s_schedule(game):
    """γ_k = γ / (1 + k)^ν at the k-th step (k = 0, 1, ...), Fiez & Ratliff 2021's LambdaLR(1/(1+k)^ν)."""
    nu = 0.5
    x, y = run_steps(GDA(lr_x=0.1, lr_y=0.2, precond={"kind": "sgd", "lr_decay": nu}), game, 3)
    xs, ys = X0.copy(), Y0.copy()
    for k in range(3):
        gx, gy = grad_x(xs, ys), grad_y(xs, ys)
        xs, ys = xs - 0.1 / (1 + k) ** nu * gx, ys + 0.2 / (1 + k) ** nu * gy
    np.testing.assert_allclose(x, xs, rtol=1e-12)
    np.testing.assert_allclose(y, ys, rtol=1e-12)


def test_lr_decay_with_rmsprop_keeps_one_step_counter(game):
    algo = GDA(lr_x=0.1, lr_y=0.1, precond={"kind": "rmsprop", "lr_decay": 0.005})
    oracle = Oracle(game)
    state = algo.init(torch.tensor(X0), torch.tensor(Y0), oracle)
    for _ in range(4):
        state, _ = algo.step(state, oracle)
    assert float(state["px"]["t"]) == 4.0 and set(state["px"]) == {"t", "v"}
