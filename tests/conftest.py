import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_default_dtype(torch.float64)
# pytest-xdist already runs one worker per core: one torch thread each (and in every subprocess the
# tests start) avoids oversubscribing the cores, which slows small-tensor code several-fold.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    """Every run of the test goes under tmp_path/runs (conf: runs_root = $MINIMAX_RUNS)."""
    root = tmp_path / "runs"
    monkeypatch.setenv("MINIMAX_RUNS", str(root))
    return root


@pytest.fixture
def cli(runs_root, monkeypatch, capsys):
    """Run `minimax ...` in-process; returns (exit code, stdout, stderr)."""
    from minimax_cli.cli import main

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["minimax", *args])
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def finished_run(cli, runs_root):
    """A g3 run of 40 steps with checkpoints at 20 and 40, its summary.json gone as if killed after its
    last checkpoint: the run directory the resume tests tamper with."""
    run = runs_root / "r"
    code, _, err = cli("train", "game=g3", "steps=40", "checkpoint_every=20", "plot=false", "tensorboard=false",
                       f"hydra.run.dir={run}")
    assert code == 0, err
    (run / "summary.json").unlink()
    return run


def run_subprocess(args, env_extra=None, timeout=300, **kw):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "minimax_cli", *args], cwd=kw.pop("cwd", REPO), env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def kill_resume_and_twin(cmd: list[str], env: dict, killed: Path, twin: Path, past_step: int) -> None:
    """SIGKILL ``cmd`` (a ``minimax train`` command line) running in ``killed`` once it has a
    checkpoint and has logged a step >= ``past_step``, resume it there, and run ``cmd`` uninterrupted
    in ``twin``: the two directories must then hold the same run."""
    import signal
    import time

    proc = subprocess.Popen(cmd + [f"hydra.run.dir={killed}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        rows = (killed / "metrics.jsonl").read_text().splitlines() if (killed / "metrics.jsonl").exists() else []
        if (killed / "checkpoints" / "last.pt").exists() and rows and json.loads(rows[-1])["step"] >= past_step:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (killed / "summary.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "minimax_cli", "train", f"resume={killed}"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    full = subprocess.run(cmd + [f"hydra.run.dir={twin}"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert full.returncode == 0, full.stderr


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob("summary.json"))


def load_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def load_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def rows_without_time(run_dir: Path) -> list[dict]:
    """metrics.jsonl without wall_time_s: what an exact resume or twin run must reproduce."""
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in load_metrics(run_dir)]


def make_game(cls, dtype=torch.float64, seed=0, **kw):
    game = cls(kw.pop("name", cls.__name__.lower()), **kw)
    game.setup("cpu", dtype, seed)
    return game
