"""Checkpoints and resume: a killed run continues to exactly the metrics of an uninterrupted twin."""

import os
import sys

import numpy as np
import pytest
import torch

from tests.conftest import kill_resume_and_twin, load_summary, rows_without_time

TOY = ["game=g3", "game.starts=[[7.0,5.0],[2.0,-1.0],[-3.0,3.0]]", "algo=fr", "algo.solver.kind=cg",
       "algo.solver.iters=1", "algo.solver.adaptive=true", "algo.mixed=fd", "algo.precond=rmsprop",
       "algo.lr_x=0.01", "algo.lr_y=0.01", "ema=0.9", "log_every=10", "tensorboard=false"]
GAN = ["game=mog", "game.batch.mode=fresh", "game.batch.size=64", "game.generator.width=16",
       "game.discriminator.width=16", "game.metrics.kl_samples=512", "game.metrics.mode_samples=500",
       "algo=fr", "algo.lr_x=0.001", "algo.lr_y=0.001", "algo.precond=rmsprop", "algo.mixed=fd",
       "algo.solver.kind=cg", "algo.solver.iters=2", "algo.solver.adaptive=true", "ema=0.9",
       "pretrain.steps=15", "+algo@pretrain.algo=gda_alt", "pretrain.algo.lr_x=0.001",
       "pretrain.algo.precond=adam", "log_every=10", "checkpoint_every=20", "plot=false", "tensorboard=false"]


def test_resume_continues_a_run_exactly(cli, tmp_path):
    """40 steps, then resume to 100 == 100 steps at once: every logged row, the summary, the
    per-start outcome (ridge damping, RMSprop moments, EMA and plotted trajectory all restored)."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("train", *TOY, "steps=40", "checkpoint_every=10", f"hydra.run.dir={a}")[0] == 0
    code, _, err = cli("train", f"resume={a}", "steps=100")
    assert code == 0, err
    assert cli("train", *TOY, "steps=100", f"hydra.run.dir={b}")[0] == 0
    assert rows_without_time(a) == rows_without_time(b)
    sa, sb = load_summary(a), load_summary(b)
    assert sa["metrics"] == sb["metrics"] and sa["step"] == sb["step"] == 100 and sa["status"] == sb["status"]
    ta, tb = np.load(a / "trajectories.npz"), np.load(b / "trajectories.npz")
    for key in ("x", "y", "trajectory", "status", "stop_step"):
        np.testing.assert_array_equal(ta[key], tb[key])


def test_checkpoint_is_plain_tensors_and_holds_the_algorithm_state(cli, tmp_path):
    run = tmp_path / "run"
    assert cli("train", *TOY, "steps=20", "checkpoint_every=10", f"hydra.run.dir={run}")[0] == 0
    payload = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    state = payload["runner"]["state"]
    assert payload["phase"] == "main" and payload["runner"]["step"] == 20
    assert set(state) >= {"x", "y", "px", "py", "damping"} and set(state["py"]) >= {"v", "t"}
    assert payload["runner"]["ema"].shape == state["x"].shape
    assert payload["config"]["algo.solver.kind"] == "cg"


def test_a_corrupt_checkpoint_is_one_line_and_nothing_changes(cli, tmp_path):
    run = tmp_path / "run"
    assert cli("train", *TOY, "steps=20", "checkpoint_every=10", f"hydra.run.dir={run}")[0] == 0
    ckpt = run / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])            # truncated, as by a full disk
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, out, err = cli("train", f"resume={run}", "steps=40")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"minimax: error: checkpoint {ckpt} is unreadable: corrupt, truncated or not written by minimax (")
    assert line.endswith("); nothing was changed")
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


@pytest.mark.parametrize("change, named", [("algo.lr_x=0.02", "algo.lr_x: 0.01 -> 0.02"),
                                           ("game.scale=0.1", "game.scale: 1.0 -> 0.1"),
                                           ("seed=3", "seed: 0 -> 3")])
def test_a_mismatched_config_is_refused(cli, tmp_path, change, named):
    run = tmp_path / "run"
    assert cli("train", *TOY, "steps=20", "checkpoint_every=10", f"hydra.run.dir={run}")[0] == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, _, err = cli("train", f"resume={run}", change)
    assert code == 2 and "belongs to another config" in err and named in err, err
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


@pytest.mark.parametrize("args, message", [
    (["resume=true"], "resume=true needs the run's directory"),
    (["resume=/nonexistent/run"], "is not a run directory"),
    (["-m", "resume=true", "seed=1,2"], "resume=... continues one run"),
])
def test_bad_resume_requests_are_one_line(cli, args, message):
    code, _, err = cli("train", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_resume_without_a_checkpoint_says_so(cli, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "steps=5", f"hydra.run.dir={run}")[0] == 0
    code, _, err = cli("train", f"resume={run}")
    assert code == 2 and "no checkpoint at" in err


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    """A GAN run (fresh minibatches, pre-training phase, FR with CG + damping + RMSprop, generator EMA)
    killed with SIGKILL mid-way and resumed ends with metrics identical to its uninterrupted twin."""
    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    killed, twin = tmp_path / "killed", tmp_path / "twin"
    cmd = [sys.executable, "-m", "minimax_cli", "train", *GAN, "steps=80"]
    kill_resume_and_twin(cmd, env, killed, twin, past_step=55)   # past the checkpoint at step 40 (15 pretrain + 25)
    assert rows_without_time(killed) == rows_without_time(twin)
    s_killed, s_twin = load_summary(killed), load_summary(twin)
    assert s_killed["metrics"] == s_twin["metrics"]
    assert s_killed["pretrain"]["status"] == s_twin["pretrain"]["status"] == "finished"
    assert s_killed["step"] == s_twin["step"] == 95


# -- the plotted trajectory of a 2-D game: its own append-only file, not the checkpoint ----------------------
def test_a_2d_checkpoint_stays_the_same_size_however_long_the_run(cli, tmp_path):
    sizes = {}
    for steps in (20, 200):
        run = tmp_path / f"run{steps}"
        assert cli("train", *TOY, "tol=0", f"steps={steps}", "checkpoint_every=10", f"hydra.run.dir={run}")[0] == 0
        payload = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        assert payload["runner"]["trajectory"] is None and payload["runner"]["trajectory_rows"] == steps + 1
        rows = np.fromfile(run / "checkpoints" / "trajectory.bin").reshape(-1, 3, 2)
        np.testing.assert_array_equal(rows, np.load(run / "trajectories.npz")["trajectory"])
        sizes[steps] = (run / "checkpoints" / "last.pt").stat().st_size
    assert abs(sizes[200] - sizes[20]) < 256, sizes


def test_trajectory_log_appends_counts_and_cuts_back(tmp_path, monkeypatch):
    from minimax_cli import trajectory
    from minimax_cli.errors import DataError

    monkeypatch.setattr(trajectory, "SPILL_ROWS", 4)
    path = tmp_path / "checkpoints" / "trajectory.bin"
    rows = [torch.full((2, 2), float(i)) for i in range(11)]
    log = trajectory.TrajectoryLog.start(rows[0], path)
    for row in rows[1:6]:
        log.append(row)
    assert log.saved == 4 and len(log) == 6                     # 4 rows spilled without a checkpoint
    assert log.payload() == {"trajectory": None, "trajectory_rows": 6} and path.stat().st_size == 6 * 4 * 8
    for row in rows[6:]:                                        # a process killed after its checkpoint at row 6 ...
        log.append(row)
    log.spill()
    resumed = trajectory.TrajectoryLog.restore(rows[0], path, {"trajectory_rows": 6})
    assert path.stat().st_size == 6 * 4 * 8                     # ... leaves rows the resumed run drops
    for row in rows[6:]:
        resumed.append(row)
    torch.testing.assert_close(resumed.tensor(), torch.stack(rows), rtol=0, atol=0)
    memory = trajectory.TrajectoryLog.start(rows[0])            # no file: rows in memory and in the payload
    for row in rows[1:]:
        memory.append(row)
    torch.testing.assert_close(memory.payload()["trajectory"], torch.stack(rows), rtol=0, atol=0)
    with pytest.raises(DataError, match="holds 10 rows of the plotted trajectory, the checkpoint needs 20"):
        trajectory.TrajectoryLog.restore(rows[0], path, {"trajectory_rows": 20})


@pytest.mark.slow
def test_sigkill_then_resume_keeps_a_2d_trajectory_row_identical(tmp_path):
    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    killed, twin = tmp_path / "killed", tmp_path / "twin"
    cmd = [sys.executable, "-m", "minimax_cli", "train", *TOY, "tol=0", "steps=240", "checkpoint_every=40",
           "progress=false"]
    kill_resume_and_twin(cmd, env, killed, twin, past_step=100)
    assert rows_without_time(killed) == rows_without_time(twin)
    ta, tb = np.load(killed / "trajectories.npz"), np.load(twin / "trajectories.npz")
    assert ta["trajectory"].shape == (241, 3, 2)
    for key in ("x", "y", "trajectory", "status", "stop_step"):
        np.testing.assert_array_equal(ta[key], tb[key])
