"""`minimax reproduce lead-cost`: Askari Hemmat et al. 2023, Fig. 2 (time per iteration vs width)."""

import json
import math
from types import SimpleNamespace

import pytest

from minimax_cli.catalog import option_names
from minimax_cli.reproduce import lead_cost
from tests.reproduce_command import reproduce


def test_time_per_step_drops_the_warm_up_and_the_final_metrics_intervals():
    rows = [{"step": 0, "wall_time_s": 1.0}, {"step": 10, "wall_time_s": 3.0},      # warm-up: 0.2 s/step
            {"step": 20, "wall_time_s": 3.5}, {"step": 30, "wall_time_s": 4.1},    # 0.05, 0.06
            {"step": 40, "wall_time_s": 4.5}, {"step": 50, "wall_time_s": 9.0}]    # 0.04; final metrics
    assert lead_cost.time_per_step(SimpleNamespace(history=rows)) == pytest.approx(0.05)
    assert math.isnan(lead_cost.time_per_step(SimpleNamespace(history=rows[:3])))


def test_cpu_widths_by_default_and_the_papers_with_hardware_cuda():
    def widths(variants):
        return sorted({int(v.label.rpartition("_w")[2]) for v in variants})

    assert widths(lead_cost.variants(False)) == [32, 64, 128, 256]
    cuda = lead_cost.variants(False, ["hardware=cuda"])
    assert widths(cuda) == [250, 500, 1000, 2000] and "steps=1000" in cuda[0].overrides
    assert widths(lead_cost.variants(True, ["hardware=cuda"])) == [8, 16]
    methods = {v.groups[0] for v in cuda}
    assert methods == {"cgd", "sga", "co", "extra_adam", "wgan_gp", "lead"}


def test_claims_read_the_orderings_from_the_rows():
    rows = [{"method": m, "width": w, "status": "finished", "ms": ms}
            for w, times in ((8, {"sga": 3.0, "lead": 1.0, "extra_adam": 1.1, "wgan_gp": 0.9}),
                             (16, {"sga": 9.0, "lead": 2.0, "extra_adam": 2.5, "wgan_gp": 1.5}))
            for m, ms in times.items()]
    claims = lead_cost.claims(rows)
    assert all(c.ok for c in claims) and len(claims) == 5
    rows[5]["ms"] = 20.0    # LEAD at width 16 above SGA, > 2× the others
    assert [c.ok for c in lead_cost.claims(rows)] == [True, False, False, False, True]


@pytest.mark.slow
def test_quick_lead_cost_reproduction(tmp_path):
    out = tmp_path / "lc"
    methods = [m for m in lead_cost.METHODS if m != "cgd" or "cgd" in option_names("algo")]   # algo=cgd: its own branch
    code = reproduce(["lead-cost", "--quick", "--only", ",".join(methods), "--out", str(out)])
    text = (out / "table.md").read_text()
    assert code == 0, text
    rows = json.loads((out / "rows.json").read_text())["rows"]
    assert {(r["method"], r["width"]) for r in rows} == {(m, w) for m in methods for w in (8, 16)}
    assert all(r["ms"] > 0 and r["status"] == "finished" for r in rows)
    assert (out / "fig2.png").stat().st_size > 5_000
    assert "| width | SGA | CO | Extra-Adam | WGAN-GP | LEAD |" in text.replace("| CGD ", "")
    assert "LEAD's time per iteration is below SGA's at width 16" in text
