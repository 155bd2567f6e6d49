"""A stop signal to a sweep whose jobs run in other processes (hydra/launcher=parallel: loky workers;
hydra/launcher=local: submitit's) ends every job that had started with an ``interrupted`` summary,
starts no other, and the sweep ends with one line and 128 + the signal's number."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, load_summary

LONG = ["game=g3", "steps=100000000", "log_every=50", "progress=false", "plot=false", "tensorboard=false"]


def _sweep(tmp_path: Path, launcher: list[str], seeds: str) -> tuple[subprocess.Popen, Path]:
    sweep = tmp_path / "sweep"
    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO),
               OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "minimax_cli", "train", "-m", *launcher, *LONG,
                             f"seed={seeds}", f"hydra.sweep.dir={sweep}"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    return proc, sweep


def _wait_for_runs(sweep: Path, runs: int, proc, timeout=180) -> None:
    """Until ``runs`` jobs have logged their first rows (their loop is running)."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if sum(len(m.read_text().splitlines()) >= 2 for m in sweep.rglob("metrics.jsonl")) >= runs:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {runs} jobs started: {proc.communicate(timeout=30)}")


@pytest.mark.slow
@pytest.mark.parametrize("sig, to_group", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGTERM to the sweep's process", "Ctrl-C (SIGINT to the process group)"])
def test_a_signal_to_a_parallel_sweep_interrupts_its_running_jobs_and_starts_no_more(tmp_path, sig, to_group):
    proc, sweep = _sweep(tmp_path, ["hydra/launcher=parallel", "hydra.launcher.n_jobs=2"], "0,1,2")
    _wait_for_runs(sweep, 2, proc)
    if to_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"minimax: interrupted: {sig.name} stopped the sweep: 2 of 3 jobs had started"), err
    assert "1 not started" in last
    runs = sorted(p.parent for p in sweep.rglob("metrics.jsonl"))
    assert len(runs) == 2 and not (sweep / "2_g3_gda").exists()   # the third job never started
    for run in runs:
        assert load_summary(run)["status"] == "interrupted"


@pytest.mark.slow
def test_sigterm_to_a_submitit_local_sweep_interrupts_every_job(tmp_path):
    proc, sweep = _sweep(tmp_path, ["hydra/launcher=local"], "0,1")
    _wait_for_runs(sweep, 1, proc)   # the other may still be setting up: it is stopped all the same
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("minimax: interrupted: SIGTERM stopped the sweep: 2 of 2"), err
    runs = sorted(sweep.glob("*_g3_gda"))
    assert len(runs) == 2 and all(load_summary(run)["status"] == "interrupted" for run in runs)
