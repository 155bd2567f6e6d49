"""The single train entry: cfg -> game, algorithm, logger -> loop -> run directory."""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from minimax_cli import checkpoint, distributed, progress, resume, signals, storage
from minimax_cli.build import build
from minimax_cli.catalog import CONF_DIR
from minimax_cli.cpus import apply_threads
from minimax_cli.errors import MinimaxError, RunDirError
from minimax_cli.games.seeds import SeedStack, seed_chunk
from minimax_cli.metrics.objective import objective_value
from minimax_cli.oracle import apply_precision, effective_precision
from minimax_cli.run_settings import RunSettings, settings_of
from minimax_cli.runlog import RunLog, write_json_atomic
from minimax_cli.runner import CONVERGED, DIVERGED, RUNNING, LoopSettings, Runner, RunResult

log = logging.getLogger("minimax")

@dataclass
class Launch:
    """One ``minimax train``'s jobs, as the Hydra entry sees them: the overrides of the jobs
    already checked in this process (their config is trusted, not checked again) and the exit
    code they end with (Hydra discards a task's return value)."""

    checked: frozenset = frozenset()
    code: int = 0


def execute(run: RunSettings | DictConfig, run_dir: Path) -> RunResult:
    """Run one job into ``run_dir``: metrics, summary, figures; checkpoints every
    ``checkpoint_every`` steps, and with ``resume`` continue from the run's last checkpoint.
    ``run``: the job's checked settings (config.settle); a config from config.compose is trusted.
    Its ``sources`` (where each algorithm value came from) end resolved.yaml; its ``note`` is
    logged right after the run directory."""
    if not isinstance(run, RunSettings):  # a config composed elsewhere (a test): trusted as checked
        run = settings_of(copy.deepcopy(run))
    cfg = run.cfg
    # the run directory first: setup (data, FID statistics) may take minutes
    if os.environ.get("RANK", "0") == "0":  # (torchrun's other ranks: rank 0 speaks for the run)
        log.info("run dir: %s%s", run_dir, " (resuming)" if run.resuming else "")
        if run.note:
            log.info("%s", run.note)
    checkpoint.seed_everything(run.seed)
    game = build(cfg.game, "game")
    seeds = run.seeds
    algo = build(cfg.algo, "algo")
    pretrain = (build(cfg.pretrain.algo, "pretrain.algo"), run.pretrain_steps) if run.pretrain_steps else None
    device, dtype = run.torch_device(), run.torch_dtype(game)
    device = distributed.setup(cfg, game, device)  # hardware=ddp: join the ranks (rank 0 writes the run dir)
    main = distributed.is_main()
    progress.configure(cfg.get("progress", True) if main else False, _job_label())
    apply_threads(cfg.hardware)
    precision = run.precision
    apply_precision(precision)
    if len(seeds) > 1:  # seed k of the run is a separate run's seed + k (games/seeds.py)
        games = [game] + [build(cfg.game, "game") for _ in seeds[1:]]
        for one, seed in zip(games, seeds):
            one.setup(device, dtype, seed)
        game = SeedStack(games, list(seeds))
    else:
        game.setup(device, dtype, run.seed)
    resumed = checkpoint.resume_payload(run.resume, run.cfg, run_dir, device)
    if resumed is not None:
        checkpoint.restore_rng(resumed["rng"])
        game.load_state_dict(resumed["game"])
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ".hydra").mkdir(exist_ok=True)
        (run_dir / ".hydra" / "resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True)
                                                          + (run.sources + "\n" if run.sources else ""))
    runlog = distributed.NullLog() if not main else RunLog(
        run_dir, tensorboard=bool(cfg.tensorboard), resume_step=None if resumed is None else int(resumed["runner"]["step"]))
    if resumed is not None:
        log.info("resuming at step %d", resumed["runner"]["step"])
    every = run.checkpoint_every
    fingerprint = checkpoint.fingerprint(cfg)
    pre_summary: dict | None = None if resumed is None else resumed.get("pretrain")

    def saver(phase):
        if not main:
            return None

        def save(payload):
            checkpoint.save(checkpoint.path_in(run_dir), {
                "phase": phase, "runner": payload, "rng": checkpoint.rng_state(), "game": game.state_dict(),
                "config": fingerprint, "pretrain": pre_summary})
        return save

    loop = LoopSettings(steps=int(cfg.steps), log_every=int(cfg.log_every), metrics_every=cfg.get("metrics_every"),
                        tol=float(cfg.tol), converge_on=str(cfg.converge_on), diverge_norm=float(cfg.diverge_norm),
                        check_every=cfg.check_every, progress=progress.enabled() and main, log=runlog,
                        plot_starts=int(cfg.plot_starts), checkpoint_every=every, oracle=distributed.oracle_class(),
                        seed_chunk=seed_chunk(cfg))

    def trajectory_file(phase):  # a 2-D game's plotted paths, appended there (trajectory.py)
        return checkpoint.trajectory_path_in(run_dir, phase) if main else None

    precision_of = lambda a: effective_precision(a, precision)  # noqa: E731
    try:
        start, state, resume_main, pre = 0, None, None, None
        if pretrain is not None and (resumed is None or resumed["phase"] == "pretrain"):
            # phase 1 (e.g. Gao et al. 2022's GDA-2 pretraining), logged into the same metrics.jsonl
            runlog.fields = {"phase": "pretrain"}
            pre = Runner(game, pretrain[0], loop.replace(
                steps=pretrain[1], checkpoint=saver("pretrain"), precision=precision_of(pretrain[0]),
                title=f"pretraining {game.name}/{pretrain[0].name}", trajectory_file=trajectory_file("pretrain"))).run(
                resume=None if resumed is None else resumed["runner"])
            log.info("pretraining (%s): %s after %d steps (%.2fs)", pretrain[0].name, pre.status, pre.step,
                     pre.wall_time_s)
            pre_summary = {"algo": pretrain[0].name, "algo_params": pretrain[0].hparams(), "steps": pretrain[1],
                           "status": pre.status, "step": pre.step, "wall_time_s": round(pre.wall_time_s, 6),
                           "cost": pre.cost}
            if pre.seeds is not None:
                pre_summary["seeds"] = seed_entries(pre)
            if pre.status not in ("finished", "converged"):  # diverged or interrupted: no main phase
                result = pre
                return _finish(cfg, game, algo, result, runlog, run_dir, device, dtype, pre_summary)
            start, state = pre.step, (pre.state["x"], pre.state["y"])
        elif pre_summary is not None:
            start = int(pre_summary["step"])
        if resumed is not None and resumed["phase"] == "main":
            resume_main = resumed["runner"]
        if pretrain is not None:
            runlog.fields = {"phase": "main"}
        runner = Runner(game, algo, loop.replace(
            steps=start + run.steps, ema_beta=cfg.get("ema"), checkpoint=saver("main"),
            precision=precision_of(algo), trajectory_file=trajectory_file("main")))
        # after pretraining, the main algorithm starts from its (x, y) with a fresh algorithm state
        initial = None if state is None or resume_main is not None else runner.init_state(*state)
        result = runner.run(initial_state=initial, start_step=start, resume=resume_main,
                            finished=pre if state is not None else None)
        return _finish(cfg, game, algo, result, runlog, run_dir, device, dtype, pre_summary)
    finally:
        runlog.close(quiet=sys.exc_info()[0] is not None)


def _job_label() -> str:
    """``#<job> `` before the progress lines of a sweep's job (parallel jobs' lines interleave)."""
    try:
        hc = HydraConfig.get()
    except ValueError:  # not under Hydra
        return ""
    return f"#{hc.job.num} " if hc.mode == RunMode.MULTIRUN else ""


def _finish(cfg, game, algo, result: RunResult, runlog: RunLog, run_dir: Path, device, dtype,
            pre_summary: dict | None) -> RunResult:
    ranks = distributed.summary_fields(result.state)  # data-parallel: world size, ranks in sync (every rank)
    if not distributed.is_main():
        return result
    summary = summarize(cfg, game, algo, result, device, dtype)
    summary.update(ranks)
    if pre_summary is not None:
        summary["pretrain"] = pre_summary
    if result.ema is not None:
        summary["ema"] = float(cfg.ema)
    runlog.summary(summary)
    if game.analytic:
        save_starts(run_dir / "trajectories.npz", result, game)
    if cfg.plot:
        with progress.phase("figures", unit="figures") as figures:
            x_eval = result.ema if result.ema is not None else result.state["x"]
            if result.seeds is not None:  # each seed's figures in seeds/<seed>/, from its own rows
                for seed, pngs in game.figures_per_seed(run_dir, x_eval, result.state["y"], result.step,
                                                        runlog.history):
                    for png in pngs:
                        runlog.add_figure_png(Path(png).stem, png, result.step, seed=seed)
                        figures.update()
            else:
                for png in game.figures(run_dir, x_eval, result.state["y"], result.step, runlog.history):
                    runlog.add_figure_png(Path(png).stem, png, result.step)
                    figures.update()
            if result.trajectory is not None:
                from minimax_cli.plots import trajectory_png

                png = trajectory_png(game, result.trajectory, run_dir / "trajectories.png",
                                     title=f"{game.name} / {algo.name}: {result.status} at step {result.step}")
                runlog.add_figure_png("trajectories", png, result.step)
    log.info("%s after %d steps (%.2fs)%s -> %s", result.status, result.step, result.wall_time_s,
             _fraction_note(result), run_dir)
    return result


def summarize(cfg, game, algo, result: RunResult, device, dtype) -> dict:
    summary = {
        "status": result.status,
        "step": result.step,
        "steps": int(cfg.steps),
        "wall_time_s": round(result.wall_time_s, 6),
        "metrics_time_s": round(result.metrics_time_s, 6),
        "game": game.name,
        "algo": algo.name,
        "algo_params": algo.hparams(),
        "seed": int(cfg.seed),
        "n_starts": result.n_starts,
        "device": str(device),
        "dtype": str(dtype).replace("torch.", ""),
        "cost": result.cost,
    }
    if result.seeds is not None:
        # one entry per seed: what its separate run's summary says (RunLog adds each one's metrics)
        summary.update(n_starts=1, n_seeds=len(result.seeds), **result.fractions(), seeds=seed_entries(result))
    elif result.n_starts > 1:
        summary.update(result.fractions())
    elif int(result.stop_step[0]) >= 0:
        summary["stop_step"] = int(result.stop_step[0])
    try:
        summary["overrides"] = list(HydraConfig.get().overrides.task)
    except ValueError:  # not under Hydra (tests calling execute directly)
        pass
    return summary


def seed_entries(result: RunResult) -> list[dict]:
    """Per seed of a multi-seed run: seed, status, the step its separate run would end at (its last
    row) and, for a seed that stopped, the step it converged or diverged at."""
    names = {RUNNING: None, CONVERGED: "converged", DIVERGED: "diverged"}
    out = []
    for k, seed in enumerate(result.seeds):
        status = names[int(result.start_status[k])]
        if status is None:  # still running when the run ended: the run's own ending
            status = "interrupted" if result.status == "interrupted" else "finished"
        entry = {"seed": seed, "status": status, "step": int(result.last_row[k])}
        if int(result.stop_step[k]) >= 0:
            entry["stop_step"] = int(result.stop_step[k])
        out.append(entry)
    return out


def save_starts(path: Path, result: RunResult, game) -> None:
    """Per-start outcome of an analytic game: final iterates, status, stopping step, plotted paths."""
    x, y = result.state["x"].detach().cpu(), result.state["y"].detach().cpu()
    status, stop_step = result.start_outcomes()
    payload = {"x": x.numpy(), "y": y.numpy(), "status": np.array(status), "stop_step": stop_step.numpy()}
    if result.trajectory is not None:
        payload["trajectory"] = result.trajectory.numpy()
    np.savez_compressed(path, **payload)


def _fraction_note(result: RunResult) -> str:
    if result.n_starts == 1:
        return ""
    n = result.n_starts
    conv = int((result.start_status == CONVERGED).sum())
    div = int((result.start_status == DIVERGED).sum())
    return f" [{n} {'seeds' if result.seeds is not None else 'starts'}: {conv} converged, {div} diverged]"


def _last_logged(metrics_path: Path) -> dict:
    """The last complete row of metrics.jsonl ({} when nothing was logged)."""
    if not metrics_path.exists():
        return {}
    for line in reversed(metrics_path.read_text(errors="replace").splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line torn by a crash or a full disk
            continue
        if isinstance(row, dict):
            return row
    return {}


def _only_hydra_files(run_dir: Path) -> bool:
    return all(p.name in (".hydra", "minimax.log") for p in run_dir.iterdir())


def hydra_task(launch: Launch):
    """The Hydra entry of ``launch``'s jobs (called with no arguments: Hydra reads sys.argv)."""

    @hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
    def hydra_entry(cfg: DictConfig) -> float:
        return run_job(cfg, launch)

    return hydra_entry


def run_job(cfg: DictConfig, launch: Launch) -> float:
    """One job of Hydra's. Returns the run's objective (``cfg.objective``: the final value of a summary
    metric, ±inf when the run failed or diverged) for tuning sweepers (optuna); other sweepers ignore it."""
    from minimax_cli.config import job_id, settle

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    started = time.perf_counter()
    lock = resume.run_lock(run_dir)   # one process per run directory (a resume of it is refused meanwhile)
    try:
        lock.__enter__()
    except RunDirError as exc:        # another process writes this directory: record nothing in it
        launch.code = 2
        log.error("%s", exc)
        return -math.inf if str((cfg.get("objective") or {}).get("mode", "minimize")) == "maximize" else math.inf
    try:
        with signals.handled():  # SIGTERM and SLURM's pre-timeout signal end the run as Ctrl-C does
            # the game's / experiment's values for this algorithm, where the command line set none; a job
            # of a sweeper's own making (optuna's samples) is checked here, the others were before Hydra
            overrides = list(hc.overrides.task)
            run = settle(cfg, overrides, hc.runtime.choices, check=job_id(overrides) not in launch.checked)
            cfg = run.cfg
            if distributed.should_launch(cfg):  # hardware=ddp: this job starts torchrun; its ranks write the run dir
                log.info("%s", run.note)
                status = distributed.launch(cfg, run_dir)
            else:
                status = execute(run, run_dir).status
        if status == "interrupted":
            launch.code = signals.exit_code()
            if multirun and hc.launcher._target_.endswith("BasicLauncher"):
                raise KeyboardInterrupt  # the sweep runs in this process: stop it too (a worker's job ends alone)
    except MinimaxError as exc:
        _record_failure(launch, run_dir, exc, started, multirun, user_error=getattr(exc, "user_error", True),
                        message=str(exc))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a bug: keep the traceback in the run's log, one line on the console
        disk = storage.failure(exc, run_dir)    # ... unless the disk failed (full, read-only): one line
        if disk is None and distributed.is_main():
            _best_effort(lambda: (run_dir / "error.txt").write_text(traceback.format_exc()))
        _record_failure(launch, run_dir, exc, started, multirun, user_error=False, message=disk)
    finally:
        lock.__exit__(None, None, None)
    objective = cfg.get("objective") or {}
    return objective_value(run_dir, str(objective.get("metric", "grad_norm/y")), str(objective.get("mode", "minimize")))


def _record_failure(launch: Launch, run_dir: Path, exc: Exception, started: float, multirun: bool,
                    user_error: bool, message: str | None = None) -> None:
    if message is None:
        message = str(exc) if user_error else f"{type(exc).__name__}: {exc} (traceback in {run_dir / 'error.txt'})"
    if not multirun:  # a sweep's exit code does not depend on which launcher ran the failed job
        launch.code = 2 if user_error else 1
    if distributed.report_failure(exc, message, user_error):  # a rank other than 0: it writes nothing
        log.error("run failed: %s", message)
        return
    if user_error and not multirun and not distributed.active() and run_dir.exists() and _only_hydra_files(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: leave no empty run behind
        log.error("%s", message)
        return
    last = _last_logged(run_dir / "metrics.jsonl")
    summary = {"status": "failed", "step": int(last.pop("step", 0)),
               "wall_time_s": round(time.perf_counter() - started, 6), "error": message,
               "metrics": {k: v for k, v in last.items() if k not in ("wall_time_s", "seed")}}
    unwritten = _best_effort(lambda: (run_dir.mkdir(parents=True, exist_ok=True),
                                      write_json_atomic(run_dir / "summary.json", summary)))
    if unwritten:  # the disk is full: the reason goes to stderr instead
        message += f" (and {run_dir / 'summary.json'} could not be written: {unwritten})"
    log.error("run failed: %s", message)


def _best_effort(write) -> str | None:
    """Run ``write``; on a failed write (a full disk) return why instead of raising."""
    try:
        write()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
