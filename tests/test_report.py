"""`minimax report` on synthetic run directories: every number is computed here by hand."""

import csv
import io
import json
import math

import pytest
import yaml

from minimax_cli import report
from minimax_cli.errors import ConfigError


def make_run(root, name, *, game="g1", algo="gda", lr_x=0.05, seed=0, status="finished", final=None,
             rows=None, summary=True, resolved=True, torn_tail=False, error=None):
    """A run directory as `minimax train` leaves it: .hydra/config.yaml (+ resolved.yaml),
    metrics.jsonl from ``rows`` and summary.json with ``final`` as its metrics."""
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    config = {"game": {"name": game}, "algo": {"name": algo, "lr_x": lr_x, "tau": 1.0,
                                                "lr_y": "${mul:${.tau},${.lr_x}}"},
              "seed": seed, "steps": 100}
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if resolved:
        config["algo"]["lr_y"] = 1.0 * lr_x
        (run / ".hydra" / "resolved.yaml").write_text(yaml.safe_dump(config))
    lines = [json.dumps(r) for r in rows or []]
    if torn_tail:
        lines.append('{"step": 99, "dist_to_e')
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in lines))
    if summary:
        payload = {"status": status, "step": 100, "metrics": final or {}}
        if error:
            payload["error"] = error
        (run / "summary.json").write_text(json.dumps(payload))
    return run


@pytest.fixture
def sweep(tmp_path):
    """Three groups by (game, algo): values chosen so mean/std are easy to do by hand."""
    root = tmp_path / "sweep"
    make_run(root, "0_g1_gda", seed=0, status="converged", final={"dist_to_eq": 1.0, "grad_norm/y": 0.5})
    make_run(root, "1_g1_gda", seed=1, status="converged", final={"dist_to_eq": 2.0, "grad_norm/y": 0.5})
    make_run(root, "2_g1_gda", seed=2, status="diverged", final={"dist_to_eq": 4.0, "grad_norm/y": "inf"})
    make_run(root, "3_g1_tgda", algo="tgda", status="finished", final={"dist_to_eq": 0.5, "grad_norm/y": 0.25})
    make_run(root, "4_g2_gda", game="g2", status="finished", final={"dist_to_eq": 3.0})  # no grad_norm/y
    make_run(root, "5_g2_gda", game="g2", status="diverged", final={"dist_to_eq": "nan", "grad_norm/y": 7.0})
    return root


def test_table_groups_and_computes_mean_std_and_counts(sweep):
    runs = report.collect_runs([sweep])
    assert len(runs) == 6
    rows = report.table(runs, metrics=["dist_to_eq", "grad_norm/y"])
    assert [(r["game.name"], r["algo.name"]) for r in rows] == [("g1", "gda"), ("g1", "tgda"), ("g2", "gda")]
    g1_gda, g1_tgda, g2_gda = rows
    # 1, 2, 4: mean 7/3; deviations -4/3, -1/3, 5/3 -> sum of squares 42/9, / (n-1) = 7/3
    assert g1_gda["runs"] == 3 and g1_gda["converged"] == 2 and g1_gda["diverged"] == 1
    assert g1_gda["finished"] == g1_gda["failed"] == g1_gda["interrupted"] == 0
    assert g1_gda["dist_to_eq:mean"] == pytest.approx(7 / 3)
    assert g1_gda["dist_to_eq:std"] == pytest.approx(math.sqrt(7 / 3))
    assert g1_gda["dist_to_eq:n"] == 3
    # grad_norm/y: 0.5, 0.5 and an inf that is counted, not averaged
    assert g1_gda["grad_norm/y:mean"] == 0.5 and g1_gda["grad_norm/y:std"] == 0.0
    assert (g1_gda["grad_norm/y:n"], g1_gda["grad_norm/y:inf"], g1_gda["grad_norm/y:nan"]) == (2, 1, 0)
    # one run: no sample std
    assert g1_tgda["dist_to_eq:mean"] == 0.5 and g1_tgda["dist_to_eq:std"] is None
    # g2: dist_to_eq 3 and nan; grad_norm/y 7 and missing
    assert (g2_gda["dist_to_eq:mean"], g2_gda["dist_to_eq:n"], g2_gda["dist_to_eq:nan"]) == (3.0, 1, 1)
    assert (g2_gda["grad_norm/y:mean"], g2_gda["grad_norm/y:missing"]) == (7.0, 1)
    assert g2_gda["finished"] == 1 and g2_gda["diverged"] == 1


def test_markdown_shows_every_number_and_every_excluded_value(sweep):
    rows = report.table(report.collect_runs([sweep]), metrics=["dist_to_eq", "grad_norm/y"])
    caption, blank, *lines = report.to_markdown(rows).splitlines()
    assert caption == "Grouped by game.name, algo.name (mean ± std over seed (3 values); --by to choose)." and not blank
    assert lines[0] == ("| game.name | algo.name | runs | converged | diverged | finished | interrupted | failed "
                        "| dist_to_eq | grad_norm/y |")
    assert lines[2] == "| g1 | gda | 3 | 2 | 1 | 0 | 0 | 0 | 2.333 ± 1.528 | 0.5 ± 0 [1 inf] |"
    assert lines[3] == "| g1 | tgda | 1 | 0 | 0 | 1 | 0 | 0 | 0.5 | 0.25 |"
    assert lines[4] == "| g2 | gda | 2 | 0 | 1 | 1 | 0 | 0 | 3 [1 nan] | 7 [1 missing] |"
    assert len(lines) == 5  # no partial runs: no notes


def test_grouping_by_any_config_key_in_natural_order(tmp_path):
    root = tmp_path / "lr"
    for i, (lr, seed, value) in enumerate([(0.1, 0, 1.0), (0.01, 0, 2.0), (0.1, 1, 3.0), (1, 10, 4.0), (1, 2, 6.0)]):
        make_run(root, f"{i}", lr_x=lr, seed=seed, final={"dist_to_eq": value})
    runs = report.collect_runs([root])
    rows = report.table(runs, by=["algo.lr_x"], metrics=["dist_to_eq"])
    assert [(r["algo.lr_x"], r["runs"], r["dist_to_eq:mean"]) for r in rows] == [
        (0.01, 1, 2.0), (0.1, 2, 2.0), (1, 2, 5.0)]
    by_seed = report.table(runs, by="seed", metrics="dist_to_eq")  # a string is accepted too
    assert [r["seed"] for r in by_seed] == [0, 1, 2, 10]  # numbers sort as numbers
    # keys of summary.json and the interpolated follower rate resolve as well
    assert report.table(runs, by=["algo.lr_y"], metrics=["dist_to_eq"])[0]["algo.lr_y"] == 0.01
    assert [r["status"] for r in report.table(runs, by=["status"], metrics=["dist_to_eq"])] == ["finished"]


def test_unresolved_config_is_resolved_when_resolved_yaml_is_missing(tmp_path):
    make_run(tmp_path, "a", lr_x=0.2, resolved=False, final={"dist_to_eq": 1.0})
    (run,) = report.collect_runs([tmp_path])
    assert run.get("algo.lr_y") == pytest.approx(0.2)  # ${mul:${.tau},${.lr_x}} with tau = 1


def test_killed_run_without_summary_is_reported_honestly(tmp_path):
    rows = [{"step": 0, "wall_time_s": 0.0, "dist_to_eq": 9.0}, {"step": 10, "wall_time_s": 0.1, "dist_to_eq": 5.0}]
    make_run(tmp_path, "0_g1_gda", final={"dist_to_eq": 1.0})
    killed = make_run(tmp_path, "1_g1_gda", summary=False, rows=rows, torn_tail=True)
    started = make_run(tmp_path, "2_g1_gda", summary=False)  # killed before it logged anything
    runs = report.collect_runs([tmp_path])
    assert [r.status for r in runs] == ["finished", "running/killed", "running/killed"]
    assert runs[1].final("dist_to_eq") == 5.0  # the last complete row; the torn line is skipped
    (row,) = report.table(runs, metrics=["dist_to_eq"])
    assert row["runs"] == 3 and row["finished"] == 1 and row["running/killed"] == 2
    assert (row["dist_to_eq:mean"], row["dist_to_eq:n"], row["dist_to_eq:missing"]) == (3.0, 2, 1)
    text = report.to_markdown(row_table := report.table(runs, metrics=["dist_to_eq"]))
    assert text.splitlines()[0].endswith("| failed | running/killed | dist_to_eq |")
    assert "| g1 | gda | 3 | 0 | 0 | 1 | 0 | 0 | 2 | 3 ± 2.828 [1 missing] |" in text
    assert f"- running/killed: {killed} (last logged step 10)" in text
    assert f"- running/killed: {started} (nothing logged)" in text
    assert len(row_table.notes) == 2


def test_failed_run_falls_back_to_logged_rows_and_shows_its_error(tmp_path):
    rows = [{"step": 0, "wall_time_s": 0.0, "grad_norm/y": 4.0}, {"step": 5, "wall_time_s": 0.1, "grad_norm/y": 2.0}]
    run = make_run(tmp_path, "f", status="failed", rows=rows, error="RuntimeError: boom")
    rows = report.table(report.collect_runs([tmp_path]))
    assert rows.metrics == ["grad_norm/y"]  # the default: those of the preferred metrics present
    assert rows[0]["failed"] == 1 and rows[0]["grad_norm/y:mean"] == 2.0
    assert rows.notes == [f"failed: {run} (last logged step 5; RuntimeError: boom)"]


def test_status_filter(sweep):
    runs = report.collect_runs([sweep], status=["converged,finished"])
    assert sorted(r.path.name for r in runs) == ["0_g1_gda", "1_g1_gda", "3_g1_tgda", "4_g2_gda"]
    with pytest.raises(ConfigError, match=r"unknown status 'done' \(allowed: converged, diverged, finished, "
                                          r"interrupted, failed, running/killed, unreadable\)"):
        report.collect_runs([sweep], status=["done"])


def test_csv_has_every_statistic_at_full_precision(sweep, tmp_path):
    rows = report.table(report.collect_runs([sweep]), metrics=["dist_to_eq"])
    path = tmp_path / "out" / "table.csv"
    text = report.to_csv(rows, path)
    assert path.read_text() == text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["game.name", "algo.name", "runs", "converged", "diverged", "finished", "interrupted",
                        "failed", "running/killed", "dist_to_eq:mean", "dist_to_eq:std", "dist_to_eq:n",
                        "dist_to_eq:inf", "dist_to_eq:nan", "dist_to_eq:missing"]
    assert table[1] == ["g1", "gda", "3", "2", "1", "0", "0", "0", "0", repr(7 / 3), repr(math.sqrt(7 / 3)),
                        "3", "0", "0", "0"]
    assert table[2][9:11] == ["0.5", ""]  # one run: std undefined, left empty
    assert table[3][9:] == ["3.0", "", "1", "0", "1", "0"]


def test_group_curve_mean_and_band_by_hand(tmp_path):
    def rows(steps, values):
        return [{"step": s, "wall_time_s": 0.0, "dist_to_eq": v} for s, v in zip(steps, values)]

    make_run(tmp_path, "a", status="finished", rows=rows([0, 10, 20], [1.0, 2.0, 3.0]))
    make_run(tmp_path, "b", status="converged", rows=rows([0, 10], [3.0, 4.0]))  # frozen at 4 from step 10
    make_run(tmp_path, "c", summary=False, rows=rows([0], [5.0]))  # killed: drops out after step 0
    make_run(tmp_path, "d", status="finished", rows=rows([0, 10, 20], [1.0, "inf", 2.0]))
    runs = report.collect_runs([tmp_path])
    steps, mean, low, high, count = report.group_curve(runs, "dist_to_eq")
    assert steps.tolist() == [0, 10, 20]
    assert count.tolist() == [4, 2, 3]
    assert mean.tolist() == pytest.approx([10 / 4, 3.0, 3.0])  # (1+3+5+1)/4, (2+4)/2, (3+4+2)/3
    assert low.tolist() == [1.0, 2.0, 2.0] and high.tolist() == [5.0, 4.0, 4.0]


def test_plot_writes_a_png(sweep, tmp_path):
    runs = report.collect_runs([sweep])
    for run in runs:  # curves for the plot
        (run.path / "metrics.jsonl").write_text("".join(
            json.dumps({"step": s, "wall_time_s": 0.0, "dist_to_eq": 10.0 / (s + 1), "grad_norm/y": s}) + "\n"
            for s in range(0, 50, 10)))
    path = report.plot(runs, None, ["dist_to_eq", "grad_norm/y"], tmp_path / "figs" / "curves.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_default_metrics():
    def run(names):
        r = report.Run(path=None, status="finished", summary={"metrics": dict.fromkeys(names, 1.0)})
        r._history = []
        return r

    assert report.default_metrics([run(["loss/x", "grad_norm/y", "dist_to_eq"]), run(["w1"])]) == [
        "w1", "dist_to_eq", "grad_norm/y"]
    assert report.default_metrics([run(["loss/x", "cost/grads", "algo/cg_iters"])]) == ["loss/x"]


@pytest.mark.parametrize("call, message", [
    (lambda p: report.collect_runs([p / "nope"]), "no such file or directory: "),
    (lambda p: report.collect_runs([p / "empty"]), "no runs under "),
    (lambda p: report.collect_runs([]), "give at least one path"),
    (lambda p: report.table(report.collect_runs([p / "sweep"]), metrics=["w2"]),
     "metric 'w2' is in none of the 6 runs (available: dist_to_eq, grad_norm/y)"),
    (lambda p: report.table(report.collect_runs([p / "sweep"]), by=["algo.lr_z"]),
     "--by key 'algo.lr_z' is in none of the 6 runs' configs"),
])
def test_bad_input_is_one_clear_line(sweep, tmp_path, call, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError) as info:
        call(tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_objective_value(tmp_path):
    ok = make_run(tmp_path, "ok", status="converged", final={"dist_to_eq": 0.25, "grad_norm/y": "nan"})
    assert report.objective_value(ok, "dist_to_eq") == 0.25
    assert report.objective_value(ok, "dist_to_eq", "maximize") == 0.25
    assert report.objective_value(ok, "grad_norm/y") == math.inf  # nan would stop an optuna sweep
    assert report.objective_value(ok, "grad_norm/y", "maximize") == -math.inf
    assert report.objective_value(ok, "w1") == math.inf  # missing
    for status in ("diverged", "failed", "interrupted"):
        bad = make_run(tmp_path, status, status=status, final={"dist_to_eq": 0.1})
        assert report.objective_value(bad, "dist_to_eq") == math.inf
    assert report.objective_value(make_run(tmp_path, "killed", summary=False), "dist_to_eq") == math.inf
    assert report.objective_value(tmp_path / "removed", "dist_to_eq") == math.inf
    with pytest.raises(ConfigError, match="objective.mode must be minimize or maximize"):
        report.objective_value(ok, "dist_to_eq", "max")


# -- the command line ------------------------------------------------------------------------------------------
def test_cli_report_prints_markdown_and_writes_csv_markdown_and_png(cli, sweep, tmp_path):
    files = tmp_path / "out"
    code, out, err = cli("report", str(sweep), "--metric", "dist_to_eq", "--metric", "grad_norm/y",
                         "--csv", str(files / "t.csv"), "--markdown", str(files / "t.md"),
                         "--plot", str(files / "t.png"))
    assert code == 0, err
    assert out == (files / "t.md").read_text()
    assert "| g1 | gda | 3 | 2 | 1 | 0 | 0 | 0 | 2.333 ± 1.528 | 0.5 ± 0 [1 inf] |" in out
    assert (files / "t.csv").read_text().startswith("game.name,algo.name,runs,")
    assert (files / "t.png").stat().st_size > 0
    assert err.splitlines() == [f"minimax: wrote {files / p}" for p in ("t.csv", "t.md", "t.png")]


def test_cli_report_grouping_status_filter_and_csv_on_stdout(cli, sweep):
    code, out, err = cli("report", str(sweep), "--by", "algo.name", "--status", "converged",
                         "--status", "diverged", "--metric", "dist_to_eq", "--csv", "-")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("algo.name,runs,converged,diverged,")
    assert lines[1].startswith(f"gda,4,2,2,0,0,0,0,{repr(7 / 3)},")  # 1, 2, 4 and a nan
    assert len(lines) == 2


@pytest.mark.parametrize("args, message", [
    (["/does/not/exist"], "no such file or directory: /does/not/exist"),
    (["SWEEP", "--metric", "w2"], "metric 'w2' is in none of the 6 runs"),
    (["SWEEP", "--by", "algo.nope"], "--by key 'algo.nope' is in none"),
    (["SWEEP", "--status", "lost"], "unknown status 'lost'"),
    (["SWEEP", "--status", "interrupted"], "has status interrupted"),
])
def test_cli_report_bad_input_is_one_line(cli, sweep, args, message):
    code, out, err = cli("report", *[str(sweep) if a == "SWEEP" else a for a in args])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("minimax: error: ") and message in err, err


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_reported_as_running_killed(cli, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    root = tmp_path / "runs"
    env = dict(os.environ, MINIMAX_RUNS=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "minimax_cli", "train", "game=g3", "steps=10000000",
                             "log_every=100", "plot=false", "tensorboard=false"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            found = list(root.rglob("metrics.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 3:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    (run,) = report.collect_runs([root])
    assert run.status == "running/killed" and not (run.path / "summary.json").exists()
    logged = run.history
    assert len(logged) >= 3 and run.final("dist_to_eq") == logged[-1]["dist_to_eq"]
    code, out, err = cli("report", str(root), "--metric", "dist_to_eq")
    assert code == 0, err
    assert out.splitlines()[0].endswith("| failed | running/killed | dist_to_eq |")
    assert out.splitlines()[2].startswith("| g3 | gda | 1 | 0 | 0 | 0 | 0 | 0 | 1 | ")
    assert f"- running/killed: {run.path} (last logged step {logged[-1]['step']})" in out


# -- derived metrics, chosen columns, pivot ---------------------------------------------------------------
def test_derived_metrics_pool_samples_and_count_what_is_missing(sweep):
    runs = report.collect_runs([sweep])
    steps = {"0_g1_gda": [1.0, 3.0], "1_g1_gda": 5.0, "2_g1_gda": None, "3_g1_tgda": [2.0, float("inf")],
             "4_g2_gda": (), "5_g2_gda": [float("nan")]}
    rows = report.table(runs, metrics=["dist_to_eq"], derived={"samples": lambda run: steps[run.path.name]})
    assert rows.metrics == ["dist_to_eq", "samples"]
    g1_gda, g1_tgda, g2_gda = rows
    # g1/gda pools 1, 3 (a vectorized run's two samples), 5 and one missing: mean 3, std 2
    assert (g1_gda["samples:mean"], g1_gda["samples:std"], g1_gda["samples:n"], g1_gda["samples:missing"]) == (3.0, 2.0, 3, 1)
    assert (g1_tgda["samples:mean"], g1_tgda["samples:n"], g1_tgda["samples:inf"]) == (2.0, 1, 1)
    assert (g2_gda["samples:mean"], g2_gda["samples:n"], g2_gda["samples:nan"]) == (None, 0, 1)   # () adds nothing
    assert g1_gda["dist_to_eq:mean"] == pytest.approx(7 / 3)                  # logged metrics unchanged
    assert "samples:mean" in report.to_csv(rows).splitlines()[0]
    only = report.table(runs, derived={"status_is_converged": lambda run: float(run.status == "converged")})
    assert only.metrics == ["status_is_converged"] and only[0]["status_is_converged:mean"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("derived, message", [
    ({"dist_to_eq": lambda run: 1.0}, "also asked for as a logged metric"),
    ({"label": lambda run: "abc"}, "returned text"),
])
def test_derived_metric_errors_are_one_line(sweep, derived, message):
    with pytest.raises(ConfigError, match=message):
        report.table(report.collect_runs([sweep]), metrics=["dist_to_eq"], derived=derived)


def test_markdown_with_chosen_columns_and_custom_cells(sweep):
    rows = report.table(report.collect_runs([sweep]), metrics=["dist_to_eq"])
    text = report.to_markdown(rows, columns=[
        "algo.name", ("game", lambda row: row["game.name"].upper()), "status", "dist_to_eq", "runs",
        ("best", lambda row: f"{row['dist_to_eq:mean'] - row['dist_to_eq:std']:.1f}" if row["dist_to_eq:std"] else "-")])
    lines = text.splitlines()[2:]        # below the caption
    assert lines[0] == "| algo.name | game | status | dist_to_eq | runs | best |"
    assert lines[1] == "|---|---|---|---:|---:|---|"
    assert lines[2] == "| gda | G1 | 2 converged, 1 diverged | 2.333 ± 1.528 | 3 | 0.8 |"
    assert lines[3] == "| tgda | G1 | finished | 0.5 | 1 | - |"
    assert lines[4] == "| gda | G2 | 1 diverged, 1 finished | 3 [1 nan] | 2 | - |"
    with pytest.raises(ConfigError, match="column 'seed' is not in the table"):
        report.to_markdown(rows, columns=["seed"])
    with pytest.raises(ConfigError, match="custom column is a pair"):
        report.to_markdown(rows, columns=[("a", "b", "c")])


def test_status_text():
    assert report.status_text({"runs": 2, "converged": 2, "diverged": 0}) == "converged"
    assert report.status_text({"runs": 3, "converged": 1, "diverged": 2}) == "1 converged, 2 diverged"
    assert report.status_text({"runs": 0}) == "no runs"


def test_pivot_spreads_a_key_over_the_columns(sweep):
    rows = report.table(report.collect_runs([sweep]), metrics=["dist_to_eq"])
    text = report.pivot(rows, index="algo.name", columns="game.name", cell="dist_to_eq", corner="algorithm")
    assert text.splitlines() == ["| algorithm | g1 | g2 |", "|---|---|---|",
                                 "| gda | 2.333 ± 1.528 | 3 [1 nan] |",
                                 "| tgda | 0.5 | — |"]                           # no tgda run on g2
    custom = report.pivot(rows, "game.name", "algo.name", lambda row: f"{report.status_text(row)} ({row['runs']})",
                          row_order=["g2", "g1"], column_order=["tgda", "gda", "eg"])
    assert custom.splitlines()[0] == "| game.name | tgda | gda |"             # eg: no such group, no column
    assert custom.splitlines()[2] == "| g2 | — | 1 diverged, 1 finished (2) |"
    assert custom.splitlines()[3] == "| g1 | finished (1) | 2 converged, 1 diverged (3) |"
    both = report.table(report.collect_runs([sweep]), by=["game.name", "algo.name", "status"], metrics=["dist_to_eq"])
    two = report.pivot(both, ["game.name", "algo.name"], "status", "dist_to_eq")
    assert two.splitlines()[0] == "| game.name | algo.name | converged | diverged | finished |"
    assert "| g1 | gda | 1.5 ± 0.7071 | 4 | — |" in two.splitlines()


@pytest.mark.parametrize("kwargs, message", [
    ({"index": "seed", "columns": "game.name", "cell": "dist_to_eq"}, "not a by key"),
    ({"index": "game.name", "columns": "game.name", "cell": "dist_to_eq"}, "both the index and the columns"),
    ({"index": "algo.name", "columns": "game.name", "cell": "w1"}, "not a metric of the table"),
    ({"index": "algo.name", "columns": "game.name", "cell": "dist_to_eq", "row_order": ["gda"]}, "row_order lacks 'tgda'"),
])
def test_pivot_errors_are_one_line(sweep, kwargs, message):
    rows = report.table(report.collect_runs([sweep]), metrics=["dist_to_eq"])
    with pytest.raises(ConfigError, match=message):
        report.pivot(rows, **kwargs)


def test_pivot_refuses_several_groups_in_one_cell(sweep):
    rows = report.table(report.collect_runs([sweep]), by=["game.name", "algo.name", "seed"], metrics=["dist_to_eq"])
    with pytest.raises(ConfigError, match="several groups at"):
        report.pivot(rows, "algo.name", "game.name", "dist_to_eq")


# -- grouping by what varies (no --by) -----------------------------------------------------------------------
def test_a_sweep_is_grouped_by_its_axes_and_its_seeds_are_averaged(cli, runs_root, tmp_path):
    """The README's sweep shape: algo.tau is an axis (τ = 1 and τ = 4 are not averaged together);
    algo.lr_y (= τ·lr_x) follows from it and seeds are replicates; neither makes a column."""
    sweep = tmp_path / "sweep"
    code, _, err = cli("train", "-m", "game=g1", "algo=gda,tgda", "algo.tau=1,4", "seed=0,1", "steps=30",
                       "game.starts=2", "plot=false", "tensorboard=false", "progress=false",
                       f"hydra.sweep.dir={sweep}")
    assert code == 0, err
    runs = report.collect_runs([sweep])
    by, averaged = report.sweep_axes(runs)
    assert (by, averaged) == (["game.name", "algo.name", "algo.tau"], ["seed"])
    code, out, err = cli("report", str(sweep), "--metric", "dist_to_eq")
    assert code == 0, err
    caption, blank, header, _, *lines = out.splitlines()
    assert caption == ("Grouped by game.name, algo.name, algo.tau (algo.tau: the config key whose values differ "
                       "across the 8 runs; mean ± std over seed (2 values); --by to choose).")
    assert header.startswith("| game.name | algo.name | algo.tau | runs |")
    assert [line.split(" | ")[1:4] for line in lines] == [["gda", "1", "2"], ["gda", "4", "2"], ["tgda", "1", "2"],
                                                          ["tgda", "4", "2"]]
    code, out, err = cli("report", str(sweep), "--by", "algo.name", "--metric", "dist_to_eq", "--csv", "-")
    assert code == 0 and out.splitlines()[0].startswith("algo.name,runs,") and "Grouped" not in out + err
    code, out, err = cli("report", str(sweep), "--metric", "dist_to_eq", "--csv", "-")
    assert out.splitlines()[0].startswith("game.name,algo.name,algo.tau,runs,") and "Grouped by" in err


def test_axes_ignore_bookkeeping_keys_and_keys_that_come_with_a_game(tmp_path):
    def run(name, game, extra, overrides=()):
        path = make_run(tmp_path, name, game=game, final={"dist_to_eq": 1.0})
        config = yaml.safe_load((path / ".hydra" / "resolved.yaml").read_text())
        config["game"].update({"a": 1.0 if game == "g1" else 2.0})      # a parameter of the game itself
        config.update(extra)
        (path / ".hydra" / "resolved.yaml").write_text(yaml.safe_dump(config))
        (path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))

    run("a", "g1", {"steps": 100, "progress": True, "runs_root": "x", "plot": True}, ["game=g1", "steps=100"])
    run("b", "g2", {"steps": 100, "progress": False, "runs_root": "y", "plot": False})
    run("c", "g1", {"steps": 200, "progress": 3, "runs_root": "z", "plot": True}, ["game=g1", "steps=200"])
    runs = report.collect_runs([tmp_path])
    assert report.sweep_axes(runs) == (["game.name", "algo.name", "steps"], [])
    rows = report.table(runs, metrics=["dist_to_eq"])
    assert [(r["game.name"], r["steps"]) for r in rows] == [("g1", 100), ("g1", 200), ("g2", 100)]


def test_diverged_runs_get_a_panel_of_their_own(tmp_path):
    """A diverged run's curve (up to ~1e6) no longer sets the scale of the others: it is drawn
    beside them, its group keeping its colour."""
    def rows(values):
        return [{"step": 10 * i, "wall_time_s": 0.0, "dist_to_eq": v} for i, v in enumerate(values)]

    make_run(tmp_path, "a", seed=0, status="converged", rows=rows([1.0, 0.5, 0.25]))
    make_run(tmp_path, "b", seed=1, status="diverged", rows=rows([1.0, 1e3, 1e6]))
    make_run(tmp_path, "c", algo="tgda", status="finished", rows=rows([2.0, 1.5, 1.0]))
    runs = report.collect_runs([tmp_path])
    panels = report.curve_panels(runs, ["algo.name"], "dist_to_eq")
    assert list(panels) == ["not diverged", "diverged"]
    kept = {values: (len(members), high.max()) for values, members, steps, mean, low, high in panels["not diverged"]}
    assert kept == {("gda",): (1, 1.0), ("tgda",): (1, 2.0)}
    ((values, members, _, mean, _, _),) = panels["diverged"]
    assert values == ("gda",) and [m.path.name for m in members] == ["b"] and mean.max() == 1e6
    assert list(report.curve_panels(runs[:1] + runs[2:], ["algo.name"], "dist_to_eq")) == ["all runs"]
    png = report.plot(runs, ["algo.name"], ["dist_to_eq"], tmp_path / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
