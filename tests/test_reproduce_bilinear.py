"""`minimax reproduce bilinear --quick`: Liang & Stokes 2019, Fig. 1 through the real CLI, the table from minimax report."""

import json

import numpy as np
import pytest

from minimax_cli.metrics import bilinear_bounds
from minimax_cli.reproduce import bilinear as reproduce_bilinear
from tests.reproduce_command import reproduce


@pytest.mark.slow
def test_quick_bilinear_reproduction(tmp_path):
    out = tmp_path / "bilinear"
    code = reproduce(["bilinear", "--quick", "--out", str(out)])
    text = (out / "table.md").read_text()
    assert code == 0, text
    assert "✗" not in text and text.count("* ✓") == 7                  # 4 bounds, SGA, PM ≡ CO, IU exact
    rows = {line.split("|")[2].strip(): line for line in text.splitlines() if line.startswith("| ") and "Liang & Stokes" not in line}
    assert set(rows) == {"gda", "ogda", "pm", "iu", "co"}
    assert rows["gda"].split("|")[1].strip() == "SGA" and "✓ diverges" in rows["gda"]
    # the step sizes reached the runs as computed from the game's own C (not typed in)
    C, _ = reproduce_bilinear.game_and_starts(reproduce_bilinear.QUICK["C_seed"], 1)
    etas = bilinear_bounds.step_sizes(C, 1.0)
    for algo, name in (("ogda", "OMD"), ("pm", "PM"), ("iu", "IU"), ("co", "CO"), ("gda", "OMD")):
        (summary,) = [json.loads(p.read_text()) for p in (out / "runs" / algo).glob("*/summary.json")]
        assert summary["algo"] == algo and summary["algo_params"]["lr_x"] == etas[name]
        assert f"algo.lr_x={etas[name]!r}" in summary["overrides"]
    # PM and CO: the same run, step for step
    pm = np.load(next((out / "runs" / "pm").glob("*/trajectories.npz")))
    co = np.load(next((out / "runs" / "co").glob("*/trajectories.npz")))
    np.testing.assert_array_equal(pm["stop_step"], co["stop_step"])
    assert (pm["status"] == "converged").all()
    assert (out / "bilinear_fig1.png").stat().st_size > 20_000
    assert "t_eps:mean" in (out / "table.csv").read_text().splitlines()[0]
