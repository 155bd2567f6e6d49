"""hardware=ddp: N processes on shards of each batch, every derivative averaged across them, equal
(to float rounding) to one process on the whole batch — for GDA and for the second-order methods."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from minimax_cli import distributed
from minimax_cli.errors import ConfigError
from minimax_cli.games.gan import GAN
from minimax_cli.oracle import Oracle
from tests.conftest import REPO, load_metrics, load_summary, make_game

#: tiny MLP GAN in float64: a step costs milliseconds, so the processes' start-up dominates
TINY = ["game=mog", "game.batch.mode=fresh", "game.batch.size=32", "game.batch.eval_size=64",
        "game.generator.width=8", "game.discriminator.width=8", "game.metrics.w1_samples=128",
        "game.metrics.kl_samples=256", "game.metrics.mode_samples=256", "hardware.dtype=float64",
        "plot=false", "tensorboard=false", "progress=false"]
ALGOS = {
    "gda": ["algo=gda", "algo.lr_x=0.05", "algo.lr_y=0.05"],
    # FR with CG on the normal equations, Levenberg-Marquardt damping, finite-difference mixed
    # products and RMSprop; non-saturating loss with a gradient penalty (general-sum, 3rd derivatives)
    "fr_cg": ["algo=fr", "algo.solver.kind=cg", "algo.solver.iters=3", "algo.solver.adaptive=true",
              "algo.mixed=fd", "algo.precond=rmsprop", "algo.lr_x=0.01", "algo.lr_y=0.01",
              "game.loss.kind=non_saturating", "game.loss.gp=1.0"],
    # HessianFR-DG: Barzilai-Borwein diagonal inverse (Gao et al. 2022, Eq. 3.33); R1 penalty
    "hessianfr_dg": ["algo=hessianfr", "algo.solver.kind=diag", "algo.lr_x=0.02", "algo.lr_y=0.02",
                     "algo.lr_y2=0.02", "game.loss.r1=1.0"],
    "lead": ["algo=lead", "algo.lr_x=0.05", "algo.alpha=0.05"],
    # CG warm-started from the state, its early exit decided on the ranks' averaged products
    "cgd": ["algo=cgd", "algo.lr_x=0.05"],
    "acgd": ["algo=acgd", "algo.lr_x=0.01"],
    "extra_adam": ["algo=extra_adam", "algo.lr_x=0.01"],
    "cm": ["algo=cm", "algo.lr_x=0.05"],
}
STEPS = ["steps=12", "log_every=3", "metrics_every=3", "checkpoint_every=12"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _env(tmp_path) -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), MINIMAX_RUNS=str(tmp_path / "runs"),
                PYTHONUNBUFFERED="1")


def compare_runs(a: Path, b: Path) -> dict:
    """Max abs and rel difference per metric over every metrics.jsonl row, and of every tensor of the
    final algorithm state (checkpoint); the rows must name the same steps and metrics."""
    ra, rb = load_metrics(a), load_metrics(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb] and len(ra) > 2
    diffs = {}
    for x, y in zip(ra, rb):
        assert set(x) == set(y)
        for key in set(x) - {"step", "wall_time_s"}:
            d = abs(x[key] - y[key])
            old = diffs.get(key, (0.0, 0.0))
            diffs[key] = (max(old[0], d), max(old[1], d / max(abs(x[key]), 1e-12)))
    sa = torch.load(a / "checkpoints" / "last.pt", weights_only=True)["runner"]["state"]
    sb = torch.load(b / "checkpoints" / "last.pt", weights_only=True)["runner"]["state"]
    la, _ = torch.utils._pytree.tree_flatten(sa)
    lb, _ = torch.utils._pytree.tree_flatten(sb)
    assert len(la) == len(lb)
    d = max(float((p - q).abs().max()) for p, q in zip(la, lb) if isinstance(p, torch.Tensor) and p.numel())
    scale = max(float(p.abs().max()) for p in la if isinstance(p, torch.Tensor) and p.numel())
    diffs["final state"] = (d, d / scale)
    return diffs


# -- the mathematics: a mean over shards of every derivative is the derivative on the whole batch ---------
def _oracle_calls(game, x, y):
    u, v = torch.randn(game.dim_x, dtype=x.dtype), torch.randn(game.dim_y, dtype=y.dtype)
    return {
        "losses": lambda o: o.losses(x, y), "field": lambda o: o.field(x, y), "grad_x": lambda o: o.grad_x(x, y),
        "grad_y": lambda o: o.grad_y(x, y), "_gx": lambda o: o._gx(x, y), "_gy": lambda o: o._gy(x, y),
        "_field": lambda o: o._field(x, y), "loss_x": lambda o: o.loss_x(x, y), "loss_y": lambda o: o.loss_y(x, y),
        "hvp_yy": lambda o: o.hvp_yy(x, y, v), "hvp_yx": lambda o: o.hvp_yx(x, y, u),
        "hvp_xy": lambda o: o.hvp_xy(x, y, v), "hvp_xx": lambda o: o.hvp_xx(x, y, u),
        "grad_y_of_leader": lambda o: o.grad_y_of_leader(x, y),
        "hvp_xy_follower": lambda o: o.hvp_xy_follower(x, y, v),
        "field_jvp": lambda o: o.field_jvp(x, y, u, v), "field_vjp": lambda o: o.field_vjp(x, y, u, v),
        "hess_yy": lambda o: o.hess_yy(x, y), "field_jacobian": lambda o: o.field_jacobian(x, y),
        "_value_field": lambda o: o._value_field(x, y),
        "field_and_losses": lambda o: o.field_and_losses(x, y),
        # requests that hand out closures: their results and what the closures then compute
        "field_with_vjp": lambda o: _closure_results(o.field_with_vjp(x, y), u, v),
        "value_field_with_vjp": lambda o: _closure_results(o.value_field_with_vjp(x, y), u, v),
        "follower_curvature": lambda o: _closure_results(o.follower_curvature(x, y), v),
        "follower_at": lambda o: (o.follower_at(x).grad(y), *_closure_results(o.follower_at(x).curvature(y), v)),
    }


def _closure_results(out, *args):
    first, closure = out
    return first, closure(*args)


@pytest.mark.parametrize("loss", [{"kind": "non_saturating", "gp": 1.0, "l2": 1e-3},
                                  {"kind": "saturating", "r1": 1.0}, {"kind": "wgan"}])
def test_every_oracle_request_averaged_over_shards_is_the_whole_batch_request(loss):
    """The premise of exact data parallelism, for every Oracle method the distributed one reduces:
    (1/N) Σ_r request(shard r) = request(whole batch), with N = 4 equal shards (L2 and gradient
    penalties included: the penalty's batch-free term is the same on every shard)."""
    game = make_game(GAN, name="mog", data="mog1d", generator={"latent": 2, "width": 4, "depth": 1},
                     discriminator={"width": 4, "depth": 1}, loss=loss,
                     batch={"mode": "fresh", "size": 8, "dataset_size": 8})
    torch.manual_seed(0)
    x, y = game.initial_points()
    x, y = x[0] + 0.1 * torch.randn(game.dim_x), y[0] + 0.1 * torch.randn(game.dim_y)
    batch = game.sample(1)
    calls = _oracle_calls(game, x, y)
    assert set(calls) == set(distributed.REDUCED)   # every reduced request is checked
    whole = Oracle(game, batch)
    shards = [Oracle(game, distributed.shard(batch, r, 4)) for r in range(4)]
    for name, call in calls.items():
        expected, _ = torch.utils._pytree.tree_flatten(call(whole))
        parts = [torch.utils._pytree.tree_flatten(call(o))[0] for o in shards]
        for i, e in enumerate(expected):
            mean = sum(p[i] for p in parts) / 4
            torch.testing.assert_close(mean, e, rtol=1e-10, atol=1e-12, msg=f"{name} with {loss}")


def test_every_oracle_method_is_classified():
    """A derivative added to the Oracle later must be declared reduced (or bookkeeping), or a
    data-parallel run would silently use a rank's shard alone."""
    methods = {n for n, v in vars(Oracle).items() if callable(v)}
    assert methods == set(distributed.REDUCED) | set(distributed.NOT_REDUCED)


class _CountingComm:
    rank, world = 1, 2

    def __init__(self):
        self.calls = 0

    def mean(self, tree):
        self.calls += 1
        return torch.utils._pytree.tree_map(lambda t: 10 * t if isinstance(t, torch.Tensor) else t, tree)


def test_a_request_is_reduced_once_however_it_is_computed(monkeypatch):
    """hvp_yy differentiates _gy, field calls _field and the losses: one all-reduce per request,
    of its result, on this rank's half of the batch."""
    comm = _CountingComm()
    monkeypatch.setattr(distributed, "_COMM", comm)
    game = make_game(GAN, name="mog", data="mog1d", generator={"latent": 2, "width": 4, "depth": 1},
                     discriminator={"width": 4, "depth": 1}, batch={"mode": "fresh", "size": 8, "dataset_size": 8})
    x, y = (p[0] for p in game.initial_points())
    batch = game.sample(1)
    oracle = distributed.DistributedOracle(game, batch)
    assert torch.equal(oracle.batch["real"], batch["real"][4:]) and torch.equal(oracle.batch["z"], batch["z"][4:])
    v = torch.ones(game.dim_y)
    local = Oracle(game, distributed.shard(batch, 1, 2))
    torch.testing.assert_close(oracle.hvp_yy(x, y, v), 10 * local.hvp_yy(x, y, v))
    gx, gy = oracle.field(x, y)
    torch.testing.assert_close(gx, 10 * local.field(x, y)[0])
    assert comm.calls == 2 and oracle._depth == 0
    # products handed out by a request are reduced when the algorithm calls them, once each
    g, hvp = oracle.follower_curvature(x, y)
    torch.testing.assert_close(g, 10 * local.grad_y(x, y))
    torch.testing.assert_close(hvp(v), 10 * local.hvp_yy(x, y, v))
    xi, transpose = oracle.field_with_vjp(x, y)
    torch.testing.assert_close(xi[0], 10 * local.field(x, y)[0])
    a, b = torch.ones(game.dim_x), v
    for got, want in zip(transpose(a, b), local.field_vjp(x, y, a, b)):
        torch.testing.assert_close(got, 10 * want)
    torch.testing.assert_close(oracle.follower_at(x).grad(y), 10 * local.grad_y(x, y))
    assert comm.calls == 8 and oracle._depth == 0
    assert type(oracle.next_batch()) is distributed.DistributedOracle


def test_shard_slices_every_batch_tensor_and_refuses_unequal_shards():
    batch = {"real": torch.arange(12.).reshape(6, 2), "z": torch.arange(6.), "scale": torch.tensor(3.0)}
    part = distributed.shard(batch, 2, 3)
    assert part["real"].tolist() == [[8.0, 9.0], [10.0, 11.0]] and part["z"].tolist() == [4.0, 5.0]
    assert float(part["scale"]) == 3.0 and distributed.shard(None, 0, 2) is None
    with pytest.raises(ConfigError, match=r"into 4 equal shards, but a batch tensor has 6 rows; make the game's "
                                          r"batch sizes .* multiples of hardware.nproc=4"):
        distributed.shard(batch, 0, 4)


@pytest.mark.parametrize("args, message", [
    (["hardware=ddp", "hardware.nproc=2"], "game g1 is analytic (no batch): run it with hardware=cpu"),
    (["game=mog", "hardware=ddp", "hardware.nproc=0"],
     "hardware.nproc must be null (one per visible GPU) or an integer >= 1"),
    (["game=mog", "hardware=ddp", "hardware.nproc=2", "hardware.backend=mpi"],
     "hardware.backend must be one of auto, gloo, nccl"),
    (["game=mog", "hardware=ddp"], "hardware=ddp without a GPU: say how many CPU processes to run with hardware.nproc=N"),
    (["game=mog", "hardware=ddp", "hardware.nproc=2", "hardware.timeout_s=0"],
     "hardware.timeout_s must be a number of seconds > 0"),
])
def test_bad_ddp_input_is_one_line_and_starts_nothing(cli, runs_root, args, message):
    code, _, err = cli("train", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not runs_root.exists()


def test_under_torchrun_nproc_must_match_and_sweeps_are_refused(cli, runs_root, monkeypatch):
    for key, value in (("RANK", "0"), ("WORLD_SIZE", "3"), ("MASTER_ADDR", "localhost"), ("MASTER_PORT", "1")):
        monkeypatch.setenv(key, value)
    code, _, err = cli("train", "game=mog", "hardware=ddp", "hardware.nproc=2")
    assert code == 2 and "hardware.nproc=2 but torchrun started 3 processes" in err
    code, _, err = cli("train", "-m", "game=mog", "hardware=ddp", "seed=1,2")
    assert code == 2 and "under torchrun, run one job per torchrun (without -m)" in err


# -- the real thing: 2 processes (gloo) vs 1 process -----------------------------------------------------------
@pytest.mark.slow
def test_two_processes_on_half_batches_equal_one_process_on_the_whole_batch(tmp_path):
    """GDA, FR (CG + adaptive damping + fd mixed products), HessianFR-DG and LEAD: every metrics.jsonl
    row (losses, gradient norms, W1/KL/modes, algorithm info such as the damping) and the whole final
    algorithm state of a 2-process gloo run equal those of the 1-process run, to float64 rounding."""
    jobs = {name: TINY + algo + STEPS + ["hardware=ddp", "hardware.nproc=2"] for name, algo in ALGOS.items()}
    out = tmp_path / "ddp"
    proc = subprocess.run(TORCHRUN + [str(REPO / "tests" / "ddp_worker.py"), str(out), json.dumps(jobs)],
                          cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from tests.ddp_worker import main as run_jobs

    run_jobs(str(tmp_path / "one"), json.dumps({name: TINY + algo + STEPS for name, algo in ALGOS.items()}))
    report = {}
    for name in ALGOS:
        one = tmp_path / "one" / name
        summary = load_summary(out / name)
        assert summary["world_size"] == 2 and summary["ranks_in_sync"] is True and "world_size" not in load_summary(one)
        diffs = compare_runs(out / name, one)
        report[name] = diffs
        for key, (abs_diff, rel_diff) in diffs.items():
            assert abs_diff <= 1e-12 or rel_diff <= 1e-9, (name, key, abs_diff, rel_diff)
    assert {"algo/damping"} <= set(report["fr_cg"])   # the adaptive damping is compared too
    (tmp_path / "equivalence.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({n: {k: f"abs {a:.1e} rel {r:.1e}" for k, (a, r) in d.items()} for n, d in report.items()},
                     indent=1))


@pytest.mark.slow
def test_torchrun_directly_then_resume_through_minimax_train(tmp_path, cli, runs_root):
    """`torchrun -m minimax_cli.cli train hardware=ddp` (no run dir given: rank 0's ${now} is shared,
    torchrun's world size is written into the config) runs 6 steps with checkpoints; then
    `minimax train resume=<run dir> steps=12` starts torchrun itself, every rank loads the
    checkpoint, and the run ends where a 1-process 12-step run on the whole batch ends."""
    fr = TINY + ALGOS["fr_cg"] + ["log_every=3", "metrics_every=3", "checkpoint_every=3"]
    proc = subprocess.run(TORCHRUN + ["-m", "minimax_cli.cli", "train", *fr, "hardware=ddp", "steps=6"],
                          cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = [p.parent for p in runs_root.rglob("summary.json")]        # one run dir for both ranks
    assert sorted(p.name for p in run.iterdir()) == [".hydra", "checkpoints", "metrics.jsonl", "minimax.log",
                                                     "summary.json"]
    assert "- hardware.nproc=2" in (run / ".hydra" / "overrides.yaml").read_text().splitlines()
    log = (run / "minimax.log").read_text()
    assert f"run dir: {run}" in log and "rank 0: " in log and "rank 1" not in log   # rank 1 wrote nothing
    code, _, err = cli("train", f"resume={run}", "steps=12")
    assert code == 0, err
    summary = load_summary(run)
    assert summary["status"] == "finished" and summary["step"] == 12 and summary["world_size"] == 2
    assert "resuming at step 6" in (run / "minimax.log").read_text()
    from tests.ddp_worker import main as run_jobs

    run_jobs(str(tmp_path / "one"), json.dumps({"fr": fr + ["steps=12"]}))
    for key, (abs_diff, rel_diff) in compare_runs(run, tmp_path / "one" / "fr").items():
        assert abs_diff <= 1e-12 or rel_diff <= 1e-9, (key, abs_diff, rel_diff)


@pytest.mark.slow
@pytest.mark.parametrize("mode, error", [
    ("raise", "rank 1: RuntimeError: test game failing_gan: deliberate failure on rank 1 at step 3 (traceback in "),
    ("hang", "rank 1 of 2 stopped without an error report: killed (by a signal, out of memory?) or hung past "
             "hardware.timeout_s"),
])
def test_a_failing_rank_fails_the_run_with_its_own_error_and_nothing_hangs(tmp_path, cli, mode, error):
    """Rank 1 raises (its traceback lands in error.txt) or hangs (rank 0's all-reduce times out after
    hardware.timeout_s): the run ends promptly as failed, with the root cause, not rank 0's lost
    connection, in summary.json; what was logged before stays."""
    run = tmp_path / "run"
    started = time.perf_counter()
    code, _, err = cli("train", f"hydra.searchpath=[file://{REPO}/tests/conf]", "game=failing_gan", f"game.mode={mode}",
                       *TINY[1:], "steps=10", "log_every=2", "metrics_every=2", "hardware=ddp", "hardware.nproc=2",
                       "hardware.timeout_s=20", f"hydra.run.dir={run}")
    assert code == 1 and time.perf_counter() - started < 200
    summary = load_summary(run)
    assert summary["status"] == "failed" and summary["error"].startswith(error), summary["error"]
    assert summary["step"] == 2 and "w1" in summary["metrics"]
    if mode == "raise":
        assert "deliberate failure on rank 1" in (run / "error.txt").read_text()
