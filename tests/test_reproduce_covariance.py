"""`minimax reproduce covariance --quick`: Liang & Stokes 2019, Fig. 2 (top) through the real CLI, table from minimax report."""

import json

import numpy as np
import pytest

from minimax_cli.reproduce import covariance as reproduce_covariance
from tests.reproduce_command import reproduce


@pytest.mark.slow
def test_quick_covariance_reproduction(tmp_path):
    out = tmp_path / "cov"
    code = reproduce(["covariance", "--quick", "--out", str(out)])
    text = (out / "table.md").read_text()
    assert code == 0, text
    assert "✗" not in text and text.count("* ✓") == 4          # 16 seeds = vectorized; CO vs GDA, OMD, IU
    data = json.loads((out / "rows.json").read_text())
    rows = {r["algo.name"]: r for r in data["rows"]}
    assert set(rows) == set(reproduce_covariance.QUICK_ALGOS)
    for algo, row in rows.items():
        assert row["cov_error_seeds:n"] == 16 and row["runs"] == 1   # 16 seeds, one vectorized run
        # the per-seed values (from the final iterates) average to what the run logged (float32)
        assert row["cov_error_seeds:mean"] == pytest.approx(row["cov_error:mean"], rel=1e-6)
    assert rows["co"]["cov_error_seeds:mean"] < rows["gda"]["cov_error_seeds:mean"] / 10
    summary = json.loads(next((out / "runs" / "co").glob("*/summary.json")).read_text())
    assert summary["n_starts"] == 16 and summary["step"] == reproduce_covariance.QUICK_STEPS
    assert summary["algo_params"]["lr_x"] == 1e-3 and summary["algo_params"]["penalty"] == "half_squared_norm"
    assert summary["algo_params"]["gamma"] == 1.0
    separate = sorted((out / "honesty" / "separate").glob("*/trajectories.npz"))
    assert len(separate) == 16
    vectorized = np.load(next((out / "honesty" / "vectorized").glob("*/trajectories.npz")))
    first = np.load(next(p for p in separate if p.parent.name.startswith("0_")))
    np.testing.assert_array_equal(vectorized["x"][0], first["x"][0])     # seed 0 = start 0, bit for bit
    assert (out / "covariance_fig2.png").stat().st_size > 20_000
