"""Fault drill (scripts/fault_drill.py) and reliability drill.

Reliability drill: a 12-run sweep in which one job is SIGKILLed mid-way and some runs
diverge loses nothing: the other jobs finish, `minimax report` shows all 12 with the right status,
and `minimax train resume=<the killed job's dir>` ends exactly where an uninterrupted twin ends.

Launcher: hydra/launcher=local (submitit_local: one process per job, as on a cluster with
hydra/launcher=slurm), minimax's tolerant variant, which waits for every job and logs a killed one
instead of ending the sweep with submitit's UncompletedJobError. (The joblib preset `parallel`
aborts the whole sweep when a worker process dies: loky's TerminatedWorkerError.)
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minimax_cli import report
from scripts.fault_drill import holder
from tests.conftest import REPO, load_summary, rows_without_time

SEARCHPATH = f"hydra.searchpath=[file://{REPO}/tests/conf]"
#: 3 games x 2 algorithms x 2 seeds; tiny_mog (tests/conf/game) is the MoG GAN shrunk to seconds
SWEEP = ["game=tiny_mog,g2,g3", "algo=gda,tgda", "seed=0,1"]
COMMON = ["steps=300", "log_every=20", "checkpoint_every=40", "plot=false", "tensorboard=false", "progress=false"]
KILLED = "3_tiny_mog_tgda"        # job 3 = game tiny_mog, algo tgda, seed 1 (the last key varies fastest)


def _last_step(metrics: Path) -> int:
    rows = [line for line in metrics.read_text().splitlines() if line.endswith("}")]
    return json.loads(rows[-1])["step"] if rows else -1


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the job's process through /proc")
def test_reliability_drill_kill_one_job_of_a_sweep_resume_it_and_lose_nothing(tmp_path, cli, runs_root):
    sweep = tmp_path / "sweep"
    env = dict(os.environ, MINIMAX_RUNS=str(runs_root), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "minimax_cli", "train", "-m", SEARCHPATH, *SWEEP, *COMMON,
                             "hydra/launcher=local", f"hydra.sweep.dir={sweep}"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # SIGKILL job 3's process once it is past its step-40 checkpoint and before its end (step 300)
    metrics, killed_at, deadline = sweep / KILLED / "metrics.jsonl", None, time.time() + 400
    while killed_at is None and time.time() < deadline and proc.poll() is None:
        if metrics.exists() and (sweep / KILLED / "checkpoints" / "last.pt").exists() and _last_step(metrics) >= 60:
            pid = holder(metrics)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed_at = _last_step(metrics)
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=400)
    assert killed_at is not None and killed_at < 300, f"job 3 could not be killed mid-way:\n{out[-3000:]}"
    assert proc.returncode == 0, out[-3000:]                 # the sweep itself completed
    assert "left no result: its process was killed" in out and f"resume={sweep / KILLED}" in out

    runs = report.collect_runs([sweep])
    assert len(runs) == 12 and len({r.path for r in runs}) == 12   # none lost
    status = {r.path.name: r.status for r in runs}
    assert status.pop(KILLED) == "running/killed"
    expected = {"tiny_mog": {"gda": "finished", "tgda": "finished"}, "g2": {"gda": "converged", "tgda": "diverged"},
                "g3": {"gda": "finished", "tgda": "finished"}}
    for name, st in status.items():
        game, algo = name.split("_", 1)[1].rsplit("_", 1)
        assert st == expected[game][algo], (name, st)

    # the user's command for the killed job: its own overrides are re-used; configs outside conf/ only
    # from a search path the command names (a run directory never adds one: README, security)
    code, _, err = cli("train", f"resume={sweep / KILLED}")
    assert code == 2 and f"add '{SEARCHPATH}' to the command if you trust that folder" in err
    code, _, err = cli("train", f"resume={sweep / KILLED}", SEARCHPATH)
    assert code == 0, err
    twin = tmp_path / "twin"
    code, _, err = cli("train", SEARCHPATH, "game=tiny_mog", "algo=tgda", "seed=1", *COMMON, f"hydra.run.dir={twin}")
    assert code == 0, err
    assert rows_without_time(sweep / KILLED) == rows_without_time(twin)
    resumed, uninterrupted = load_summary(sweep / KILLED), load_summary(twin)
    assert resumed["metrics"] == uninterrupted["metrics"] and resumed["status"] == uninterrupted["status"] == "finished"
    assert resumed["step"] == uninterrupted["step"] == 300

    code, table, err = cli("report", str(sweep), "--metric", "grad_norm/y")
    assert code == 0, err
    caption, _, *lines = table.splitlines()                 # the seeds are replicates: averaged, and said so
    assert caption == "Grouped by game.name, algo.name (mean ± std over seed (2 values); --by to choose)."
    assert lines[0] == ("| game.name | algo.name | runs | converged | diverged | finished | interrupted | failed "
                        "| grad_norm/y |")
    assert "running/killed" not in table
    counts = {tuple(c.strip() for c in line.split("|")[1:3]): [c.strip() for c in line.split("|")[3:9]]
              for line in lines[2:] if line.startswith("| ")}
    assert counts == {("g2", "gda"): ["2", "2", "0", "0", "0", "0"], ("g2", "tgda"): ["2", "0", "2", "0", "0", "0"],
                      ("g3", "gda"): ["2", "0", "0", "2", "0", "0"], ("g3", "tgda"): ["2", "0", "0", "2", "0", "0"],
                      ("tiny_mog", "gda"): ["2", "0", "0", "2", "0", "0"],
                      ("tiny_mog", "tgda"): ["2", "0", "0", "2", "0", "0"]}
    print(f"killed {KILLED} at logged step {killed_at}; after resume:\n{table}")


@pytest.mark.slow
def test_fault_drill_gives_clean_lines_no_tracebacks_and_loses_no_run(capsys):
    """scripts/fault_drill.py --quick: 69 faults (bad input anywhere in the config, sizes beyond the
    machine, unusable runs roots, a disk filling mid-run, SIGTERM, SIGHUP, resumes of tampered run
    directories, a singular start, garbage in a report) through the real CLI; every one a clean line
    or a handled run, and no code from a run directory ever runs."""
    from scripts import fault_drill

    code = fault_drill.main(["--quick"])
    table = capsys.readouterr().out
    assert code == 0, table
    totals = table.strip().splitlines()[-1]
    tried, clean, handled, tracebacks, lost, unexpected, executed = (int(c) for c in totals.strip("| ").split(" | "))
    assert (tracebacks, lost, unexpected, executed) == (0, 0, 0, 0) and clean + handled == tried >= 69, table
    print(table)
