"""What the figures say, read from their matplotlib objects: the trajectory figure of a 2-D game
(frame, paths leaving it, the starts shown, where the legend sits)."""

import math

import numpy as np
import pytest
import torch

from minimax_cli.games.toy import G1, G3
from minimax_cli.plots import frame_exit, pyplot, trajectory_figure


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot().close("all")


def marks(ax, marker: str) -> list[tuple[float, float]]:
    return [tuple(line.get_xydata()[0]) for line in ax.lines if line.get_marker() == marker]


def legend_title(fig) -> str:
    return fig.axes[0].get_legend().get_title().get_text().replace("\n", " ")


def test_a_diverged_path_is_cut_at_the_frame_and_marked_where_it_leaves():
    game = G1("g1")
    game.setup("cpu", torch.float64, 0)
    # from (5, 7) out through the frame's right edge (x = 12.2 for this start) to a non-finite end
    path = torch.tensor([[[5.0, 7.0]], [[10.0, 7.0]], [[20.0, 9.0]], [[1e30, 1e30]], [[math.nan, math.nan]]])
    fig = trajectory_figure(game, path, title="g1 / gda")
    ax = fig.axes[0]
    span = 7.0 * 1.6 + 1.0
    assert ax.get_xlim() == (-span, span) and ax.get_ylim() == (-span, span)   # the game's region, not the path's
    (exit_x, exit_y), = marks(ax, "x")
    assert exit_x == pytest.approx(span) and exit_y == pytest.approx(7.0 + 2.0 * (span - 10.0) / 10.0)
    assert "1 of 1 path leaves the frame (× marks where)" in legend_title(fig)


def test_paths_inside_the_frame_get_no_note():
    game = G3("g3")
    game.setup("cpu", torch.float64, 0)
    path = torch.tensor([[[7.0, 5.0]], [[3.0, 2.0]], [[math.nan, math.nan]]])   # NaN inside: it stays
    fig = trajectory_figure(game, path)
    assert marks(fig.axes[0], "x") == [] and fig.axes[0].get_legend().get_title().get_text() == ""


def test_frame_exit_on_each_edge_and_none_inside():
    assert frame_exit(np.array([[0.0, 0.0], [0.0, -4.0]]), -2.0, 2.0).tolist() == [0.0, -2.0]
    assert frame_exit(np.array([[1.0, 1.0], [3.0, 5.0]]), -2.0, 2.0).tolist() == [1.5, 2.0]   # the top edge first
    assert frame_exit(np.array([[1.0, 1.0], [1.5, -1.0]]), -2.0, 2.0) is None


@pytest.mark.parametrize("init, how", [("ball", "the first 16 drawn, a random sample (game.init=ball, radius 4)"),
                                       ("grid", "the first 16 points of the grid, in its order")])
def test_the_figure_says_how_many_starts_it_shows_and_which(init, how):
    game = G3("g3", starts=10000, init=init, init_radius=4.0)
    game._check_dims()
    game.setup("cpu", torch.float64, 0)
    x, y = game.initial_points()
    path = torch.cat([x[:16], y[:16]], -1).unsqueeze(0).repeat(3, 1, 1)   # the runner keeps the first plot_starts
    fig = trajectory_figure(game, path, n_starts=10000)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[0] == "paths (16 of 10,000 starts)"
    assert "16 of 10,000 starts shown (plot_starts=16): " + how in legend_title(fig)


def legend_covers(fig, points) -> list[bool]:
    fig.canvas.draw()
    box = fig.axes[0].get_legend().get_window_extent()
    return [box.contains(*fig.axes[0].transData.transform(p)) for p in points]


def test_the_g3_legend_never_covers_a_start():
    game = G3("g3")
    game.setup("cpu", torch.float64, 0)
    start = (7.0, 5.0)   # g3's start, where an upper-right legend used to sit
    path = torch.tensor([[start], [[3.0, 2.0]], [[0.5, 0.2]]])
    fig = trajectory_figure(game, path)
    assert legend_covers(fig, [start]) == [False]
    # several algorithms from the same start, as the toy reproduction draws them
    many = trajectory_figure(game, None, labels=[(name, path) for name in ("gda", "ogda", "eg", "sga", "co", "fr")])
    assert legend_covers(many, [start]) == [False]


# -- `minimax report --plot` curves ---------------------------------------------------------------------------
def test_identical_runs_are_one_line_named_after_both(tmp_path):
    from minimax_cli import report
    from tests.test_report import make_run

    def rows(values):
        return [{"step": 10 * i, "wall_time_s": 0.0, "dist_to_eq": v} for i, v in enumerate(values)]

    make_run(tmp_path, "a", algo="gda", rows=rows([4.0, 2.0, 1.0]))
    make_run(tmp_path, "b", algo="ogda", rows=rows([4.0, 2.0, 1.0]))    # the same numbers as gda
    make_run(tmp_path, "c", algo="eg", rows=rows([4.0, 3.0, 2.0]))
    fig = report.curves_figure(report.collect_runs([tmp_path]), ["algo.name"], ["dist_to_eq"])
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["eg (n=1)", "2 identical: gda (n=1), ogda (n=1)"]
    assert len(ax.lines) == 2   # one line for the two identical runs, none hidden under the other


def test_modes_covered_gets_integer_ticks(tmp_path):
    from minimax_cli import report
    from tests.test_report import make_run

    for seed, modes in enumerate([[0, 1, 2, 3], [0, 0, 1, 1]]):
        make_run(tmp_path, f"s{seed}", game="mog", seed=seed,
                 rows=[{"step": 100 * i, "wall_time_s": 0.0, "modes_covered": m} for i, m in enumerate(modes)])
    fig = report.curves_figure(report.collect_runs([tmp_path]), ["game.name"], ["modes_covered"])
    fig.canvas.draw()
    ticks = fig.axes[0].get_yticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)


def test_a_constant_count_still_gets_integer_ticks():
    from minimax_cli.games.gan_figures import distances_figure

    rows = [{"step": s, "w1": 1.0 / (s + 1), "modes_covered": 1.0} for s in (0, 100, 200)]
    fig = distances_figure(pyplot(), rows)
    fig.canvas.draw()
    ticks = [t for t in fig.axes[1].get_yticks() if fig.axes[1].get_ylim()[0] <= t <= fig.axes[1].get_ylim()[1]]
    assert 1.0 in ticks and all(float(t).is_integer() for t in ticks)


# -- a multi-seed run: one figure per kind by default --------------------------------------------------------
TINY_MOG = ["game=mog", "game.generator.width=4", "game.discriminator.width=4", "game.batch.size=32",
            "game.batch.dataset_size=32", "game.metrics.w1_samples=32", "game.metrics.kl_samples=64",
            "game.metrics.mode_samples=64", "steps=6", "log_every=3", "metrics_every=3", "tensorboard=false",
            "progress=false", "seeds=3"]


def test_seeds_write_one_combined_figure_per_kind_and_per_seed_ones_on_request(cli, runs_root):
    """(and what the combined figures hold: every seed, their mean and band)"""
    code, _, err = cli("train", *TINY_MOG, f"hydra.run.dir={runs_root}/combined")
    assert code == 0, err
    run = runs_root / "combined"
    assert sorted(p.name for p in run.glob("*.png")) == ["distances.png", "grad_norms.png", "samples.png"]
    for seed in (0, 1, 2):   # the data behind a seed's samples stays in its folder (reproductions read it)
        assert [p.name for p in (run / "seeds" / str(seed)).iterdir()] == ["samples.npz"]
    code, _, err = cli("train", *TINY_MOG, "seed_figures=per_seed", f"hydra.run.dir={runs_root}/apart")
    assert code == 0, err
    assert not list((runs_root / "apart").glob("*.png"))
    assert sorted(p.name for p in (runs_root / "apart" / "seeds" / "1").glob("*.png")) == [
        "distances.png", "grad_norms.png", "samples.png"]
    code, _, err = cli("train", *TINY_MOG, "seed_figures=some")
    assert code == 2 and "seed_figures" in err and "combined, per_seed, both" in err
    combined_figures_show_every_seed_with_mean_and_band(run)


def combined_figures_show_every_seed_with_mean_and_band(run):
    import json

    from minimax_cli.games.gan_figures import distances_figure, grad_norms_figure

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    per_seed = [[r for r in rows if r.get("seed") == seed] for seed in (0, 1, 2)]
    fig = distances_figure(pyplot(), per_seed)
    w1_axes, modes_axes = fig.axes[:2]
    labels = [t.get_text() for t in w1_axes.get_legend().get_texts()]
    assert labels[0] == "w1 (mean of 3 seeds, band: min–max)"
    mean = next(line for line in w1_axes.lines if line.get_label() == labels[0])
    by_step = {s: [r["w1"] for r in rows if r["step"] == s and "w1" in r] for s in (0, 3, 6)}
    assert mean.get_ydata().tolist() == pytest.approx([sum(v) / 3 for v in by_step.values()])
    assert len([line for line in w1_axes.lines if line.get_alpha() == 0.3]) == 6   # w1 and kl of each seed
    assert len(w1_axes.collections) == 2                                             # their min–max bands
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in modes_axes.get_yticks())
    norms = grad_norms_figure(pyplot(), per_seed)
    assert [t.get_text() for t in norms.axes[0].get_legend().get_texts()] == [
        "discriminator ‖∇ᵧL_y‖ (mean of 3 seeds, band: min–max)", "generator ‖∇ₓL_x‖ (mean of 3 seeds, band: min–max)"]


# -- FID -----------------------------------------------------------------------------------------------------
def test_fid_with_random_weights_says_so_and_one_evaluation_is_a_visible_marker(tmp_path, monkeypatch):
    from minimax_cli import plots
    from tests.test_image_gan import game, start

    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig) or path)
    g = game(dtype=torch.float32, metrics={"fid_every": 0, "sample_every": 0, "grid": 4,
                                           "fid": {"weights": "random", "samples": 2}})
    x, y = start(g)
    paths = g.figures(tmp_path, x, y, 4, [{"step": 0}, {"step": 4, "fid": 312.5}])
    assert [p.name for p in paths] == ["samples.png", "fid.png"]
    ax = drawn[0].axes[0]
    assert drawn[0]._suptitle.get_text() == "cifar10: FID (2 samples)"
    assert "random Inception weights" in ax.get_title() and "not an FID" in ax.get_title()
    (line,) = ax.lines
    assert line.get_xydata().tolist() == [[4.0, 312.5]] and line.get_marker() == "o" and line.get_markersize() >= 6
    assert [t.get_text() for t in ax.texts] == ["312.5"]
    g.metric_cfg["fid"]["weights"] = "auto"   # real weights: no note
    g.figures(tmp_path, x, y, 4, [{"step": 2, "fid": 300.0}, {"step": 4, "fid": 250.0}])
    assert drawn[1].axes[0].get_title() == "" and len(drawn[1].axes[0].texts) == 0


def test_a_run_tells_its_figure_how_many_starts_it_had(cli, runs_root, monkeypatch):
    from minimax_cli import plots, run_outputs

    drawn = []

    def keep(game, trajectory, path, title="", labels=None, n_starts=None):
        drawn.append(trajectory_figure(game, trajectory, title, labels, n_starts=n_starts))
        return plots.trajectory_png(game, trajectory, path, title, labels, n_starts)

    monkeypatch.setattr(run_outputs, "trajectory_png", keep)
    code, _, err = cli("train", "game=g3", "game.starts=20", "game.init_radius=4", "plot_starts=4", "steps=5",
                       "tensorboard=false", "progress=false")
    assert code == 0, err
    assert "4 of 20 starts shown (plot_starts=4): the first 4 drawn" in legend_title(drawn[0])
