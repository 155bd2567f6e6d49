"""What a run writes when its loop has ended: summary.json (with one entry per seed of a
multi-seed run), trajectories.npz (analytic games' starts) and the figures.

Called by train.execute with the loop's result and plain values (the built game, the algorithm,
the run's numbers); it reads no config.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig

from minimax_cli import distributed, progress
from minimax_cli.plots import trajectory_png
from minimax_cli.runner import CONVERGED, DIVERGED, RUNNING, RunResult

log = logging.getLogger("minimax")


def finish(result: RunResult, game, algo, runlog, run_dir: Path, *, steps: int, seed: int, device, dtype,
           ema: float | None, plot: bool, pre_summary: dict | None, seed_figures: str = "combined") -> RunResult:
    """Summary, per-start outcomes and figures of the ended run (rank 0 writes them); returns ``result``."""
    summary = summarize(result, game, algo, steps=steps, seed=seed, device=device, dtype=dtype)
    note = fraction_note(result)
    summary |= distributed.summary_fields(result.state)  # data-parallel: world size, ranks in sync (every rank)
    if not distributed.is_main():
        return result
    if pre_summary is not None:
        summary["pretrain"] = pre_summary
    if result.ema is not None:
        summary["ema"] = float(ema)
    runlog.summary(summary)
    if game.analytic:  # trajectories.npz: per start the final iterates, status, stopping step, plotted paths
        status, stop_step = result.start_outcomes()
        starts = {"x": result.state["x"].detach().cpu().numpy(), "y": result.state["y"].detach().cpu().numpy(),
                  "status": np.array(status), "stop_step": stop_step.numpy()}
        if result.trajectory is not None:
            starts["trajectory"] = result.trajectory.numpy()
        np.savez_compressed(run_dir / "trajectories.npz", **starts)
    if plot:
        try:
            _figures(result, game, algo, runlog, run_dir, seed_figures)
        except KeyboardInterrupt as stop:   # the run is done, its figures are not: say so in the summary
            runlog.summary(summary | {"figures": f"interrupted ({stop}): some figures are missing"})
            raise
    log.info("%s after %d steps (%.2fs)%s -> %s", result.status, result.step, result.wall_time_s, note, run_dir)
    return result


def _figures(result: RunResult, game, algo, runlog, run_dir: Path, seed_figures: str = "combined") -> None:
    """The run's figures (PNG files, and in TensorBoard). A multi-seed run's (``seed_figures``):
    combined: one figure per kind with every seed in it, in the run dir; per_seed: each seed's own
    in seeds/<seed>/ (3 × S figures: slow for many seeds); both."""
    with progress.phase("figures", unit="figures") as figures:
        x_eval = result.ema if result.ema is not None else result.state["x"]
        if result.seeds is not None:
            drawn = []
            if seed_figures in ("combined", "both"):   # not in TensorBoard, whose runs are the seeds
                for png in game.combined_figures(run_dir, x_eval, result.state["y"], result.step, runlog.history):
                    runlog.add_artifact(Path(png))      # the run's own tracker run (a seed's holds its rows)
                    figures.update()
            if seed_figures in ("per_seed", "both"):   # each seed's figures in seeds/<seed>/, from its own rows
                drawn += game.figures_per_seed(run_dir, x_eval, result.state["y"], result.step, runlog.history)
        else:
            drawn = [(None, game.figures(run_dir, x_eval, result.state["y"], result.step, runlog.history))]
        for seed_k, pngs in drawn:
            for png in pngs:
                runlog.add_figure_png(Path(png).stem, png, result.step, seed=seed_k)
                figures.update()
        if result.trajectory is not None:
            png = trajectory_png(game, result.trajectory, run_dir / "trajectories.png",
                                 title=f"{game.name} / {algo.name}: {result.status} at step {result.step}",
                                 n_starts=result.n_starts)
            runlog.add_figure_png("trajectories", png, result.step)


def summarize(result: RunResult, game, algo, *, steps: int, seed: int, device, dtype) -> dict:
    summary = {
        "status": result.status,
        "step": result.step,
        "steps": steps,
        "wall_time_s": round(result.wall_time_s, 6),
        "metrics_time_s": round(result.metrics_time_s, 6),
        "game": game.name,
        "algo": algo.name,
        "algo_params": algo.hparams(),
        "seed": seed,
        "n_starts": result.n_starts,
        "device": str(device),
        "dtype": str(dtype).replace("torch.", ""),
        "cost": result.cost,
    }
    if result.seeds is not None:
        # one entry per seed: what its separate run's summary says (RunLog adds each one's metrics)
        summary |= {"n_starts": 1, "n_seeds": len(result.seeds), **result.fractions(), "seeds": seed_entries(result)}
    elif result.n_starts > 1:
        summary |= result.fractions()
    elif int(result.stop_step[0]) >= 0:
        summary["stop_step"] = int(result.stop_step[0])
    try:
        summary["overrides"] = list(HydraConfig.get().overrides.task)
    except ValueError:  # not under Hydra (tests calling execute directly)
        pass
    return summary


def pretrain_summary(pre: RunResult, algo, steps: int) -> dict:
    """The pretraining phase's entry of summary.json."""
    entry = {"algo": algo.name, "algo_params": algo.hparams(), "steps": steps, "status": pre.status,
             "step": pre.step, "wall_time_s": round(pre.wall_time_s, 6), "cost": pre.cost}
    if pre.seeds is not None:
        entry["seeds"] = seed_entries(pre)
    return entry


def seed_entries(result: RunResult) -> list[dict]:
    """Per seed of a multi-seed run: seed, status, the step its separate run would end at (its last
    row) and ``stop_step``: the step it converged or diverged at, or the run's last step (as
    trajectories.npz records a start that ran to the end)."""
    names = {RUNNING: None, CONVERGED: "converged", DIVERGED: "diverged"}
    out = []
    for k, seed in enumerate(result.seeds):
        status = names[int(result.start_status[k])]
        if status is None:  # still running when the run ended: the run's own ending
            status = "interrupted" if result.status == "interrupted" else "finished"
        stopped = int(result.stop_step[k])
        out.append({"seed": seed, "status": status, "step": int(result.last_row[k]),
                    "stop_step": stopped if stopped >= 0 else int(result.step)})
    return out


def fraction_note(result: RunResult) -> str:
    if result.n_starts == 1:
        return ""
    n = result.n_starts
    conv = int((result.start_status == CONVERGED).sum())
    div = int((result.start_status == DIVERGED).sum())
    return f" [{n} {'seeds' if result.seeds is not None else 'starts'}: {conv} converged, {div} diverged]"
