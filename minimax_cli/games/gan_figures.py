"""End-of-run figures of the synthetic-data GANs (Wang et al. 2020, Fig. 4/5 layout).

    samples.png     1-D: generator density (Gaussian KDE, bandwidth 0.1 as Wang et al. 2020, App. E) over
                    the data density, and the discriminator's prediction σ(D(v)) (the critic
                    value for WGAN). 2-D: generated samples over D's prediction, and their KDE.
    grad_norms.png  ‖∇ₓL_x‖ and ‖∇ᵧL_y‖ against steps, log scale (Wang et al. 2020, Fig. 4 row 3, Fig. 7);
                    a pretraining phase is shaded.
    distances.png   w1 and kl against steps (log scale) and modes covered.
    samples.npz     the data behind samples.png, for figures across runs (minimax reproduce):
                    ``fake`` (the generated samples of the metrics, n × d), ``disc`` (D's
                    prediction, as drawn) on ``grid`` (1-D) or on ``grid_x`` × ``grid_y`` (2-D).
    fid.png         image GANs: FID against step (``fid_figure``), saying so when the Inception
                    weights were random.

A multi-seed run (``seeds=S``) draws each kind once with every seed in it (``seed_figures``):
samples.png as a small panel per seed, the curves with each seed thin, their mean and min–max band;
each seed's samples.npz stays in seeds/<seed>/.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import torch

from minimax_cli.metrics.distributions import kde_on_grid
from minimax_cli.plots import integer_ticks, pyplot


def _series(history: list[dict], key: str):
    steps, values = [], []
    for row in history:
        value = row.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            steps.append(row["step"])
            values.append(value)
    return np.asarray(steps), np.asarray(values, dtype=float)


def _cadence(steps) -> str:
    """" (every N steps)": how often a metric was computed (metrics_every), from its logged steps."""
    gaps = np.diff(np.asarray(steps))
    return f" (every {int(np.median(gaps))} steps)" if len(gaps) else ""


def _shade_pretrain(ax, history):
    pre = [row["step"] for row in history if row.get("phase") == "pretrain"]
    if pre:
        ax.axvspan(min(pre), max(pre), color="0.9", zorder=0, label="pretraining")


def gan_figures(game, run_dir, x, y, step, history) -> list[Path]:
    plt = pyplot()
    run_dir = Path(run_dir)
    paths = []
    fake = game.generate(x).detach().cpu().double()
    _save_samples(game, run_dir / "samples.npz", fake.numpy(), y)   # data, not a figure: not returned
    if torch.isfinite(fake).all():
        draw = _samples_1d if game.dataset.dim == 1 else _samples_2d if game.dataset.dim == 2 else None
        if draw is not None:
            fig = draw(plt, game, fake.numpy(), y)
            fig.suptitle(f"{game.name} ({game.dataset.name}, {game.loss_cfg['kind']}) at step {step}")
            fig.tight_layout()
            paths.append(_save(plt, fig, run_dir / "samples.png"))
    return paths + _save_curves(plt, run_dir, history)


def _save_curves(plt, run_dir: Path, history) -> list[Path]:
    """grad_norms.png and distances.png of one run's rows or of each seed's (those with data)."""
    paths = []
    for name, fig in (("grad_norms", grad_norms_figure(plt, history)), ("distances", distances_figure(plt, history))):
        if fig is not None:
            paths.append(_save(plt, fig, run_dir / f"{name}.png"))
    return paths


def _prediction_grid(game, y):
    """D's prediction on the plotting grid: (axes, values), values shaped like the grid."""
    ds = game.dataset
    lo, hi = ds.bounds(margin=1.5 if ds.dim == 1 else 1.0)
    if ds.dim == 1:
        grid = np.linspace(float(lo[0]), float(hi[0]), 800)  # mog1d: [-5.9, 5.9] (Wang et al. 2020 plots [-6, 6])
        return [grid], game.discriminate(y, torch.as_tensor(grid)).cpu().numpy()
    gx, gy = (np.linspace(float(lo[j]), float(hi[j]), 200) for j in (0, 1))
    XX, YY = np.meshgrid(gx, gy, indexing="xy")
    pred = game.discriminate(y, torch.as_tensor(np.stack([XX.ravel(), YY.ravel()], -1))).cpu().numpy()
    return [gx, gy], pred.reshape(XX.shape)


def _save_samples(game, path: Path, fake: np.ndarray, y) -> dict:
    """samples.npz; returns what it holds."""
    payload = {"fake": fake}
    if game.dataset.dim <= 2:
        axes, pred = _prediction_grid(game, y)
        payload["disc"] = pred
        if len(axes) == 1:
            payload["grid"] = axes[0]
        else:
            payload["grid_x"], payload["grid_y"] = axes
    np.savez_compressed(path, **payload)
    return payload


def _save(plt, fig, path: Path) -> Path:
    fig.savefig(path)
    plt.close(fig)
    return path


def _samples_1d(plt, game, fake, y):
    ds, h = game.dataset, game.metric_cfg["density_bandwidth"]
    (grid,), pred = _prediction_grid(game, y)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=110)
    ax1.plot(grid, ds.density(torch.as_tensor(grid)).numpy(), "k--", lw=1, label="data")
    ax1.fill_between(grid, kde_on_grid(fake, [grid], h), alpha=0.5, label=f"generator (KDE, h={h:g})")
    ax1.set_title("generator density")
    ax1.legend(fontsize=8)
    _note(ax1, outside_note(fake, (grid[0],), (grid[-1],))[0])
    ax2.plot(grid, pred, lw=2)
    if game.loss_cfg["kind"] != "wgan":
        ax2.set_ylim(0, 1)
    ax2.set_title("discriminator prediction" + (" (critic)" if game.loss_cfg["kind"] == "wgan" else " σ(D)"))
    for ax in (ax1, ax2):
        ax.grid(ls="--", alpha=0.5)
    return fig


def outside_note(fake: np.ndarray, lows, highs) -> tuple[str | None, np.ndarray]:
    """(a note naming how many generated points lie outside the plotted frame and where they are,
    or None; which points). A generator far from the data would otherwise look fine in a figure
    framed on the data."""
    fake = fake.reshape(len(fake), -1)
    outside = ((fake < np.asarray(lows)) | (fake > np.asarray(highs))).any(1)
    n = int(outside.sum())
    if not n:
        return None, outside
    mean = ", ".join(f"{v:.3g}" for v in fake[outside].mean(0))
    return f"{n} of {len(fake)} generated points lie outside this frame (their mean at ({mean}))", outside


def _note(ax, text: str | None) -> None:
    if text:
        ax.text(0.01, 0.01, text, transform=ax.transAxes, fontsize=7, color="crimson", va="bottom",
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})


def _samples_2d(plt, game, fake, y):
    ds, h = game.dataset, game.metric_cfg["density_bandwidth"]
    (gx, gy), pred = _prediction_grid(game, y)
    XX, YY = np.meshgrid(gx, gy, indexing="xy")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 5), dpi=110)
    cs = ax1.contourf(XX, YY, pred, levels=20, cmap="RdBu_r", alpha=0.7)
    fig.colorbar(cs, ax=ax1, shrink=0.8, label="critic" if game.loss_cfg["kind"] == "wgan" else "σ(D)")
    ax1.scatter(fake[:, 0], fake[:, 1], s=3, c="k", alpha=0.5, label="generated")
    lows, highs = (gx[0], gy[0]), (gx[-1], gy[-1])
    note, outside = outside_note(fake, lows, highs)
    if note:   # where they are: clipped to the frame's edge, in their direction
        edge = np.clip(fake[outside], lows, highs)
        ax1.scatter(edge[:, 0], edge[:, 1], s=14, marker="x", c="crimson", label="generated, outside (at the edge)")
    _note(ax1, note)
    if ds.centres is not None:
        ax1.scatter(ds.centres[:, 0], ds.centres[:, 1], s=12 if ds.n_modes == len(ds.centres) else 0.5,
                    c="gold", label="data centres")
    else:   # a samples file without game.centers: (up to 1,000 of) its rows
        rows = ds.points[:: max(1, len(ds.points) // 1000)]
        ax1.scatter(rows[:, 0], rows[:, 1], s=2, c="gold", alpha=0.6, label="data")
    ax1.set_title("samples over the discriminator")
    ax1.legend(fontsize=8, loc="upper right")
    density = kde_on_grid(fake, [gx, gy], h)  # (len(gx), len(gy))
    ax2.imshow(density.T, origin="lower", extent=(gx[0], gx[-1], gy[0], gy[-1]), cmap="viridis", aspect="auto")
    ax2.set_title(f"generator density (KDE, h={h:g})")
    for ax in (ax1, ax2):
        ax.set_xlim(gx[0], gx[-1])
        ax.set_ylim(gy[0], gy[-1])
    return fig


def _histories(history) -> list[list[dict]]:
    """One run's rows as [rows], or several seeds' rows (a list of row lists) as they are."""
    return history if history and isinstance(history[0], list) else [history]


def _seed_series(histories, key: str):
    """(steps, values (seeds × steps), the runs' series): ``key`` of every history on the union
    of their steps, NaN where a seed has no value."""
    series = [_series(rows, key) for rows in histories]
    steps = np.unique(np.concatenate([s for s, _ in series] + [np.empty(0)]))
    grid = np.full((len(series), len(steps)), np.nan)
    for i, (s, v) in enumerate(series):
        grid[i, np.searchsorted(steps, s)] = v
    return steps, grid, series


def _curve(ax, histories, key: str, label: str, color, transform=lambda v: v, steps_post: bool = False) -> bool:
    """One run's ``key`` against steps, or over several seeds: each seed thin, their mean bold and
    the min–max band shaded. Returns whether anything was drawn."""
    steps, grid, series = _seed_series(histories, key)
    if not np.isfinite(grid).any():
        return False
    style = {"drawstyle": "steps-post"} if steps_post else {}
    if len(series) == 1:
        s, v = series[0]
        ax.plot(s, transform(v), lw=1.8, color=color, label=label, **style)
        return True
    for s, v in series:
        ax.plot(s, transform(v), lw=0.6, alpha=0.3, color=color, **style)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a step where every seed is NaN stays NaN
        mean, low, high = (transform(f(grid, 0)) for f in (np.nanmean, np.nanmin, np.nanmax))
    ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0, step="post" if steps_post else None)
    ax.plot(steps, mean, lw=2, color=color, label=f"{label} (mean of {len(series)} seeds, band: min–max)", **style)
    return True


def fid_figure(history, title: str, note: str | None = None):
    """FID against step (None without a finite FID row); ``note`` (fid.weights_note: random
    Inception weights) under the title in red. A single evaluation is a marker with its value,
    not a line of one point that no one sees."""
    steps, values = _series(history, "fid")
    if not len(values):
        return None
    fig, ax = pyplot().subplots(figsize=(5, 3.5), dpi=100)
    ax.plot(steps, values, marker="o", ms=3 if len(values) > 1 else 7)
    if len(values) == 1:
        ax.annotate(f"{values[0]:.4g}", (steps[0], values[0]), xytext=(8, 4), textcoords="offset points", fontsize=8)
    ax.set(xlabel="step", ylabel="FID")
    fig.suptitle(title, fontsize=10)
    if note:
        ax.set_title(textwrap.fill(note, 60), color="crimson", fontsize=8)
    ax.grid(ls="--", alpha=0.5)
    return fig


def grad_norms_figure(plt, history):
    """‖∇ₓL_x‖ and ‖∇ᵧL_y‖ against steps; ``history``: one run's rows, or a list of each seed's."""
    histories = _histories(history)
    sx, _, _ = _seed_series(histories, "grad_norm/x")
    sy, _, _ = _seed_series(histories, "grad_norm/y")
    if len(sx) == 0 and len(sy) == 0:
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    _shade_pretrain(ax, histories[0])
    _curve(ax, histories, "grad_norm/y", "discriminator ‖∇ᵧL_y‖", "C0")
    _curve(ax, histories, "grad_norm/x", "generator ‖∇ₓL_x‖", "C1")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("gradient norms on the evaluation batch" + _cadence(sx if len(sx) else sy))
    ax.grid(ls="--", alpha=0.5)
    ax.legend(fontsize=8 if len(histories) == 1 else 7)
    fig.tight_layout()
    return fig


def distances_figure(plt, history):
    """w1 and kl (log scale) and modes covered (integer ticks) against steps; ``history``: one
    run's rows, or a list of each seed's."""
    histories = _histories(history)
    keys = [key for key in ("w1", "kl") if len(_seed_series(histories, key)[0])]
    sm, _, _ = _seed_series(histories, "modes_covered")
    if not keys and not len(sm):
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    _shade_pretrain(ax1, histories[0])
    for key, color in zip(keys, ("C0", "C1")):
        _curve(ax1, histories, key, key, color, transform=lambda v: np.maximum(v, 1e-6))
    ax1.set_yscale("log")
    ax1.set_title("W1 and KL(data ‖ generator)" + (_cadence(_seed_series(histories, keys[0])[0]) if keys else ""))
    ax1.legend(fontsize=8 if len(histories) == 1 else 7)
    if _curve(ax2, histories, "modes_covered", "modes covered", "C0", steps_post=True) and len(histories) > 1:
        ax2.legend(fontsize=7)
    ax2.set_title("modes covered" + _cadence(sm))
    integer_ticks(ax2)
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.grid(ls="--", alpha=0.5)
    fig.tight_layout()
    return fig


# -- a multi-seed run (seeds=S): one figure per kind, all seeds in it -------------------------------------------
def seed_figures(games, seeds, run_dir, x, y, step, history, seed_dirs) -> list[Path]:
    """The combined figures of a multi-seed run in ``run_dir``: samples.png (a small panel per
    seed), grad_norms.png and distances.png (every seed, their mean and min–max band); each seed's
    samples.npz in its own folder (``seed_dirs[k]``), as a single run writes it."""
    plt = pyplot()
    run_dir = Path(run_dir)
    rows = [[r for r in history if r.get("seed") == seed] for seed in seeds]
    panels = []
    for k, game in enumerate(games):
        fake = game.generate(x[k]).detach().cpu().double().numpy()
        panels.append((seeds[k], game, fake, _save_samples(game, Path(seed_dirs[k]) / "samples.npz", fake, y[k]),
                       rows[k][-1] if rows[k] else {}))
    paths = []
    base = games[0]
    if base.dataset.dim in (1, 2):
        fig = _seed_samples(plt, panels)
        fig.suptitle(f"{base.name} ({base.dataset.name}, {base.loss_cfg['kind']}) at step {step}: "
                     f"{len(seeds)} seeds")
        paths.append(_save(plt, fig, run_dir / "samples.png"))
    return paths + _save_curves(plt, run_dir, rows)


def _seed_samples(plt, panels):
    """A grid of small panels, one per seed: 1-D the generator's KDE over the data density (and
    σ(D)); 2-D the generated points over D's prediction and the data centres."""
    n = len(panels)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows + 0.5), dpi=100, sharex=True, sharey=True,
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    for ax, (seed, game, fake, payload, last) in zip(axes.flat, panels):
        finite = np.isfinite(fake).all()
        if game.dataset.dim == 1:
            grid = payload["grid"]
            ax.plot(grid, game.dataset.density(torch.as_tensor(grid)).numpy(), "k--", lw=0.8)
            if finite:
                ax.fill_between(grid, kde_on_grid(fake, [grid], game.metric_cfg["density_bandwidth"]), alpha=0.5)
            if game.loss_cfg["kind"] != "wgan":
                ax.plot(grid, payload["disc"], lw=0.8, color="C1")
            lows, highs = (grid[0],), (grid[-1],)
        else:
            gx, gy = payload["grid_x"], payload["grid_y"]
            ax.imshow(payload["disc"], origin="lower", extent=(gx[0], gx[-1], gy[0], gy[-1]), cmap="RdBu_r",
                      alpha=0.7, aspect="auto")
            if finite:
                ax.scatter(fake[:, 0], fake[:, 1], s=1, c="k", alpha=0.4, lw=0)
            if game.dataset.centres is not None:
                ax.scatter(game.dataset.centres[:, 0], game.dataset.centres[:, 1], s=6, c="gold")
            lows, highs = (gx[0], gy[0]), (gx[-1], gy[-1])
            ax.set_xlim(gx[0], gx[-1])
            ax.set_ylim(gy[0], gy[-1])
        if not finite:
            note = "generated points are not finite"
        else:
            note, outside = outside_note(fake, lows, highs)
            if note:
                note = f"{int(outside.sum())} of {len(fake)} outside"
        _note(ax, note)
        facts = [f"W1 {last['w1']:.3g}" if isinstance(last.get("w1"), (int, float)) else "",
                 f"{last['modes_covered']:g} modes" if isinstance(last.get("modes_covered"), (int, float)) else ""]
        ax.set_title(f"seed {seed}" + "".join(f", {f}" for f in facts if f), fontsize=8)
        ax.tick_params(labelsize=7)
    key = ("dashed: data density, fill: generator (KDE)" + (", orange: σ(D)" if panels[0][1].loss_cfg["kind"] != "wgan"
                                                          else "") if panels[0][1].dataset.dim == 1
           else "dots: generated, colour: D's prediction, gold: data centres")
    fig.text(0.5, 0.005, key, ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return fig
