"""Extra-Adam (Gidel et al. 2019, Alg. 4) against its public implementation's semantics and a closed form.

The reference (GauthierGidel/Variational-Inequality-GAN, optim/extragradient.py ``ExtraAdam``) is a
torch.optim optimizer with ``extrapolation()`` and ``step()``: both run the same Adam update, which
advances the step counter and commits both moments; ``extrapolation`` adds the update to the current
parameters after saving them, ``step`` adds it to the saved ones. ``RefExtraAdam`` below re-states
those semantics as a torch.optim.Optimizer, driven by the reference training loop's order
(extrapolation on one minibatch, then the update on the next one).
"""

import math

import numpy as np
import pytest
import torch

from minimax_cli.algos.extra_adam import ExtraAdam
from minimax_cli.errors import ConfigError
from minimax_cli.games.gan import GAN
from minimax_cli.games.toy import Quadratic
from minimax_cli.oracle import CostMeter, Oracle
from tests.conftest import make_game
from tests.quadratic_case import X0, Y0, quadratic_game

SMALL = {"batch": {"mode": "fresh", "size": 24, "latent": "fresh"},
         "metrics": {"w1_samples": 48, "kl_samples": 128, "mode_samples": 128}}
TINY = {"generator": {"latent": 2, "depth": 1, "width": 6, "activation": "tanh"},
        "discriminator": {"depth": 1, "width": 7, "activation": "tanh"}}


class RefExtraAdam(torch.optim.Optimizer):
    """The reference optimizer's semantics (one Adam rule for both calls; ε outside the bias correction)."""

    def __init__(self, params, lr, betas, eps):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.saved = []

    def _update(self, p, group):
        state = self.state[p]
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        beta1, beta2 = group["betas"]
        state["step"] += 1
        state["exp_avg"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        denom = state["exp_avg_sq"].sqrt().add_(group["eps"])
        step_size = group["lr"] * math.sqrt(1 - beta2 ** state["step"]) / (1 - beta1 ** state["step"])
        return -step_size * state["exp_avg"] / denom

    @torch.no_grad()
    def extrapolation(self):
        for group in self.param_groups:
            for p in group["params"]:
                u = self._update(p, group)
                self.saved.append(p.clone())
                p.add_(u)

    @torch.no_grad()
    def step(self):
        params = [p for group in self.param_groups for p in group["params"]]
        for p, old in zip(params, self.saved):
            p.copy_(old + self._update(p, self.param_groups[0]))
        self.saved = []


def reference_run(game, x0, y0, batches, steps, lr_x, lr_y, betas=(0.5, 0.9), eps=1e-8):
    """The reference training loop's order: both players' gradients at the same point, extrapolation
    on batch 2k, the update on batch 2k+1."""
    x = x0.clone().requires_grad_()
    y = y0.clone().requires_grad_()
    gen, dis = RefExtraAdam([x], lr_x, betas, eps), RefExtraAdam([y], lr_y, betas, eps)
    for k in range(2 * steps):
        batch = batches[k]
        x.grad = torch.autograd.grad(game.loss_x(x, y, batch), x)[0]
        y.grad = torch.autograd.grad(game.loss_y(x, y, batch), y)[0]
        for opt in (dis, gen):
            opt.extrapolation() if k % 2 == 0 else opt.step()
    return x.detach(), y.detach()


def ours(game, algo, x0, y0, batches, steps):
    state = algo.init(x0, y0, Oracle(game, batches[0]))
    for k in range(steps):
        rest = iter(batches[2 * k + 1:])
        oracle = Oracle(game, batches[2 * k], sampler=lambda: next(rest))
        state, _ = algo.step(state, oracle)
    return state


def assert_equal_to_1e12(a, b):
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_equals_the_reference_on_a_bilinear_game_over_30_steps():
    game = make_game(Quadratic, A=[[0.0, 0.0], [0.0, 0.0]], B=[[1.0, -2.0, 0.5], [0.3, 1.0, -1.0]],
                     C=[[0.0] * 3] * 3)
    x0, y0 = torch.tensor(X0), torch.tensor(Y0)
    batches = [None] * 60
    for lr_x, lr_y in ((0.05, 0.05), (0.02, 0.07)):
        algo = ExtraAdam(lr_x=lr_x, lr_y=lr_y)
        state = ours(game, algo, x0, y0, batches, 30)
        rx, ry = reference_run(game, x0, y0, batches, 30, lr_x, lr_y)
        assert_equal_to_1e12(state["x"], rx)
        assert_equal_to_1e12(state["y"], ry)
        assert float(state["px"]["t"]) == float(state["py"]["t"]) == 60.0    # two Adam steps per iteration


def test_equals_the_reference_on_the_mog_nets_over_20_steps_each_half_step_on_its_own_batch():
    game = make_game(GAN, name="mog", seed=3, **{**SMALL, **TINY, "loss": {"kind": "wgan", "gp": 1.0}})
    x, y = game.initial_points()
    x0, y0 = x[0], y[0]
    batches = [game.sample(k) for k in range(40)]
    algo = ExtraAdam(lr_x=5e-3, lr_y=1e-2)
    state = ours(game, algo, x0, y0, batches, 20)
    rx, ry = reference_run(game, x0, y0, batches, 20, 5e-3, 1e-2)
    assert not torch.allclose(rx, x0)
    assert_equal_to_1e12(state["x"], rx)
    assert_equal_to_1e12(state["y"], ry)
    # a single batch for both half-steps is another trajectory
    same = ExtraAdam(lr_x=5e-3, lr_y=1e-2, fresh_batch=False)
    other = ours(game, same, x0, y0, batches, 20)
    assert not torch.allclose(other["x"], rx)


def test_one_step_closed_form_on_a_bilinear_game():
    """f = xᵀBy from (x0, y0): g = (By0, −Bᵀx0) from zero moments gives u1 = −η g / (|g| + ε/√(1−β2));
    the update's g' at z + u1 then gives m2 = β1(1−β1)g + (1−β1)g', v2 = β2(1−β2)g² + (1−β2)g'² and
    z+ = z − η √(1−β2²)/(1−β1²) · m2 / (√v2 + ε)."""
    B = np.array([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0]])
    game = make_game(Quadratic, A=np.zeros((2, 2)).tolist(), B=B.tolist(), C=np.zeros((3, 3)).tolist())
    lr, b1, b2, eps = 0.1, 0.5, 0.9, 1e-3       # a large ε so that its place shows
    z = np.concatenate([X0, Y0])

    def field(z):
        return np.concatenate([B @ z[2:], -B.T @ z[:2]])   # (∇_x f, −∇_y f)

    g = field(z)
    u1 = -lr * g / (np.abs(g) + eps / np.sqrt(1 - b2))
    g2 = field(z + u1)
    m2 = b1 * (1 - b1) * g + (1 - b1) * g2
    v2 = b2 * (1 - b2) * g * g + (1 - b2) * g2 * g2
    expected = z - lr * np.sqrt(1 - b2 ** 2) / (1 - b1 ** 2) * m2 / (np.sqrt(v2) + eps)
    algo = ExtraAdam(lr_x=lr, lr_y=lr, beta1=b1, beta2=b2, eps=eps)
    oracle = Oracle(game)
    state, _ = algo.step(algo.init(torch.tensor(X0), torch.tensor(Y0), oracle), oracle)
    np.testing.assert_allclose(np.concatenate([state["x"].numpy(), state["y"].numpy()]), expected,
                               rtol=1e-13, atol=1e-15)


def test_differs_from_eg_with_adam_whose_look_ahead_commits_no_moments():
    from minimax_cli.algos.extragradient import Extrapolation

    game = quadratic_game()
    oracle = Oracle(game)
    x0, y0 = torch.tensor(X0), torch.tensor(Y0)
    ea = ExtraAdam(lr_x=0.05, lr_y=0.05)
    eg = Extrapolation("eg", lr_x=0.05, lr_y=0.05, precond={"kind": "adam", "beta1": 0.5, "beta2": 0.9})
    a, _ = ea.step(ea.init(x0, y0, oracle), oracle)
    b, _ = eg.step(eg.init(x0, y0, oracle), oracle)
    assert not torch.allclose(a["x"], b["x"])


def test_counts_two_gradients_per_step():
    game = quadratic_game()
    cost = CostMeter()
    oracle = Oracle(game, cost=cost)
    algo = ExtraAdam(lr_x=0.05, lr_y=0.05)
    state = algo.init(torch.tensor(X0), torch.tensor(Y0), oracle)
    algo.step(state, oracle)
    assert cost.grads == 2


@pytest.mark.parametrize("kw, message", [
    ({"beta1": 1.0}, r"algo.beta1 must lie in \[0, 1\) \(got 1.0\)"),
    ({"beta2": -0.1}, r"algo.beta2 must lie in \[0, 1\) \(got -0.1\)"),
    ({"eps": 0.0}, r"algo.eps must be > 0 \(got 0.0\)"),
    ({"fresh_batch": "yes"}, r"algo.fresh_batch must be true or false \(got 'yes'\)"),
])
def test_bad_settings_get_one_clear_line(kw, message):
    with pytest.raises(ConfigError, match=message):
        ExtraAdam(lr_x=0.1, lr_y=0.1, **kw)


# -- composes with the rest: resume, precisions, analyze -------------------------------------------------------
TINY_RUN = ["game=mog", "game.batch.mode=fresh", "game.batch.size=32", "game.batch.eval_size=64",
            "game.generator.width=8", "game.discriminator.width=8", "game.metrics.w1_samples=128",
            "game.metrics.kl_samples=256", "game.metrics.mode_samples=256", "algo=extra_adam", "algo.lr_x=0.01",
            "plot=false", "tensorboard=false", "progress=false", "log_every=3", "metrics_every=3"]


def test_resume_continues_an_extra_adam_run_exactly(cli, tmp_path):
    """Moments, step counters and the two-batches-a-step sampler state restored: 6 steps then resume to
    12 == 12 steps at once."""
    from tests.conftest import load_summary, rows_without_time

    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("train", *TINY_RUN, "hardware.dtype=float64", "steps=6", "checkpoint_every=3", f"hydra.run.dir={a}")[0] == 0
    code, _, err = cli("train", f"resume={a}", "steps=12")
    assert code == 0, err
    assert cli("train", *TINY_RUN, "hardware.dtype=float64", "steps=12", f"hydra.run.dir={b}")[0] == 0
    assert rows_without_time(a) == rows_without_time(b)
    sa, sb = load_summary(a), load_summary(b)
    assert sa["metrics"] == sb["metrics"] and sa["step"] == sb["step"] == 12


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_runs_in_every_cpu_precision(cli, tmp_path, precision):
    from tests.conftest import load_summary

    run = tmp_path / precision
    code, _, err = cli("train", *TINY_RUN, "hardware.dtype=float32", f"hardware.precision={precision}", "steps=6",
                       f"hydra.run.dir={run}")
    assert code == 0, err
    summary = load_summary(run)
    assert summary["status"] == "finished" and all(math.isfinite(v) for v in summary["metrics"].values()
                                                   if isinstance(v, float))


def test_analyze_names_why_an_adam_step_map_has_no_jacobian_at_a_critical_point(cli):
    """As for every Adam-preconditioned algorithm: √v is not differentiable at v = 0, where the moments
    start at a critical point."""
    code, _, err = cli("analyze", "game=bilinear_random", "algo=extra_adam")
    assert code != 0
    assert "the step Jacobian of extra_adam is not finite at this point (adaptive preconditioners are not " \
           "differentiable where their second moment is 0)" in err


@pytest.mark.slow
def test_lead_cifar_smoke_has_the_tables_baselines(monkeypatch, tmp_path):
    """Askari Hemmat et al. 2023, Table 1's Extra-Adam row (and CGD-WGAN's once algo=cgd exists) run as
    smoke variants with the paper's numbers beside them."""
    import json

    from torchvision.datasets import CIFAR10

    from minimax_cli.catalog import option_names
    from tests.conftest import load_summary
    from tests.reproduce_command import reproduce

    for name in ("train_list", "test_list", "meta"):
        monkeypatch.setattr(CIFAR10, name, getattr(CIFAR10, name))
    baselines = ["extra_adam_resnet"] + (["cgd_wgan"] if "cgd" in option_names("algo") else [])
    out = tmp_path / "lead"
    assert reproduce(["lead-cifar", "--quick", "--only", ",".join(baselines), "--out", str(out)]) == 0
    rows = {r["optimizer"]: r for r in json.loads((out / "rows.json").read_text())["rows"]}
    assert set(rows) == set(baselines) and all(r["fid"] > 0 for r in rows.values())
    summary = load_summary(out / "runs" / "resnet" / "extra_adam_resnet" / "seed0")
    assert summary["algo"] == "extra_adam" and (summary["algo_params"]["lr_x"], summary["algo_params"]["lr_y"]) == (5e-5, 5e-4)
    table = (out / "table.md").read_text()
    assert "| ResNet | Extra-Adam (Gidel et al. 2019) | 1 |" in table and "(16.78)" in table and "(8.47)" in table


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    import os
    import sys

    from tests.conftest import kill_resume_and_twin, rows_without_time

    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    killed, twin = tmp_path / "killed", tmp_path / "twin"
    cmd = [sys.executable, "-m", "minimax_cli", "train", *TINY_RUN, "hardware.dtype=float64", "steps=3000",
           "log_every=10", "metrics_every=1000", "checkpoint_every=100"]
    kill_resume_and_twin(cmd, env, killed, twin, past_step=150)
    assert rows_without_time(killed) == rows_without_time(twin)
