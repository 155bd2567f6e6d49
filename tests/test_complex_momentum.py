"""algo=cm, complex momentum (Lorraine et al. 2022, Alg. 1): its update by hand, its step map's spectrum
against the closed form on bilinear and quadratic games, its special cases, its config checks."""

import json
import math
import re

import numpy as np
import pytest
import torch

from minimax_cli.algos.complex_momentum import ComplexMomentum
from minimax_cli.algos.gda import GDA
from minimax_cli.build import build
from minimax_cli.config import compose
from minimax_cli.errors import ConfigError
from minimax_cli.games.toy import Quadratic
from minimax_cli.metrics import spectrum
from minimax_cli.oracle import Oracle
from tests.conftest import make_game

A = [[1.0, 0.5], [-0.3, 0.6]]


def quadratic(h=0.0):
    """f = (h/2)‖x‖² − (h/2)‖y‖² + xᵀAy (h = 0: bilinear)."""
    I = np.eye(2)
    return make_game(Quadratic, A=(h * I).tolist(), B=A, C=(-h * I + 0.0).tolist())


def field_jacobian(h=0.0) -> np.ndarray:
    """J = ∂ξ/∂z of ξ = (∇ₓf, −∇ᵧf) = [[hI, A], [−Aᵀ, hI]]."""
    a = np.array(A)
    return np.block([[h * np.eye(2), a], [-a.T, h * np.eye(2)]])


def rho_step_map(algo, game) -> float:
    zero = torch.zeros(2, dtype=torch.float64)
    return float(np.abs(spectrum.eigs(spectrum.step_jacobian(algo, game, zero, zero)["matrix"])).max())


def closed_form_rho(lr, beta_abs, beta_arg, J) -> float:
    """SimCM's spectral radius: for each eigenvalue λ of J the augmented dynamics on (Re μ, Im μ, z) has
    the characteristic polynomial x³ − (1 + 2Re β − αλ)x² + (|β|² + 2Re β − α Re β λ)x − |β|²."""
    br, b2 = beta_abs * math.cos(beta_arg), beta_abs ** 2
    roots = [np.roots([1, -(1 + 2 * br - lr * lam), b2 + 2 * br - lr * br * lam, -b2]) for lam in np.linalg.eigvals(J)]
    return float(max(np.abs(r).max() for r in roots))


def alternating_matrix(lr, beta_abs, beta_arg, h=0.0) -> np.ndarray:
    """AltCM's linear map on (x, y, Re μx, Im μx, Re μy, Im μy), written out rule by rule with numpy."""
    a, n = np.array(A), 2
    br, bi = beta_abs * math.cos(beta_arg), beta_abs * math.sin(beta_arg)
    I, O = np.eye(n), np.zeros((n, n))
    rows = lambda *blocks: np.hstack(blocks)  # noqa: E731
    gx = rows(h * I, a, O, O, O, O)                       # ∇ₓf(x, y)
    mx_re = rows(O, O, br * I, -bi * I, O, O) - gx
    mx_im = rows(O, O, bi * I, br * I, O, O)
    x = rows(I, O, O, O, O, O) + lr * mx_re
    gy = rows(O, h * I, O, O, O, O) - a.T @ x             # ∇ᵧL_y = −∇ᵧf = hy − Aᵀx at (x⁺, y)
    my_re = rows(O, O, O, O, br * I, -bi * I) - gy
    my_im = rows(O, O, O, O, bi * I, br * I)
    y = rows(O, I, O, O, O, O) + lr * my_re
    return np.vstack([x, y, mx_re, mx_im, my_re, my_im])


def test_two_steps_by_hand():
    """μ⁺ = βμ − g, p⁺ = p + η Re μ⁺ with complex arithmetic, simultaneous and alternating."""
    game = quadratic(0.3)
    h, a = 0.3, np.array(A)
    beta = 0.8 * np.exp(1j * 0.7)
    for order in ("simultaneous", "alternating"):
        algo = ComplexMomentum(lr_x=0.1, lr_y=0.2, beta_abs=0.8, beta_arg=0.7, order=order)
        x0, y0 = np.array([1.0, -2.0]), np.array([0.5, 1.5])
        state = algo.init(torch.tensor(x0), torch.tensor(y0), Oracle(game))
        x, y, mx, my = x0, y0, np.zeros(2, complex), np.zeros(2, complex)
        for _ in range(2):
            state, _ = algo.step(state, Oracle(game))
            mx = beta * mx - (h * x + a @ y)
            x_new = x + 0.1 * mx.real
            y_at = x_new if order == "alternating" else x
            my = beta * my - (h * y - a.T @ y_at)          # ∇ᵧL_y = −∇ᵧf
            x, y = x_new, y + 0.2 * my.real
        np.testing.assert_allclose(state["x"].numpy(), x, rtol=1e-14)
        np.testing.assert_allclose(state["y"].numpy(), y, rtol=1e-14)
        np.testing.assert_allclose(state["mx_re"].numpy() + 1j * state["mx_im"].numpy(), mx, rtol=1e-14)
        np.testing.assert_allclose(state["my_re"].numpy() + 1j * state["my_im"].numpy(), my, rtol=1e-14)


@pytest.mark.parametrize("h", [0.0, 0.5])
@pytest.mark.parametrize("lr, beta_abs, beta_arg", [(0.3, 0.9, math.pi / 8), (0.5, 0.6, math.pi / 2),
                                                    (0.8, 0.95, 2.0), (0.2, 0.5, 0.0), (0.4, 0.3, math.pi)])
def test_simultaneous_step_map_has_the_closed_form_spectral_radius(h, lr, beta_abs, beta_arg):
    algo = ComplexMomentum(lr_x=lr, lr_y=lr, beta_abs=beta_abs, beta_arg=beta_arg)
    assert rho_step_map(algo, quadratic(h)) == pytest.approx(closed_form_rho(lr, beta_abs, beta_arg, field_jacobian(h)),
                                                             abs=1e-12)


def test_complex_momentum_converges_on_the_bilinear_game_where_real_momentum_cannot():
    """Bilinear game: GDA and heavy ball (arg β = 0) have ρ ≥ 1 at every step size, complex β < 1."""
    J = field_jacobian(0.0)
    lrs = np.linspace(0.02, 1.0, 50)
    assert min(closed_form_rho(lr, b, 0.0, J) for lr in lrs for b in (0.0, 0.5, 0.9)) >= 1 - 1e-12
    algo = ComplexMomentum(lr_x=0.5, lr_y=0.5, beta_abs=0.8, beta_arg=math.pi / 2)
    assert rho_step_map(algo, quadratic(0.0)) < 0.99


@pytest.mark.parametrize("h", [0.0, 0.4])
def test_alternating_step_map_is_the_rule_written_out(h):
    algo = ComplexMomentum(lr_x=0.3, lr_y=0.3, beta_abs=0.7, beta_arg=1.1, order="alternating")
    zero = torch.zeros(2, dtype=torch.float64)
    got = spectrum.step_jacobian(algo, quadratic(h), zero, zero)
    assert [name for name, _ in got["layout"]] == ["x", "y", "mx_re", "mx_im", "my_re", "my_im"]
    np.testing.assert_allclose(got["matrix"], alternating_matrix(0.3, 0.7, 1.1, h), atol=1e-14)


@pytest.mark.parametrize("order", ["simultaneous", "alternating"])
def test_real_beta_is_heavy_ball_gda(order):
    """arg β = 0: Polyak's heavy ball, algo=gda with momentum = |β| (Δ⁺ = βΔ − η∇); β = 0: GDA."""
    game = quadratic(0.2)
    for beta_abs in (0.0, 0.6):
        cm = ComplexMomentum(lr_x=0.1, lr_y=0.1, beta_abs=beta_abs, beta_arg=0.0, order=order)
        gda = GDA(lr_x=0.1, lr_y=0.1, momentum=beta_abs, order=order)
        sc = cm.init(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5]), Oracle(game))
        sg = gda.init(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, 0.5]), Oracle(game))
        for _ in range(5):
            sc, _ = cm.step(sc, Oracle(game))
            sg, _ = gda.step(sg, Oracle(game))
        torch.testing.assert_close(sc["x"], sg["x"], rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(sc["y"], sg["y"], rtol=1e-13, atol=1e-14)


def test_yaml_defaults_and_bad_input():
    algo = build(compose(["algo=cm"]).algo, "algo")
    assert (algo.beta_abs, algo.beta_arg, algo.order) == (0.9, pytest.approx(math.pi / 8), "simultaneous")
    assert algo.lr_y == algo.lr_x
    for kwargs, message in (({"beta_abs": 1.0}, "algo.beta_abs = |β| must be in [0, 1)"),
                            ({"beta_arg": "pi"}, "algo.beta_arg must be a finite number"),
                            ({"order": "sideways"}, "algo.order must be one of simultaneous, alternating")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            ComplexMomentum(tau=1.0, **kwargs)


def test_analyze_reports_the_closed_form_spectral_radius(cli):
    code, out, err = cli("analyze", "game=quadratic", f"game.A={[[0.0, 0.0], [0.0, 0.0]]}", f"game.B={A}",
                         f"game.C={[[0.0, 0.0], [0.0, 0.0]]}", "algo=cm", "algo.lr_x=0.4", "algo.beta_arg=1.5",
                         "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["spectral_radius"] == pytest.approx(closed_form_rho(0.4, 0.9, 1.5, field_jacobian(0.0)), abs=1e-12)


def test_train_counts_one_field_per_step(cli, runs_root):
    code, _, err = cli("train", "game=bilinear", "algo=cm", "steps=10", "log_every=5", "plot=false",
                       "tensorboard=false", "progress=false")
    assert code == 0, err
    summary = json.loads(next(runs_root.rglob("summary.json")).read_text())
    assert summary["algo"] == "cm" and summary["algo_params"]["beta_abs"] == 0.9
    assert summary["cost"]["grads"] == pytest.approx(10.0)


def test_resume_continues_a_cm_run_exactly(cli, tmp_path):
    """The buffer's real and imaginary parts are checkpointed: 30 steps then resume to 60 == 60 at once."""
    from tests.conftest import load_summary, rows_without_time

    run = ["game=g3", "game.starts=[[7.0,5.0],[2.0,-1.0]]", "algo=cm", "algo.lr_x=0.01", "algo.order=alternating",
           "log_every=10", "tensorboard=false", "plot=false", "progress=false"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("train", *run, "steps=30", "checkpoint_every=10", f"hydra.run.dir={a}")[0] == 0
    code, _, err = cli("train", f"resume={a}", "steps=60")
    assert code == 0, err
    assert cli("train", *run, "steps=60", f"hydra.run.dir={b}")[0] == 0
    assert rows_without_time(a) == rows_without_time(b)
    assert load_summary(a)["metrics"] == load_summary(b)["metrics"] and load_summary(a)["step"] == 60
