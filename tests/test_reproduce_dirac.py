"""`minimax reproduce dirac --quick`: the real CLI launch, then the table from run directories."""

import json

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_quick_dirac_reproduction(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "minimax_cli", "reproduce", "dirac", "--quick", "--out",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "rows.json").read_text())
    rows = {(r["mu"], r["tau"]): r for r in data["rows"]}
    assert set(rows) == {(0.3, 8.0), (0.3, 16.0)}
    fast, slow = rows[(0.3, 8.0)], rows[(0.3, 16.0)]
    # τ = 8 reaches the equilibrium first although it cycles; τ = 16 does not cycle (Fiez & Ratliff 2021, Fig. 1)
    assert fast["steps_to_0.001"] < slow["steps_to_0.001"] and fast["final_dist"] < slow["final_dist"]
    assert not fast["real"] and fast["turns"] >= 0.5
    assert slow["real"] and slow["turns"] < 0.5
    assert fast["eigs"] == [[pytest.approx(1.2), pytest.approx(-0.748331, abs=1e-6)],
                            [pytest.approx(1.2), pytest.approx(0.748331, abs=1e-6)]]
    assert all(ok for _, ok in data["claims"])
    assert (tmp_path / "dirac_fig1.png").stat().st_size > 10_000
    table = (tmp_path / "table.md").read_text()
    assert "| 0.3 | 8 | 1.200-0.748i, 1.200+0.748i | no" in table and "| 0.3 | 16 | 1.073, 3.727 | yes" in table
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 2
    for run in runs:   # each run is a complete run directory of the CLI
        summary = json.loads((run / "summary.json").read_text())
        assert summary["game"] == "dirac" and summary["algo"] == "tgda" and summary["step"] == 1000
