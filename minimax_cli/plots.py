"""Figures written into run directories (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:   # torch is imported where a trajectory is drawn: `minimax report` needs no torch
    import torch


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def integer_ticks(ax) -> None:
    """Whole numbers only on the y axis, for a count (modes covered) that starts at 0; call it
    once the data is drawn. The view holds 0 and 1 at least: with fewer than two integers in view
    (a constant count) the locator would fall back to fractions."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, -0.25), max(hi, math.ceil(hi - 0.5) + 0.5, 1.25))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def save_figure(fig, path: Path) -> Path:
    """Lay out, write and close ``fig``; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)
    return path


def trajectory_png(game, trajectory: torch.Tensor, path: Path, title: str = "", labels=None,
                   n_starts: int | None = None) -> Path:
    """Trajectories (T, P, 2) of a 2-D game over the contours of its leader's loss, to a PNG.

    ``labels``: optional list of (name, trajectory) to draw several algorithms on one figure; then
    ``trajectory`` may be None. ``n_starts``: how many starts the run had (the paths are its first P).
    """
    fig = trajectory_figure(game, trajectory, title, labels, n_starts=n_starts)
    path = Path(path)
    fig.savefig(path)
    pyplot().close(fig)
    return path


def trajectory_figure(game, trajectory: torch.Tensor, title: str = "", labels=None, n_starts: int | None = None):
    """The figure of ``trajectory_png``: paths, their starts (▲) and ends (●: the last finite point
    of a diverged path), the game's known critical points (★), and a legend that names them.

    The frame is the game's region around the starts and critical points, whatever the paths do: a
    path that leaves it is cut at the edge and marked there (×). The legend sits below the frame
    (it never covers a start); its title holds the notes: how many paths leave the frame, and,
    when the run had more starts than it kept paths of, how many are shown and which.
    """
    import torch

    plt = pyplot()
    runs = labels if labels is not None else [(None, trajectory)]
    lo, hi = _frame(game, runs)
    gx = torch.linspace(lo, hi, 200, dtype=game.dtype)
    XX, YY = torch.meshgrid(gx, gx, indexing="xy")
    with torch.no_grad():
        ZZ = torch.func.vmap(lambda a, b: game.plot_value(a.reshape(1), b.reshape(1)))(
            XX.reshape(-1).to(game.device), YY.reshape(-1).to(game.device)).reshape(XX.shape).cpu()
    fig, ax = plt.subplots(figsize=(6, 6), dpi=110, layout="constrained")
    cs = ax.contourf(XX.numpy(), YY.numpy(), ZZ.numpy(), levels=30, cmap="RdBu_r", alpha=0.85)
    fig.colorbar(cs, ax=ax, shrink=0.85, label="f (leader's loss)")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_paths = leaving = 0
    for i, (name, traj) in enumerate(runs):
        t = traj.numpy()
        n_paths += t.shape[1]
        color = colors[i % len(colors)] if labels is not None else "k"
        for p in range(t.shape[1]):
            path_p = t[:, p]
            keep = np.isfinite(path_p).all(-1)
            ax.plot(path_p[keep, 0], path_p[keep, 1], lw=1.1, color=color,
                    label=(name or _paths_label(t.shape[1], n_starts)) if p == 0 else None)
            ax.plot(path_p[0, 0], path_p[0, 1], ls="", marker="^", color="red", ms=6,
                    label="start" if i == p == 0 else None)
            if keep.any():   # drawn where it is: outside the frame the axes clip it
                end = path_p[keep][-1]
                ax.plot(end[0], end[1], ls="", marker="o", color=color, ms=4, mec="w", mew=0.6,
                        label="end" if i == p == 0 else None)
            exit_point = frame_exit(path_p, lo, hi)
            if exit_point is not None:
                leaving += 1
                ax.plot(*exit_point, ls="", marker="x", color="crimson", ms=8, mew=2, clip_on=False)
    points = game.critical_points()
    for j, cp in enumerate(points):
        ax.plot(float(cp.x.reshape(-1)[0]), float(cp.y.reshape(-1)[0]), ls="", marker="*", color="gold",
                ms=12, mec="k", label=None if j else "critical point" + ("s" if len(points) > 1 else ""))
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("x (leader)")
    ax.set_ylabel("y (follower)")
    ax.set_title(textwrap.fill(title, 60))   # several algorithms' names would run off the figure
    notes = [note for note in (leaving_note(leaving, n_paths), shown_note(game, n_paths, n_starts)) if note]
    legend = ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, framealpha=0.85,
                       title="\n".join(textwrap.fill(note, 72) for note in notes) or None, title_fontsize=7)
    if notes:
        legend.get_title().set_color("crimson")
    return fig


def _frame(game, runs) -> tuple[float, float]:
    """The square frame [lo, hi]² of the figure: around the starts and the game's critical points
    (paths do not move it: a diverging path would shrink the game to a dot)."""
    import torch

    starts = torch.cat([t[0].reshape(-1, 2) for _, t in runs])
    corners = [float(torch.nan_to_num(starts, nan=0.0, posinf=0.0, neginf=0.0).abs().max())]
    corners += [abs(float(c)) for cp in game.critical_points() for c in (cp.x.reshape(-1)[0], cp.y.reshape(-1)[0])]
    span = max(corners) * 1.6 + 1.0
    return -span, span


def frame_exit(path: np.ndarray, lo: float, hi: float) -> np.ndarray | None:
    """Where a path (T, 2) first leaves the frame [lo, hi]²: the point of the edge on the segment
    that crosses it; None if it stays inside (a path that ends in NaN inside the frame stays)."""
    finite = np.isfinite(path).all(-1)
    inside = finite & ((path >= lo) & (path <= hi)).all(-1)
    out = np.flatnonzero(~inside)
    if not len(out) or not finite[out[0]]:
        return None
    j = out[0]
    if j == 0:   # starts outside (a frame given by other starts): it is where it is
        return np.clip(path[0], lo, hi)
    a, b = path[j - 1], path[j]
    step = b - a
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(b > hi, (hi - a) / step, np.where(b < lo, (lo - a) / step, np.inf))
    return a + float(np.min(reach)) * step


def leaving_note(leaving: int, n_paths: int) -> str | None:
    """"3 of 16 paths leave the frame (× marks where)", or None when none does."""
    if not leaving:
        return None
    return (f"{leaving} of {n_paths} {'path' if n_paths == 1 else 'paths'} {'leaves' if leaving == 1 else 'leave'} "
            "the frame (× marks where)")


def _paths_label(shown: int, n_starts: int | None) -> str:
    if shown == 1 and n_starts in (None, 1):
        return "path"
    if n_starts is not None and n_starts > shown:
        return f"paths ({shown:,} of {n_starts:,} starts)"
    return f"paths ({shown} starts)"


def shown_note(game, shown: int, n_starts: int | None) -> str | None:
    """"16 of 10,000 starts shown: …" and which ones, when a run kept the paths of only some starts
    (``plot_starts``: the first P of its starts); None when all are shown."""
    if n_starts is None or n_starts <= shown:
        return None
    head = f"{shown:,} of {n_starts:,} starts shown (plot_starts={shown}): "
    if getattr(game, "_explicit", None) is not None:
        return head + f"the first {shown:,} points of game.starts"
    init, radius = getattr(game, "init", None), getattr(game, "init_radius", None)
    if radius == 0.0:
        return head + "every start is the same point (game.init_radius=0)"
    if init == "grid":
        return head + f"the first {shown:,} points of the grid, in its order (not spread over it)"
    if init in ("ball", "box", "normal"):
        return head + f"the first {shown:,} drawn, a random sample (game.init={init}, radius {radius:g})"
    return head + f"the first {shown:,} starts"
