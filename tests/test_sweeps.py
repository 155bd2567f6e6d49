"""Sweeps through the real Hydra plugins (joblib, submitit_local, optuna): a failing or diverging
job never stops a sweep, and `minimax report` shows every run with its status."""

import math

import pytest
import yaml

from minimax_cli import report
from minimax_cli.config import expand_sweeps, merge_overrides
from tests.conftest import REPO, run_subprocess

#: tests/conf adds game=failing (tests/failing_game.py): g2 that raises at step 10, after validation
FAILING = f"hydra.searchpath=[file://{REPO}/tests/conf]"
SMALL = ["plot=false", "tensorboard=false"]


# -- validation of sweep syntax (fast: nothing runs) -------------------------------------------------------------
def test_expand_sweeps_checks_both_ends_of_an_interval():
    assert expand_sweeps(["algo.lr_x=interval(0.01, 0.1)", "game=g1,g2"]) == [
        ["algo.lr_x=0.01", "game=g1"], ["algo.lr_x=0.01", "game=g2"],
        ["algo.lr_x=0.1", "game=g1"], ["algo.lr_x=0.1", "game=g2"]]
    assert expand_sweeps(["algo.lr_x=tag(log, interval(0.001, 1))"]) == [["algo.lr_x=0.001"], ["algo.lr_x=1.0"]]
    assert expand_sweeps(["seed=range(0,3)"]) == [["seed=0"], ["seed=1"], ["seed=2"]]
    assert merge_overrides(["algo.lr_x=interval(0.01, 0.1)", "algo.tau=interval(1, 4)"], ["algo.tau=2", "seed=1"]) == [
        "algo.lr_x=interval(0.01, 0.1)", "algo.tau=2", "seed=1"]


@pytest.mark.parametrize("args, message", [
    (["-m", "hydra/sweeper=optuna", "algo.lr_x=interval(-0.1, 0.1)"], "algo.lr_x must be >= 0 (got -0.1)"),
    (["-m", FAILING, "hparams_search=bad_space"], "unknown config key 'algo.lr_z'"),
    (["-m", "hparams_search=toy_tgda", "algo.tau=interval(-1.0, 2.0)"], "algo.tau must be"),
    (["hparams_search=toy_tgda"], "this config sweeps algo.lr_x, algo.tau (hydra.sweeper.params): add -m"),
    (["algo.lr_x=interval(0.01, 0.1)"], "add -m"),
    (["-m", "hydra/launcher=nope"], "unknown hydra/launcher 'nope' (available: local, parallel, slurm)"),
    (["-m", "objective.mode=max"], "objective.mode must be minimize or maximize (got 'max')"),
])
def test_bad_sweep_input_is_one_line_and_creates_nothing(cli, runs_root, args, message):
    code, out, err = cli("train", *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minimax: error: ") and message in lines[0], err
    assert not runs_root.exists() or not any(runs_root.rglob("*"))


def test_presets_compose_with_the_plugins_defaults():
    from minimax_cli.config import compose

    slurm = compose(["hydra/launcher=slurm"], hydra_config=True).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher") and slurm.timeout_min == 240 and slurm.gpus_per_node == 0
    assert slurm.signal_delay_s == 120  # a plugin default the preset keeps
    parallel = compose(["hydra/launcher=parallel", "hydra.launcher.n_jobs=3"], hydra_config=True).hydra.launcher
    assert parallel._target_.endswith("JoblibLauncher") and parallel.n_jobs == 3
    cfg = compose(["hparams_search=toy_tgda", "objective.mode=maximize"], hydra_config=True)
    assert (cfg.game.name, cfg.algo.name, cfg.objective.metric) == ("g1", "tgda", "dist_to_eq")
    assert cfg.hydra.sweeper.direction == "maximize"  # follows objective.mode
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")


# -- real sweeps ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_failing_and_a_diverging_job_never_stop_a_sweep_and_report_shows_every_run(cli, runs_root):
    code, _, err = cli("train", "-m", FAILING, "game=failing,g1,g2", "steps=300", *SMALL)
    assert code == 0, err  # a sweep that completed exits 0; each run's status is in its summary
    runs = report.collect_runs([runs_root])
    assert [(r.get("game.name"), r.status) for r in runs] == [
        ("failing", "failed"), ("g1", "diverged"), ("g2", "converged")]  # job order: failing ran first
    failed = runs[0]
    assert "deliberate failure at step 10" in failed.summary["error"]
    assert "RuntimeError" in (failed.path / "error.txt").read_text()
    code, out, err = cli("report", str(runs_root), "--by", "game.name", "--metric", "dist_to_eq")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "| game.name | runs | converged | diverged | finished | interrupted | failed | dist_to_eq |"
    assert lines[2].startswith("| failing | 1 | 0 | 0 | 0 | 0 | 1 | ")
    assert lines[3].startswith("| g1 | 1 | 0 | 1 | 0 | 0 | 0 | ")
    assert lines[4] == f"| g2 | 1 | 1 | 0 | 0 | 0 | 0 | {runs[2].final('dist_to_eq'):.4g} |"
    assert f"- failed: {failed.path} (last logged step 0; RuntimeError: test game failing" in out


@pytest.mark.slow
def test_joblib_sweep_runs_two_jobs_in_parallel_and_records_their_status(tmp_path):
    root = tmp_path / "runs"
    proc = run_subprocess(["train", "-m", FAILING, "game=g1,failing", "steps=300", *SMALL,
                           "hydra/launcher=parallel", "hydra.launcher.n_jobs=2"],
                          env_extra={"MINIMAX_RUNS": str(root)})
    assert proc.returncode == 0, proc.stderr
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout + proc.stderr
    runs = report.collect_runs([root])
    assert [(r.get("game.name"), r.status) for r in runs] == [("g1", "diverged"), ("failing", "failed")]


@pytest.mark.slow
def test_submitit_local_sweep_runs_two_jobs_and_records_the_failure(tmp_path):
    root = tmp_path / "runs"
    proc = run_subprocess(["train", "-m", FAILING, "game=g2,failing", "steps=20", "log_every=5", *SMALL,
                           "hydra/launcher=local"], env_extra={"MINIMAX_RUNS": str(root)})
    assert proc.returncode == 0, proc.stderr
    (sweep,) = (root / "multirun").iterdir()
    jobs = [p for p in (sweep / ".submitit").iterdir() if p.name != "%j"]
    assert len(jobs) == 2 and all(list(j.glob("*_result.pkl")) for j in jobs)  # two submitit jobs ran
    runs = report.collect_runs([root])
    assert sorted((r.get("game.name"), r.status) for r in runs) == [("failing", "failed"), ("g2", "finished")]
    failed = next(r for r in runs if r.status == "failed")
    assert [row["step"] for row in failed.history] == [0, 5]  # what it logged before failing at step 10


@pytest.mark.slow
def test_optuna_sweep_returns_the_objective_and_scores_bad_runs_worst(cli, runs_root):
    # grid sampler over three games: g1 diverges, failing fails, g2 converges -> +inf, +inf, finite
    code, _, err = cli("train", "-m", FAILING, "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid",
                       "game=g1,g2,failing", "steps=300", "objective.metric=grad_norm/y", *SMALL)
    assert code == 0, err
    (sweep,) = (runs_root / "multirun").iterdir()
    runs = report.collect_runs([sweep])
    assert sorted((r.get("game.name"), r.status) for r in runs) == [
        ("failing", "failed"), ("g1", "diverged"), ("g2", "converged")]
    g2 = next(r for r in runs if r.get("game.name") == "g2")
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_params"] == {"game": "g2"}
    assert best["best_value"] == g2.final("grad_norm/y") == g2.summary["metrics"]["grad_norm/y"] < 1e-6


@pytest.mark.slow
def test_optuna_tuning_preset_with_two_trials(cli, runs_root):
    code, _, err = cli("train", "-m", "hparams_search=toy_tgda", "hydra.sweeper.n_trials=2", "steps=100")
    assert code == 0, err
    (sweep,) = (runs_root / "multirun").iterdir()
    runs = report.collect_runs([sweep])
    assert len(runs) == 2
    values = [report.objective_value(r.path, "dist_to_eq") for r in runs]
    for run in runs:  # each trial drew its own lr_x in [0.005, 0.2] and tau in [1, 10]
        assert 0.005 <= run.get("algo.lr_x") <= 0.2 and 1.0 <= run.get("algo.tau") <= 10.0
        assert run.get("algo.lr_y") == pytest.approx(run.get("algo.lr_x") * run.get("algo.tau"))
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == min(values) and math.isfinite(best["best_value"])
