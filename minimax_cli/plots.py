"""Figures written into run directories (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Lay out, write and close ``fig``; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)
    return path


def trajectory_png(game, trajectory: torch.Tensor, path: Path, title: str = "", labels=None) -> Path:
    """Trajectories (T, P, 2) of a 2-D game over the contours of its leader's loss, to a PNG.

    ``labels``: optional list of (name, trajectory) to draw several algorithms on one figure; then
    ``trajectory`` may be None.
    """
    fig = trajectory_figure(game, trajectory, title, labels)
    path = Path(path)
    fig.savefig(path)
    pyplot().close(fig)
    return path


def trajectory_figure(game, trajectory: torch.Tensor, title: str = "", labels=None):
    """The figure of ``trajectory_png``: paths, their starts (▲) and ends (●: the last finite point
    of a diverged path), the game's known critical points (★), and a legend that names them."""
    plt = pyplot()
    runs = labels if labels is not None else [(None, trajectory)]
    # a square frame around the starts and the critical point; runaway (diverging) paths are clipped
    starts = torch.cat([t[0].reshape(-1, 2) for _, t in runs])
    span = float(torch.nan_to_num(starts).abs().max()) * 1.6 + 1.0
    lo = torch.tensor([-span, -span])
    hi = torch.tensor([span, span])
    gx = torch.linspace(float(lo[0]), float(hi[0]), 200, dtype=game.dtype)
    gy = torch.linspace(float(lo[1]), float(hi[1]), 200, dtype=game.dtype)
    XX, YY = torch.meshgrid(gx, gy, indexing="xy")
    with torch.no_grad():
        ZZ = torch.func.vmap(lambda a, b: game.plot_value(a.reshape(1), b.reshape(1)))(
            XX.reshape(-1).to(game.device), YY.reshape(-1).to(game.device)).reshape(XX.shape).cpu()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    cs = ax.contourf(XX.numpy(), YY.numpy(), ZZ.numpy(), levels=30, cmap="RdBu_r", alpha=0.85)
    fig.colorbar(cs, ax=ax, shrink=0.85, label="f (leader's loss)")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, traj) in enumerate(runs):
        t = traj.numpy()
        color = colors[i % len(colors)] if labels is not None else "k"
        for p in range(t.shape[1]):
            path_p = t[:, p]
            keep = np.isfinite(path_p).all(-1)
            ax.plot(path_p[keep, 0], path_p[keep, 1], lw=1.1, color=color,
                    label=(name or ("path" if t.shape[1] == 1 else f"paths ({t.shape[1]} starts)")) if p == 0 else None)
            ax.plot(path_p[0, 0], path_p[0, 1], ls="", marker="^", color="red", ms=6,
                    label="start" if i == p == 0 else None)
            if keep.any():
                end = path_p[keep][-1]
                ax.plot(end[0], end[1], ls="", marker="o", color=color, ms=4, mec="w", mew=0.6,
                        label="end" if i == p == 0 else None)
    points = game.critical_points()
    for j, cp in enumerate(points):
        ax.plot(float(cp.x.reshape(-1)[0]), float(cp.y.reshape(-1)[0]), ls="", marker="*", color="gold",
                ms=12, mec="k", label=None if j else "critical point" + ("s" if len(points) > 1 else ""))
    ax.set_xlim(float(lo[0]), float(hi[0]))
    ax.set_ylim(float(lo[1]), float(hi[1]))
    ax.set_xlabel("x (leader)")
    ax.set_ylabel("y (follower)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    fig.tight_layout()
    return fig
