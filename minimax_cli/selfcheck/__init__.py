"""Checks of an installation, not of the code: does minimax run in this environment
(``python -m minimax_cli.selfcheck [--device cuda]``), and does a GPU compute the numbers the CPU does
(``python -m minimax_cli.selfcheck.devices``)? scripts/gpu_check.sh runs both on a GPU machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: the folder holding minimax_cli: the checkout (pyproject.toml, tests/) when run from one
ROOT = Path(__file__).resolve().parents[2]


def train(args: list[str], env: dict | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """``minimax train ARGS`` in a child process that imports this same minimax_cli, installed or not."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "minimax_cli", "train", *args], cwd=ROOT,
                          env=dict(os.environ, **(env or {}), PYTHONPATH=path), capture_output=True, text=True,
                          timeout=timeout)
