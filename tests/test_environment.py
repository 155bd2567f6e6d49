"""Where minimax installs: pyproject's ranges hold the tested pins and resolve; the GPU check script runs."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

tomllib = pytest.importorskip("tomllib")   # Python >= 3.11 (the tested set); 3.10 runs the rest
from packaging.requirements import Requirement  # noqa: E402  (matplotlib's dependency: always installed)

NETWORK_ERRORS = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                  "Could not fetch URL", "ConnectTimeoutError", "ReadTimeoutError", "No route to host")


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def requirements() -> list[Requirement]:
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + extras["test"] + extras["sweep"]
            + extras["mlflow"] + extras["wandb"]]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = version
    return out


def test_every_dependency_is_a_range_and_its_pin_lies_in_it():
    """pyproject says what minimax needs (ranges, no exact pins of the core stack); constraints.txt
    says what it is tested with, and make install uses it: every pinned version satisfies its range."""
    pinned = pins()
    for req in requirements():
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert not any(s.operator == "==" for s in req.specifier), f"{req}: a range, not a pin"
        assert name in pinned, f"{name} has no pin in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]} is outside {req}"
    assert pyproject()["project"]["requires-python"] == ">=3.10"
    assert "-c constraints.txt" in (REPO / "Makefile").read_text()


def test_readme_states_the_oldest_supported_torch_of_pyproject():
    floor = next(str(r.specifier) for r in requirements() if r.name == "torch")
    assert floor.startswith(">=")
    assert f"The oldest supported torch is {floor[2:]}:" in (REPO / "README.md").read_text()


@pytest.mark.slow
def test_pyproject_ranges_resolve_without_the_pins():
    """pip's resolver finds a complete install set for the ranges alone (a dry run: nothing is
    installed). Skipped when no package index can be reached."""
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--no-build-isolation", "--timeout", "15", "--retries", "1", "--report", "-",
                           ".[test,sweep,mlflow,wandb]"], cwd=REPO, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and any(e in proc.stderr for e in NETWORK_ERRORS):
        pytest.skip("no package index reachable")
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    report = json.loads(proc.stdout)
    chosen = {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"]
              for i in report["install"]}
    for req in requirements():
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in chosen and req.specifier.contains(chosen[name], prereleases=True), (req, chosen.get(name))


@pytest.mark.slow
def test_gpu_check_script_runs_its_cpu_sized_checks_without_a_gpu(tmp_path):
    """scripts/gpu_check.sh on a machine without CUDA: every step runs in its CPU-sized form and passes."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: run scripts/gpu_check.sh itself")
    env = dict(os.environ, PYTHON=sys.executable, TMPDIR=str(tmp_path))
    proc = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    steps = re.findall(r"^== (.+): (ok|FAILED.*) in \d+ s$", out, re.M)
    assert len(steps) == 5 and all(status == "ok" for _, status in steps), steps
    assert "no CUDA device, CPU-sized checks only: 0 failed" in out
    assert re.search(r"fr, 1-D MoG GAN, float64, 2 steps, cpu vs cpu: max relative difference 0 ", out)
    assert re.search(r"FID \d+\.\d+ \(untrained Inception\)", out)
    assert "precision bf16)" in out    # bench_images' table header
