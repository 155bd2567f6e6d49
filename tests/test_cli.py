"""`minimax` end to end: run directories, sweeps, and bad input as one clear line."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, load_metrics, load_summary, run_dirs, run_subprocess

RUN_FILES = ("summary.json", "metrics.jsonl", ".hydra/config.yaml", ".hydra/resolved.yaml",
             ".hydra/overrides.yaml", "trajectories.png", "trajectories.npz")


def test_train_writes_a_complete_run_directory(cli, runs_root):
    code, _, err = cli("train", "game=g3", "algo=gda_alt", "steps=200", "seed=3")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    assert run.parent.parent == runs_root / "g3"
    assert run.parent.name == "gda_alt"
    for name in RUN_FILES:
        assert (run / name).exists(), name
    assert list(run.glob("events.out.tfevents.*")), "TensorBoard events"
    assert f"run dir: {run}" in err
    summary = load_summary(run)
    assert summary["status"] in ("converged", "diverged", "finished", "interrupted")
    assert summary["step"] == 200 and summary["seed"] == 3
    assert summary["wall_time_s"] > 0
    for key in ("grad_norm/x", "grad_norm/y", "dist_to_eq", "loss/x", "loss/y"):
        assert key in summary["metrics"]
    rows = load_metrics(run)
    assert [r["step"] for r in rows] == list(range(0, 201, 10))
    assert rows[-1]["dist_to_eq"] == summary["metrics"]["dist_to_eq"]


def test_defaults_run_g1_with_gda_and_end_diverged(cli, runs_root):
    code, _, err = cli("train")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    summary = load_summary(run)
    assert (summary["game"], summary["algo"], summary["status"]) == ("g1", "gda", "diverged")
    assert summary["stop_step"] == summary["step"] < 1000


def test_multirun_sweep_writes_one_directory_per_job(cli, runs_root):
    code, _, err = cli("train", "-m", "game=g1,g2", "algo=gda,tgda", "algo.lr_x=0.05", "steps=30",
                       "plot=false", "tensorboard=false")
    assert code == 0, err
    runs = run_dirs(runs_root)
    assert len(runs) == 4
    assert all(r.parent.parent == runs_root / "multirun" for r in runs)
    assert sorted((load_summary(r)["game"], load_summary(r)["algo"]) for r in runs) == [
        ("g1", "gda"), ("g1", "tgda"), ("g2", "gda"), ("g2", "tgda")]


def test_every_job_is_checked_once(cli, runs_root, monkeypatch):
    """launch.train checks each job before Hydra starts; the train entry trusts those jobs."""
    from minimax_cli import config

    checked = []
    check_run = config.check_run
    monkeypatch.setattr(config, "check_run", lambda cfg: (checked.append(cfg.algo.lr_x), check_run(cfg))[1])
    code, _, err = cli("train", "game=g1", "steps=5", "plot=false", "tensorboard=false", "progress=false")
    assert code == 0, err
    assert len(checked) == 1
    checked.clear()
    code, _, err = cli("train", "-m", "game=g1", "algo.lr_x=0.01,0.02", "steps=5", "plot=false", "tensorboard=false",
                       "progress=false")
    assert code == 0, err
    assert sorted(checked) == [0.01, 0.02]


def test_a_distance_to_the_equilibrium_needs_a_game_that_has_one(cli, runs_root):
    """converge_on=dist_to_eq needs the set-up game's equilibrium: checked right after setup, one line."""
    code, _, err = cli("train", "game=covariance", "converge_on=dist_to_eq", "steps=1", "plot=false",
                       "tensorboard=false", "progress=false")
    assert code == 2, err
    assert "converge_on=dist_to_eq needs a game with a known critical point; covariance has none" in err
    assert not run_dirs(runs_root)


def test_tau_sweep_changes_the_follower_rate(cli, runs_root):
    code, _, err = cli("train", "-m", "algo=tgda", "algo.tau=1,4", "steps=5", "plot=false", "tensorboard=false")
    assert code == 0, err
    rates = sorted(load_summary(r)["algo_params"]["lr_y"] for r in run_dirs(runs_root))
    assert rates == [pytest.approx(0.05), pytest.approx(0.2)]


def test_many_starts_summary(cli, runs_root):
    code, _, err = cli("train", "game=g2", "game.starts=50", "game.init_radius=2", "steps=2000")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    summary = load_summary(run)
    assert summary["n_starts"] == 50
    assert summary["fraction_converged"] == 1.0
    assert "dist_to_eq/max" in summary["metrics"]


def test_quadratic_game_from_the_command_line(cli, runs_root):
    code, _, err = cli("train", "game=quadratic", "game.A=[[1.0]]", "game.B=[[2.0]]", "game.C=[[-1.0]]",
                       "steps=3000", "algo.lr_x=0.1", "algo.lr_y=0.1")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    assert load_summary(run)["status"] == "converged"  # a strongly convex-concave game


@pytest.mark.parametrize("args, message", [
    (["game=nope"], "unknown game 'nope' (available: bilinear, "),
    (["algo=fancy"], "unknown algo 'fancy'"),
    (["logger=[mlflow,foo]"], "unknown logger 'foo' (available: mlflow, tensorboard, wandb)"),
    (["algo.lr_x=-0.1"], "algo.lr_x must be >= 0 (got -0.1)"),
    (["game=quadratic", "game.A=[[1.0,2.0]]"], "game.A must be square"),
    (["game=quadratic", "game.B=[[1.0],[2.0,3.0]]"], "game.B is malformed"),
    (["game=quadratic", "game.A=[[1.0,0.0],[0.0,1.0]]"], "game.B must be 2×1"),
    (["foo=1"], "unknown config key 'foo'"),
    (["algo.lr_z=1"], "unknown config key 'algo.lr_z'; keys of algo:"),
    (["steps=-5"], "steps must be an integer >= 0"),
    (["game.starts=0"], "game.starts must be >= 1"),
    (["hardware.dtype=float16"], "hardware.dtype must be one of"),
    (["game=g1,g2"], "add -m"),
    (["gamma"], "cannot parse override 'gamma'"),
])
def test_bad_input_is_one_line_and_creates_nothing(cli, runs_root, args, message):
    code, out, err = cli("train", *args)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("minimax: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in err + out
    assert not runs_root.exists() or not any(runs_root.rglob("*"))


def test_an_existing_run_is_never_overwritten(cli, runs_root, tmp_path):
    target = tmp_path / "fixed"
    code, _, err = cli("train", f"hydra.run.dir={target}", "steps=5")
    assert code == 0, err
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    code, _, err = cli("train", f"hydra.run.dir={target}", "steps=7", "game=g2")
    assert code != 0 and "already holds a run" in err
    after = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert before == after


def test_info_lists_every_choice(cli):
    code, out, _ = cli("info")
    assert code == 0
    for name in ("g1", "g2", "g3", "bilinear", "quadratic", "gda", "gda_alt", "tgda", "cpu", "cuda", "auto"):
        assert f"  {name} " in out
    assert all(len(line) > 0 for line in out.splitlines())


@pytest.mark.slow
def test_console_script_help_and_bad_input_in_a_real_process(tmp_path):
    help_ = run_subprocess(["--help"])
    assert help_.returncode == 0 and "algorithms (algo=...)" in help_.stdout and "tgda" in help_.stdout
    bad = run_subprocess(["train", "algo.lr_x=-1"], env_extra={"MINIMAX_RUNS": str(tmp_path / "runs")})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["minimax: error: algo.lr_x must be >= 0 (got -1)"]
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ctrl_c_writes_an_interrupted_summary(tmp_path):
    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "minimax_cli", "train", "game=g3", "steps=10000000",
                             "log_every=100", "plot=false"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    metrics = None
    while time.time() < deadline:
        found = list((tmp_path / "runs").rglob("metrics.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, proc.communicate(timeout=10)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    summary = json.loads((metrics.parent / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["step"] == load_metrics(metrics.parent)[-1]["step"] > 0
