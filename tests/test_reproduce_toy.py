"""`minimax reproduce toy` at reduced steps: the table, the claims, the figures."""

import shutil
import subprocess

import pytest

from tests.reproduce_command import reproduce
from tests.conftest import REPO


@pytest.mark.slow
def test_reproduce_toy_table_shows_the_papers_claims(tmp_path, runs_root):
    out = tmp_path / "toy"
    code = reproduce(["toy", "--only", "gda,ogda,fr,gdn", "--out", str(out), "steps=300"])
    text = (out / "table.md").read_text()
    assert code == 0, text
    assert "| algorithm | g1 | g2 | g3 |" in text
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ") and "algorithm" not in line}
    assert set(rows) == {"gda", "ogda", "fr", "gdn"}
    assert rows["gda"].split("|")[2].strip().startswith("diverged")     # g1
    assert rows["gda"].split("|")[3].strip().startswith("converged")    # g2: the bad fixed point
    assert rows["fr"].split("|")[4].strip().startswith("converged")     # g3
    assert "✗" not in text and text.count("✓") == 6
    for game in ("g1", "g2", "g3"):
        assert (out / f"{game}.png").stat().st_size > 10_000


def test_refuses_a_non_empty_output_directory(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("earlier results")
    assert reproduce(["toy", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "earlier results"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_reproduce_toy_writes_under_runs_like_the_other_targets(tmp_path):
    dry = subprocess.run(["make", "-n", "reproduce-toy", f"RUNS={tmp_path}"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert f"MINIMAX_RUNS={tmp_path} .venv/bin/minimax reproduce toy" in dry
