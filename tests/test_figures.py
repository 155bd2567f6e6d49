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
