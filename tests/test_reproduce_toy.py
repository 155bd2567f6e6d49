"""`minimax reproduce toy`: the table, the claims, the figures (g3 at the scale that made Wang et al. 2020, Fig. 3c)."""

import shutil
import subprocess

import pytest

from tests.reproduce_command import reproduce
from tests.conftest import REPO


@pytest.mark.slow
def test_reproduce_toy_table_shows_the_papers_claims(tmp_path, runs_root):
    out = tmp_path / "toy"
    # the full 1,000 steps: at g3's figure scale (0.1×) FR contracts by 0.99 a step, still 2.7 away at 300
    code = reproduce(["toy", "--only", "gda,ogda,fr,gdn", "--out", str(out)])
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


def test_g3_runs_at_the_figures_scale_and_sga_co_also_as_printed():
    from minimax_cli.config import compose
    from minimax_cli.reproduce import toy

    assert compose(["game=g3"]).game.scale == 1.0          # the config keeps the printed g3
    by_label = {v.label: v for v in toy.variants(False)}
    assert "game.scale=0.1" in by_label["g3-fr"].overrides and "converge_on=dist_to_eq" in by_label["g3-fr"].overrides
    assert not any(o.startswith("game.scale") for o in by_label["g1-fr"].overrides)
    assert {k for k in by_label if k.startswith("g3_printed")} == {"g3_printed-sga", "g3_printed-co"}
    assert "game.scale=1.0" in by_label["g3_printed-co"].overrides


def test_the_cycle_claim_needs_the_distance_inside_the_window():
    from minimax_cli.reproduce import toy

    def row(status, dist):
        return {"runs": 1, **{s: int(s == status) for s in ("converged", "diverged", "finished", "failed")},
                "dist_to_eq:mean": dist}
    at = {("g3", a): row("finished", 2.9) for a in ("gda", "ogda", "eg", "sga")}
    at[("g3", "co")] = row("finished", 76.0)              # thrown out: not a cycle around (0,0)
    at.update({(toy.PRINTED, "sga"): row("finished", 40.0), (toy.PRINTED, "co"): row("finished", 5.0)})
    results = dict((text.split(" — ")[0], ok) for ok, text in toy.check_claims(at, ["g3", toy.PRINTED], toy.ALGOS)
                   if "FR family" not in text)
    assert list(results.values()) == [False, False]


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


@pytest.mark.slow
def test_only_the_printed_g3_makes_its_own_table(tmp_path, runs_root):
    # no run at the figure's scales: the first table is left out, not built from no runs
    out = tmp_path / "printed"
    code = reproduce(["toy", "--only", "g3_printed", "--out", str(out)])
    text = (out / "table.md").read_text()
    assert code == 0, text
    assert "g3 as printed" in text and "| algorithm | g1 |" not in text
    assert (out / "g3_printed.png").stat().st_size > 10_000 and not (out / "table.csv").exists()
