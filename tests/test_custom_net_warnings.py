"""A run with your own networks (docs/bring-your-own.md) prints no warning about torch's internals:
the Hessian-vector check of a custom module goes through minimax_cli.oracle.jvp, which loads
torch's forward-mode decompositions (whose import warns that torch.jit.script is deprecated) once,
with that one warning filtered; any other FutureWarning still fails this test."""

import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO


def test_a_custom_network_run_prints_no_future_warning(tmp_path):
    np.save(tmp_path / "samples.npy", np.random.default_rng(0).normal(size=(64, 2)))
    proc = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-m", "minimax_cli", "train", "game=mog",
         f"game.data={tmp_path / 'samples.npy'}", "game.batch.size=32", "game.generator._target_=tests.own_nets.Gen",
         "game.discriminator._target_=tests.own_nets.Disc", "algo=hessianfr", "steps=3", "plot=false",
         "tensorboard=false", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr   # a FutureWarning raised as an error would fail the check or the run
    assert "Warning" not in proc.stderr, proc.stderr
