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


def run_subprocess(args, env_extra=None, timeout=300, **kw):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "minimax_cli", *args], cwd=kw.pop("cwd", REPO), env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob("summary.json"))


def load_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def load_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def make_game(cls, dtype=torch.float64, seed=0, **kw):
    game = cls(kw.pop("name", cls.__name__.lower()), **kw)
    game.setup("cpu", dtype, seed)
    return game
