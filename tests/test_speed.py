"""Issue 15's mechanisms: thread counts, the fast paths (plain autograd, fused Adam, direct MLP
forward) equal to the transformable ones, reverse-over-reverse products, evaluation cadence."""

import os
import subprocess
import sys

import pytest
import torch
from torch.func import functional_call, jacfwd, vmap

from minimax_cli import cpus
from minimax_cli.algos.gda import GDA
from minimax_cli.algos.precond import Precond
from minimax_cli.checks import check_run
from minimax_cli.config import compose
from minimax_cli.cpus import apply_threads
from minimax_cli.errors import ConfigError
from minimax_cli.games.gan import GAN
from minimax_cli.games.nets.flat import FlatModule
from minimax_cli.games.nets.mlp import MLP
from minimax_cli.games.toy import G3
from minimax_cli.oracle import Oracle
from minimax_cli.runner import LoopSettings, Runner, default_metrics_every
from tests.conftest import REPO, make_game

TINY = {"generator": {"latent": 3, "width": 6, "depth": 2}, "discriminator": {"width": 5, "depth": 2},
        "batch": {"mode": "fixed", "dataset_size": 40, "size": 40, "latent": "fresh"}}


def tiny_gan(**kw):
    return make_game(GAN, name="mog", **{**TINY, "loss": {"kind": "saturating", "l2": 1e-3}, **kw})


# -- threads ----------------------------------------------------------------------------------------------
def test_a_cgroup_quota_caps_the_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr(cpus, "_cgroup_dirs", lambda root: [root / "a", root])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "cpu.max").write_text("150000 100000\n")       # 1.5 CPUs -> 2
    (tmp_path / "cpu.max").write_text("max 100000\n")                # no limit above
    assert cpus.quota_cpus(tmp_path) == 2
    (tmp_path / "cpu.max").write_text("100000 100000\n")             # a tighter one above
    assert cpus.quota_cpus(tmp_path) == 1
    (tmp_path / "a" / "cpu.max").unlink()
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu.cfs_quota_us").write_text("-1\n")               # v1 without a quota
    (tmp_path / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus.quota_cpus(tmp_path) is None


def test_default_threads_take_the_least_limit_shared_among_local_ranks(monkeypatch):
    monkeypatch.setattr(cpus, "affinity_cpus", lambda: 8)
    monkeypatch.setattr(cpus, "quota_cpus", lambda: 6)
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "4")
    monkeypatch.setattr(cpus, "_TORCH_DEFAULT", [16])
    assert cpus.available_cpus() == 4 and cpus.default_threads() == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert cpus.default_threads() == 1
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    monkeypatch.delenv("LOCAL_WORLD_SIZE")
    monkeypatch.setattr(cpus, "_TORCH_DEFAULT", [2])                  # torch's own default (cores) caps too
    assert cpus.default_threads() == 2


def test_apply_threads_sets_the_default_or_the_configured_count(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(cpus, "default_threads", lambda: 1)
    try:
        apply_threads({"threads": None})
        assert torch.get_num_threads() == 1
        apply_threads({"threads": 2})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_openmp_threads_wait_passively_unless_the_user_chose():
    code = "import os, minimax_cli; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_the_first_jvp_raises_no_torch_jit_future_warning():
    code = ("import torch\nfrom minimax_cli.oracle import jvp\n"
            "print(jvp(lambda v: (v ** 3).sin(), (torch.ones(3),), (torch.ones(3),))[1].shape)")
    out = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


# -- fast paths equal the transformable ones -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("spec", [{"kind": "adam", "beta1": 0.5, "beta2": 0.9}, {"kind": "rmsprop", "beta2": 0.99}])
def test_fused_preconditioner_equals_the_formulas_and_leaves_the_state_untouched(spec, dtype):
    pc = Precond.build(spec, momentum=0.3)
    gen = torch.Generator().manual_seed(0)
    fused = pure = pc.init(torch.zeros(50, dtype=dtype))
    for _ in range(4):
        d = torch.randn(50, generator=gen, dtype=dtype)
        kept = {k: v.clone() for k, v in fused.items()}
        step_f, new_f = pc.step(d, fused, 0.01)                                 # not under a transform: fused
        assert all(torch.equal(kept[k], fused[k]) for k in kept)                # pure: the old state is intact
        step_p, pure = vmap(lambda g, s: pc.step(g, s, 0.01))(d[None], {k: v[None] for k, v in pure.items()})
        pure = {k: v[0] for k, v in pure.items()}
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        torch.testing.assert_close(step_f, step_p[0], rtol=tol, atol=tol * 1e-2)
        fused = new_f
    for k in fused:
        torch.testing.assert_close(fused[k], pure[k], rtol=1e-12 if dtype == torch.float64 else 1e-5, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("spec", [{"kind": "adam", "beta1": 0.5, "beta2": 0.9}, {"kind": "rmsprop", "beta2": 0.99},
                                  {"kind": "adam", "lr_decay": 0.1}, "sgd"])
@pytest.mark.parametrize("momentum", [0.0, 0.3])
def test_advance_is_the_point_plus_the_step(spec, dtype, momentum):
    """``advance`` (the fused kernel writing the new point where it can) equals p + step(d), and
    leaves the point and the state passed in untouched."""
    pc = Precond.build(spec, momentum=momentum)
    gen = torch.Generator().manual_seed(1)
    p = torch.randn(40, generator=gen, dtype=dtype)
    st = pc.init(p)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for _ in range(4):
        d = torch.randn(40, generator=gen, dtype=dtype)
        kept_p, kept = p.clone(), {k: v.clone() for k, v in st.items()}
        moved, new = pc.advance(p, d, st, 0.01)
        assert torch.equal(p, kept_p) and all(torch.equal(kept[k], st[k]) for k in kept)
        step, reference = pc.step(d, st, 0.01)
        torch.testing.assert_close(moved, p + step, rtol=tol, atol=tol * 1e-2)
        for k in new:
            torch.testing.assert_close(new[k], reference[k], rtol=tol, atol=tol)
        p, st = moved, new


def test_plain_autograd_paths_equal_torch_func_paths():
    """Outside transforms the oracle uses torch.autograd; under vmap torch.func: same values."""
    game = tiny_gan(loss={"kind": "non_saturating", "l2": 1e-3, "gp": 0.5})
    x, y = (t[0] for t in game.initial_points())
    oracle = Oracle(game, game.sample(1))
    u, v = torch.randn_like(x), torch.randn_like(y)
    calls = {"field": lambda o, a, b: o.field(a, b), "grad_x": lambda o, a, b: o.grad_x(a, b),
             "grad_y": lambda o, a, b: o.grad_y(a, b), "hvp_yy": lambda o, a, b: o.hvp_yy(a, b, v),
             "hvp_yx": lambda o, a, b: o.hvp_yx(a, b, u, with_grad=True),
             "hvp_xy": lambda o, a, b: o.hvp_xy(a, b, v, with_grad=True), "hvp_xx": lambda o, a, b: o.hvp_xx(a, b, u),
             "hvp_xy_follower": lambda o, a, b: o.hvp_xy_follower(a, b, v),
             "field_and_losses": lambda o, a, b: o.field_and_losses(a, b)}
    for name, call in calls.items():
        plain = torch.utils._pytree.tree_leaves(call(oracle, x, y))
        under_vmap = torch.utils._pytree.tree_leaves(vmap(lambda a, b: call(oracle, a, b))(x[None], y[None]))
        for p, q in zip(plain, under_vmap):
            torch.testing.assert_close(p, q[0], rtol=1e-10, atol=1e-12, msg=name)


def test_reverse_over_reverse_products_are_the_jacobians_blocks():
    game = make_game(G3)
    x, y = torch.tensor([0.7], dtype=torch.float64), torch.tensor([-1.3], dtype=torch.float64)
    oracle = Oracle(game)
    jac = jacfwd(lambda z: torch.cat(oracle._field(z[:1], z[1:])))(torch.cat([x, y]))   # rows: ∇_x L_x, ∇_y L_y
    u, v = torch.tensor([0.3], dtype=torch.float64), torch.tensor([-2.0], dtype=torch.float64)
    g, prod = oracle.hvp_yx(x, y, u, with_grad=True)
    torch.testing.assert_close(prod, jac[1:, :1] @ u, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(g, oracle.grad_y(x, y), rtol=0, atol=0)
    torch.testing.assert_close(oracle.hvp_xy(x, y, v), jac[:1, 1:] @ v, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(oracle.hvp_yy(x, y, v), jac[1:, 1:] @ v, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(oracle.hess_yy(x, y), jac[1:, 1:], rtol=1e-13, atol=1e-14)


def test_an_mlp_runs_layer_by_layer_exactly_as_functional_call():
    torch.manual_seed(0)
    mlp = MLP(3, 2, 2, 7, "tanh")
    flat = FlatModule(mlp)
    assert flat._plan is not None
    x, z = flat.initial() + 0.1, torch.randn(11, 3)
    assert torch.equal(flat(x, z), functional_call(mlp, flat.unflatten(x), (z,)))
    hooked = MLP(3, 2, 1, 4, "relu")
    hooked[0].register_forward_hook(lambda *a: None)
    assert FlatModule(hooked)._plan is None                   # hooks: functional_call keeps them


# -- evaluation cadence -------------------------------------------------------------------------------------
def test_neural_games_evaluate_every_metrics_every_steps_and_at_the_end():
    game = tiny_gan()
    assert default_metrics_every(game, 10) == 100 and default_metrics_every(game, 30) == 120
    assert default_metrics_every(make_game(G3), 10) == 10

    class Rows:
        dir = None

        def __init__(self):
            self.rows = []

        def log(self, step, metrics, wall):
            self.rows.append((step, metrics))

    log = Rows()
    result = Runner(game, GDA(lr_x=1e-3, lr_y=1e-3), LoopSettings(steps=25, log_every=5, metrics_every=10, tol=1e-6,
                    progress=False, log=log)).run()
    evaluated = [s for s, m in log.rows if "grad_norm/y" in m and "w1" in m]
    assert [s for s, _ in log.rows] == [0, 5, 10, 15, 20, 25] and evaluated == [0, 10, 20, 25]
    assert all("cost/grads" in m for s, m in log.rows if s)
    assert "w1" in result.metrics and "kl" in result.metrics and 0 < result.metrics_time_s < result.wall_time_s
    with pytest.raises(ConfigError, match="multiple of log_every"):
        Runner(game, GDA(lr_x=1e-3, lr_y=1e-3),
               LoopSettings(steps=5, log_every=4, metrics_every=10, tol=0.0, progress=False))


@pytest.mark.parametrize("value, message", [(0, "integer >= 1"), (15, "multiple of log_every"), (True, "integer")])
def test_metrics_every_is_validated_with_the_other_keys(value, message):
    with pytest.raises(ConfigError, match=message):
        check_run(compose(["game=g1", f"metrics_every={value}"]))
