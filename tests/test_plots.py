"""Figures of a run directory: the trajectory plot of a 2-D game names what it draws."""

import math

import torch

from minimax_cli.games.polynomial import Poly54
from minimax_cli.games.toy import G3
from minimax_cli.plots import pyplot, trajectory_figure, trajectory_png
from tests.conftest import make_game


def legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_the_trajectory_legend_names_paths_starts_ends_and_critical_points(tmp_path):
    game = make_game(G3, name="g3")
    path = torch.tensor([[[7.0, 5.0], [2.0, -1.0]], [[6.0, 4.0], [1e3, 1e3]], [[5.0, 3.0], [math.nan, math.nan]]])
    fig = trajectory_figure(game, path, title="g3 / gda")
    assert legend(fig) == ["paths (2 starts)", "start", "end", "critical point"]
    ends = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    # a diverged path ends at its last finite point
    assert [tuple(line.get_xydata()[0]) for line in ends] == [(5.0, 3.0), (1e3, 1e3)]
    pyplot().close(fig)
    several = trajectory_figure(make_game(Poly54, name="poly54"), None,
                                labels=[("gda", path[:, :1]), ("tgda", path[:, :1] / 2)])
    assert legend(several) == ["gda", "start", "end", "tgda", "critical points"]
    pyplot().close(several)
    png = trajectory_png(game, path[:, :1], tmp_path / "t.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
