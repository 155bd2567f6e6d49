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


def output_dir(name: str, out: Path | None, root: Path = Path("runs")) -> Path:
    """A reproduction's output folder: ``out``, or <root>/reproduce/<name>/<time>; never one that
    already holds results (a finished reproduction is never overwritten)."""
    import datetime as dt

    out = out or root / "reproduce" / name / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty; choose another --out (results are never overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    return out


def trajectory_png(game, trajectory: torch.Tensor, path: Path, title: str = "", labels=None) -> Path:
    """Trajectories (T, P, 2) of a 2-D game over the contours of its leader's loss.

    ``labels``: optional list of (name, trajectory) to draw several algorithms on one figure; then
    ``trajectory`` may be None.
    """
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
        for p in range(t.shape[1]):
            path_p = t[:, p]
            keep = np.isfinite(path_p).all(-1)
            color = colors[i % len(colors)] if labels is not None else "k"
            ax.plot(path_p[keep, 0], path_p[keep, 1], lw=1.1, color=color,
                    label=name if (p == 0 and name) else None)
            ax.plot(path_p[0, 0], path_p[0, 1], marker="^", color="red", ms=6)
    for cp in game.critical_points():
        ax.plot(float(cp.x.reshape(-1)[0]), float(cp.y.reshape(-1)[0]), marker="*", color="gold",
                ms=12, mec="k")
    ax.set_xlim(float(lo[0]), float(hi[0]))
    ax.set_ylim(float(lo[1]), float(hi[1]))
    ax.set_xlabel("x (leader)")
    ax.set_ylabel("y (follower)")
    ax.set_title(title)
    if labels is not None:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
