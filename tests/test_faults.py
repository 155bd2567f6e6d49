"""Faults a user or a cluster throws at a run (issue 12): each ends in one clear line or a run that
records what happened, never a traceback, a lost run, or someone else's code."""

import math
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as sla
import torch
from torch.func import vmap

from minimax_cli import checkpoint, linalg
from minimax_cli.games.toy import G3
from minimax_cli.metrics import tau_star
from scripts.fault_drill import holder
from tests.conftest import REPO, load_summary, run_dirs


# -- many starts, one bad start ------------------------------------------------------------------------
def test_a_singular_solve_gives_nan_for_that_start_only_under_vmap():
    A = torch.stack([torch.eye(2), torch.zeros(2, 2), 2 * torch.eye(2)]).double()
    z = vmap(linalg.solve)(A, torch.ones(3, 2, dtype=torch.float64))
    assert torch.equal(z[0], torch.ones(2, dtype=torch.float64)) and torch.isnan(z[1]).all()
    assert torch.allclose(z[2], torch.full((2,), 0.5, dtype=torch.float64))


def test_one_start_with_a_singular_follower_hessian_ends_alone_and_npz_agrees_with_summary(cli, runs_root):
    # at (0, 300) g3's factor e^{-0.01 (x^2 + y^2)} underflows: H_yy = 0 exactly, FR's solve is singular
    code, _, err = cli("train", "game=g3", "algo=fr", "game.starts=[[7.0,5.0],[0.0,300.0],[1.0,1.0]]",
                       "steps=30", "tensorboard=false")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    summary = load_summary(run)
    assert summary["status"] == "finished" and summary["step"] == 30
    assert summary["fraction_diverged"] == pytest.approx(1 / 3)
    assert math.isfinite(summary["metrics"]["algo/ridge_norm"])   # the frozen start's NaN is not logged
    npz = np.load(run / "trajectories.npz")
    assert list(npz["status"]) == ["finished", "diverged", "finished"]
    assert list(npz["stop_step"]) == [30, 1, 30]
    assert np.isfinite(npz["x"]).all() and np.isfinite(npz["y"]).all()   # frozen at its last finite iterate


def test_npz_of_a_single_finished_start_says_finished_at_the_last_step(cli, runs_root):
    code, _, err = cli("train", "game=g3", "steps=20", "tensorboard=false", "plot=false")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    npz, summary = np.load(run / "trajectories.npz"), load_summary(run)
    assert summary["status"] == "finished"
    assert list(npz["status"]) == ["finished"] and list(npz["stop_step"]) == [summary["step"]]


# -- reports and analysis -------------------------------------------------------------------------------
@pytest.mark.parametrize("garbage", ["garb{{", "null", '{"status": 5}', '{"status": "finished", "metrics": 3}'])
def test_report_lists_a_garbage_summary_as_unreadable_and_prints_the_table(cli, runs_root, garbage):
    for seed in (0, 1):
        code, _, err = cli("train", "game=g3", "steps=10", f"seed={seed}", "tensorboard=false", "plot=false")
        assert code == 0, err
    bad, good = run_dirs(runs_root)
    (bad / "summary.json").write_text(garbage)
    code, out, err = cli("report", str(runs_root))
    assert code == 0, err
    header, _, row = [line for line in out.splitlines() if line.startswith("|")][:3]
    assert out.startswith("Grouped by game.name, algo.name (mean ± std over seed")   # the caption, then the table
    assert "| failed | unreadable |" in header
    assert "| g3 | gda | 2 |" in row
    assert f"- unreadable: {bad} (" in out and "summary.json" in out.split(f"- unreadable: {bad}")[1]
    code, out, _ = cli("report", str(runs_root), "--status", "unreadable")
    assert code == 0 and "| g3 | gda | 1 |" in out


def test_analyze_says_stable_for_every_tau_on_a_degenerate_point(cli):
    code, out, err = cli("analyze", "game=quadratic", "game.A=[[1.0]]", "game.B=[[2.0]]", "game.C=[[0.0]]")
    assert code == 0, err
    assert "never stable" not in out
    assert "stable for every τ > 0" in out and "J_τ stable for τ in (0, ∞)" in out


ISSUE_GAME = (np.array([[-0.367799, -1.765038], [-1.765038, -2.302941]]),
              np.array([[-0.121652, 0.809157], [-0.708116, 0.166793]]),
              np.array([[-1.308625, -1.437425], [-1.437425, -1.856027]]))


def _jacobian(A, B, C):
    return np.block([[A, B], [-B.T, -C]])


def test_stability_at_large_tau_is_judged_on_the_scale_of_j_not_of_j_tau():
    J = _jacobian(*ISSUE_GAME)
    # J_τ's slow eigenvalue tends to ~0.37 while max|J_τ| ~ 3τ: still stable at τ = 1e13
    assert all(tau_star.is_stable(J, 2, t) for t in (30.0, 1e6, 1e10, 1e13))
    assert not tau_star.is_stable(J, 2, 20.0)


def test_infinite_eigenvalues_of_the_guard_pencil_are_never_roots(monkeypatch):
    """LAPACK may return the pencil's n1(n1+1)/2 infinite eigenvalues as huge finite values (β ≈ 1e-16
    instead of 0): they must not become a guard root that ends stable_intervals at τ ≈ 1e14."""
    eig = sla.eig

    def rounded(a, b, **kw):
        alpha, beta = eig(a, b, **kw)
        beta = np.where(beta == 0, 1e-16 * np.abs(alpha) + 1e-300, beta)
        return alpha, beta

    monkeypatch.setattr(tau_star.sla, "eig", rounded)
    J = _jacobian(*ISSUE_GAME)
    report = tau_star.analyze(J, 2)
    assert report["guard_roots"] == pytest.approx([1.0748728814, 4.7041897151, 24.9768705007], rel=1e-8)
    assert report["stable_intervals"] == [[pytest.approx(24.9768705007, rel=1e-9), None]]
    assert report["dse"] and report["agree"]
    assert report["value"] == pytest.approx(24.9768705007, rel=1e-9)


# -- validation before a run directory exists -------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["seed=abc"], "seed must be an integer (got 'abc')"),
    (["converge_on=banana"], "converge_on must be one of grad_norm, dist_to_eq (got 'banana')"),
    (["ema=1.5"], "ema must be null or a number in [0, 1) (got 1.5)"),
    (["plot_starts=-1"], "plot_starts must be an integer >= 0 (got -1)"),
    (["game=mog", "algo=fr", "algo.solver.kind=exact"], "algo.solver.kind=exact builds the dense 4353x4353"),
    (["game=mog", "algo=iu", "algo.inner=newton"], "algo.inner=newton builds the dense 9666x9666"),
    (["hardware=ddp", "hardware.nproc=2", "game=mog", "game.batch.size=4999", "game.batch.dataset_size=4999"],
     "game.batch.size=4999 is not a multiple of 2"),
    (["checkpoint_every=-5"], "checkpoint_every must be an integer >= 0 (got -5)"),
    (["diverge_norm=0"], "diverge_norm must be > 0 or inf (got 0)"),
    (["diverge_norm=-1"], "diverge_norm must be > 0 or inf (got -1)"),
    (["check_every=0"], "check_every must be null or an integer >= 1 (got 0)"),
    (["algo.lr_x=abc"], "algo.lr_x must be a number >= 0 (got 'abc')"),
    (["algo=tgda", "algo.tau=-2"], "algo.tau must be null or a number > 0 (got -2)"),
    (["algo=tgda", "algo.lr_y=${.nope}"], "algo.lr_y = ${.nope} cannot be computed"),
    (["algo=fr", "algo.solver.iters=0"], "algo.solver.iters must be an integer >= 1 (got 0)"),
    (["+algo@pretrain.algo=gda", "pretrain.steps=2", "pretrain.algo.lr_x=-1"], "pretrain.algo.lr_x must be >= 0"),
    (["hardware.threads=0"], "hardware.threads must be null or an integer >= 1 (got 0)"),
    (["tensorboard=maybe"], "tensorboard must be true or false (got 'maybe')"),
])
def test_bad_input_anywhere_in_the_config_is_one_line_and_no_run_directory(cli, runs_root, args, message):
    code, out, err = cli("train", *args, "steps=3")
    assert code == 2
    assert err.strip().splitlines() == [f"minimax: error: {err.strip().split('minimax: error: ', 1)[1]}"]
    assert message in err, err
    assert not runs_root.exists()


def test_interpolated_values_are_checked_as_computed_and_unknown_keys_pass():
    from omegaconf import OmegaConf

    from minimax_cli import schema
    from minimax_cli.errors import ConfigError

    cfg = OmegaConf.create({"algo": {"tau": -1.0, "lr_x": 0.1, "lr_y": "${mul:${.tau},${.lr_x}}"},
                            "metrics_every": 5, "game": {"data": "/some/file.npy"}})
    with pytest.raises(ConfigError, match=r"algo.tau must be null or a number > 0 \(got -1.0\)"):
        schema.validate(cfg)
    cfg.algo.tau = 4.0
    schema.validate(cfg)                              # keys without a rule are accepted as they are
    rules = dict(schema.RULES, metrics_every=schema.integer(1))   # a rule for a new key: one line
    cfg.metrics_every = 0
    with pytest.raises(ConfigError, match=r"metrics_every must be an integer >= 1 \(got 0\)"):
        schema.validate(cfg, rules)
    cfg.algo.lr_x = -0.5
    with pytest.raises(ConfigError, match=r"algo.lr_x must be >= 0 \(got -0.5\)"):
        schema.validate(cfg)


# -- the runs root and the disk ----------------------------------------------------------------------------
def _minimax(args, cwd=REPO, env=None, limit_bytes=None, timeout=240):
    """``python -m minimax_cli ...`` in a child; ``limit_bytes``: RLIMIT_FSIZE (writes beyond it fail
    with EFBIG, as on a full disk; SIGXFSZ ignored so the write returns the error)."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "minimax_cli", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit if limit_bytes is not None else None)


@pytest.mark.parametrize("how", ["env", "override"])
def test_an_empty_runs_root_means_runs_in_the_working_directory(tmp_path, how):
    env = {"MINIMAX_RUNS": ""}
    args = ["train", "steps=2", "plot=false", "tensorboard=false"] + (["runs_root="] if how == "override" else [])
    done = _minimax(args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "runs" / "g1" / "gda").iterdir())) == 1


def _read_only_dir(tmp_path):
    """A folder this process cannot write: a read-only tmpfs (as root), else a chmod 555 folder."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                          capture_output=True).returncode != 0:
            pytest.skip("root without mount: no read-only folder to test with")
        return path, lambda: subprocess.run(["umount", str(path)], capture_output=True)
    path.chmod(0o555)
    return path, lambda: path.chmod(0o755)


@pytest.mark.parametrize("fault", ["file", "read-only", "full"])
def test_an_unusable_runs_root_is_one_line_naming_it_before_anything_is_written(tmp_path, fault):
    cleanup, limit = (lambda: None), None
    if fault == "file":
        root = tmp_path / "a_file"
        root.write_text("not a folder")
        expected = f"{root} is a file, not a directory"
    elif fault == "read-only":
        root, cleanup = _read_only_dir(tmp_path)
        expected = f"{root} is "
    else:                      # every write fails as on a full disk (the probe write included)
        root, limit = tmp_path / "runs", 0
        expected = f"{tmp_path} cannot be written (File too large)"
    try:
        done = _minimax(["train", f"runs_root={root}", "steps=2"], limit_bytes=limit)
    finally:
        cleanup()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("minimax: error: cannot write the run directory ") and expected in lines[0], lines[0]
    assert "choose another runs_root" in lines[0]
    assert not root.is_dir() or not any(root.iterdir())


def test_a_disk_that_fills_mid_run_ends_it_failed_with_the_reason_and_the_last_checkpoint_intact(tmp_path):
    root = tmp_path / "runs"
    done = _minimax(["train", f"runs_root={root}", "game=g3", "steps=1000000", "log_every=1",
                     "checkpoint_every=50", "progress=false"], limit_bytes=100_000)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Exception in thread" not in done.stderr, done.stderr
    (run,) = run_dirs(root)
    summary = load_summary(run)
    assert summary["status"] == "failed" and "File too large (errno EFBIG)" in summary["error"]
    assert f"run failed: {summary['error']}" in done.stderr
    payload = checkpoint.load(checkpoint.path_in(run))       # still a whole, readable checkpoint
    assert 0 < payload["runner"]["step"] <= summary["step"] + 50
    assert not [p for p in run.rglob(".*tmp*")]               # no temp file left behind


# -- signals -------------------------------------------------------------------------------------------------
def _start(args, env_root, **kw):
    env = dict(os.environ, MINIMAX_RUNS=str(env_root), PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "minimax_cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for_rows(folder: Path, rows: int, need_checkpoint: bool, proc, timeout=180) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        for metrics in folder.rglob("metrics.jsonl"):
            ready = not need_checkpoint or (metrics.parent / "checkpoints" / "last.pt").exists()
            if ready and len(metrics.read_text().splitlines()) >= rows:
                return metrics.parent
        time.sleep(0.1)
    raise AssertionError(f"no run reached {rows} rows: {proc.communicate(timeout=30)}")


@pytest.mark.slow
def test_sigterm_ends_a_run_interrupted_with_a_checkpoint_and_it_resumes(tmp_path):
    root = tmp_path / "runs"
    proc = _start(["train", "game=g3", "steps=100000000", "log_every=50", "checkpoint_every=100000",
                   "progress=false", "plot=false", "tensorboard=false"], root)
    run = _wait_for_rows(root, 3, need_checkpoint=False, proc=proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "interrupted after" in err
    summary = load_summary(run)
    assert summary["status"] == "interrupted" and summary["step"] > 0
    assert checkpoint.load(checkpoint.path_in(run))["runner"]["step"] == summary["step"]  # written at the stop
    resumed = _minimax(["train", f"resume={run}", f"steps={summary['step'] + 20}"], env={"MINIMAX_RUNS": str(root)})
    assert resumed.returncode == 0, resumed.stderr
    assert load_summary(run)["status"] == "finished" and load_summary(run)["step"] == summary["step"] + 20


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the job's process through /proc")
def test_slurms_pre_timeout_signal_ends_a_submitit_job_interrupted_and_resumable(tmp_path):
    """conf/hydra/launcher/slurm.yaml has SLURM send submitit's USR2 signal_delay_s before the time
    limit; the same job process under submitit_local (hydra/launcher=local) gets it here: the job
    ends interrupted with its checkpoint, the sweep completes, and the run resumes."""
    sweep = tmp_path / "sweep"
    proc = _start(["train", "-m", "game=g3", "steps=100000000", "log_every=50", "checkpoint_every=100000",
                   "progress=false", "plot=false", "tensorboard=false", "hydra/launcher=local",
                   f"hydra.sweep.dir={sweep}"], tmp_path / "runs")
    run = _wait_for_rows(sweep, 3, need_checkpoint=False, proc=proc)
    pid = holder(run / "metrics.jsonl")
    assert pid is not None and pid != proc.pid
    os.kill(pid, signal.SIGUSR2)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err                       # the sweep itself completed
    summary = load_summary(run)
    assert summary["status"] == "interrupted"
    assert checkpoint.load(checkpoint.path_in(run))["runner"]["step"] == summary["step"]


@pytest.mark.slow
def test_sigterm_to_a_data_parallel_run_stops_every_rank_at_one_step_and_it_resumes(tmp_path):
    """SIGTERM to `minimax train hardware=ddp` (torchrun passes it on): the ranks agree on a step
    boundary, rank 0 writes the checkpoint and the summary of that step, nothing hangs or fails."""
    run = tmp_path / "run"
    proc = _start(["train", f"hydra.searchpath=[file://{REPO}/tests/conf]", "game=tiny_mog", "steps=100000000",
                   "log_every=20", "checkpoint_every=100000", "progress=false", "plot=false", "tensorboard=false",
                   "hardware=ddp", "hardware.nproc=2", f"hydra.run.dir={run}"], tmp_path / "runs")
    _wait_for_rows(run.parent, 3, need_checkpoint=False, proc=proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and not (run / "error.txt").exists()
    summary = load_summary(run)
    assert summary["status"] == "interrupted" and summary["world_size"] == 2
    assert checkpoint.load(checkpoint.path_in(run))["runner"]["step"] == summary["step"]
    resumed = _minimax(["train", f"resume={run}", f"steps={summary['step'] + 10}",
                        f"hydra.searchpath=[file://{REPO}/tests/conf]"])   # configs only from the command line
    assert resumed.returncode == 0, resumed.stderr
    assert load_summary(run)["status"] == "finished"


# -- resume: a run directory is data (fixture finished_run: conftest.py) -----------------------------------------
def _evil_folder(tmp_path) -> Path:
    folder = tmp_path / "evil"
    (folder / "game").mkdir(parents=True)
    marker = tmp_path / "pwned"
    (folder / "game" / "g9.yaml").write_text(f"_target_: os.system\nname: g3\ncommand: touch {marker}\n")
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda run, evil: _save_hydra_override(run, f"hydra.searchpath=[file://{evil}]", "- game=g9\n"),
     "was started with hydra.searchpath=[file://"),
    (lambda run, evil: (run / ".hydra" / "overrides.yaml").write_text("- game._target_=os.system\n"),
     "builds game._target_=os.system, which neither conf/ nor this command line names"),
    (lambda run, evil: (run / ".hydra" / "overrides.yaml").write_text("- '+game.x={_target_: os.getcwd}'\n"),
     "builds game.x._target_=os.getcwd"),
    (lambda run, evil: (run / ".hydra" / "overrides.yaml").write_text("- a\nb: [\n"), "is not readable yaml"),
])
def test_resume_never_imports_what_only_the_run_directory_names(cli, finished_run, tmp_path, edit, message):
    evil = _evil_folder(tmp_path)
    edit(finished_run, evil)
    before = {p: p.read_bytes() for p in finished_run.rglob("*") if p.is_file()}
    code, _, err = cli("train", f"resume={finished_run}", "steps=60")
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "pwned").exists()
    assert {p: p.read_bytes() for p in finished_run.rglob("*") if p.is_file()} == before


def _save_hydra_override(run: Path, override: str, task_overrides: str) -> None:
    import yaml

    hydra_file = run / ".hydra" / "hydra.yaml"
    saved = yaml.safe_load(hydra_file.read_text())
    saved["hydra"]["overrides"]["hydra"].append(override)
    hydra_file.write_text(yaml.safe_dump(saved))
    (run / ".hydra" / "overrides.yaml").write_text(task_overrides)


class G3Variant(G3):
    """A user's own game class, named on the command line (not in conf/)."""


def test_a_target_named_only_on_the_first_command_line_must_be_given_again_to_resume(cli, runs_root):
    run, target = runs_root / "mine", "game._target_=tests.test_faults.G3Variant"
    code, _, err = cli("train", "game=g3", target, "steps=20", "checkpoint_every=10", "plot=false",
                       "tensorboard=false", f"hydra.run.dir={run}")
    assert code == 0, err
    code, _, err = cli("train", f"resume={run}", "steps=30")
    assert code == 2 and f"builds {target}, which neither conf/ nor this command line names" in err
    code, _, err = cli("train", f"resume={run}", "steps=30", target)
    assert code == 0, err
    assert load_summary(run)["step"] == 30


def test_resume_with_steps_below_the_checkpoint_is_refused(cli, finished_run):
    code, _, err = cli("train", f"resume={finished_run}", "steps=30")
    assert code == 2
    assert "is at step 40, beyond steps=30: to continue it give steps >= 40; nothing was changed" in err
    assert not (finished_run / "summary.json").exists()


@pytest.mark.slow
def test_two_concurrent_resumes_of_one_run_the_second_is_one_line(tmp_path, finished_run, runs_root):
    first = _start(["train", f"resume={finished_run}", "steps=100000000"], runs_root)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len((finished_run / "metrics.jsonl").read_text().splitlines()) < 20:
            assert first.poll() is None, first.communicate()
            time.sleep(0.1)
        second = _minimax(["train", f"resume={finished_run}", "steps=100000000"], env={"MINIMAX_RUNS": str(runs_root)})
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"minimax: error: {finished_run} is in use by another minimax process (running or being resumed: "
            f"{finished_run}/.hydra/run.lock is locked); wait for it to end or stop it, then resume"]
        assert first.poll() is None                      # the first goes on
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert load_summary(finished_run)["status"] == "interrupted"
