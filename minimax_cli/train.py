"""The single train entry: cfg -> game, algorithm, logger -> loop -> run directory."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from minimax_cli import distributed, resume, runfiles, signals, storage
from minimax_cli.assemble import RunParts, assemble
from minimax_cli.catalog import CONF_DIR
from minimax_cli.errors import DataError, MinimaxError, RunDirError
from minimax_cli.metrics.objective import objective_value
from minimax_cli.run_outputs import finish, pretrain_summary
from minimax_cli.run_settings import RunSettings
from minimax_cli.runlog import read_rows, write_json_atomic
from minimax_cli.runner import Runner, RunResult

log = logging.getLogger("minimax")

@dataclass
class Launch:
    """One ``minimax train``'s jobs, as the Hydra entry sees them: the overrides of the jobs
    already checked in this process (their config is trusted, not checked again) and the exit
    code they end with (Hydra discards a task's return value)."""

    checked: frozenset = frozenset()
    code: int = 0
    #: the run directory of each job that started (Hydra names it)
    run_dirs: list = field(default_factory=list)
    #: the one-line reason of each job that failed (the Python API raises it for a run refused while setting up)
    errors: list = field(default_factory=list)
    #: the process of the command: a job run in it (not in a launcher's worker) stops the sweep on a signal
    pid: int = field(default_factory=os.getpid)


def execute(run: RunSettings, run_dir: Path) -> RunResult:
    """Run one job into ``run_dir``: metrics, summary, figures; checkpoints every
    ``checkpoint_every`` steps, and with ``resume`` continue from the run's last checkpoint.
    ``run``: the job's checked settings (config.settle; run_settings.settings_of trusts a config
    composed elsewhere, e.g. config.compose's).
    Its ``sources`` (where each algorithm value came from) end resolved.yaml; its ``note`` is
    logged right after the run directory."""
    # the run directory first: setup (data, FID statistics) may take minutes
    if os.environ.get("RANK", "0") == "0":  # (torchrun's other ranks: rank 0 speaks for the run)
        log.info("run dir: %s%s", run_dir, " (resuming)" if run.resuming else "")
        if run.note:
            log.info("%s", run.note)
    parts = assemble(run, run_dir, _job_label())
    try:
        result, pre_summary = _phases(parts)
        return finish(result, parts.game, parts.main.algo, parts.log, run_dir, steps=run.steps, seed=run.seed,
                      device=parts.device, dtype=parts.dtype, ema=run.ema, plot=run.plot, pre_summary=pre_summary,
                      seed_figures=run.seed_figures)
    finally:
        parts.log.close(quiet=sys.exc_info()[0] is not None)


def _phases(parts: RunParts) -> tuple[RunResult, dict | None]:
    """The run's loop: the optional pretraining phase, then the main phase from where it ended
    (or from the checkpoint the run resumes); returns the last phase's result and the
    pretraining's summary entry (None without one)."""
    game, resumed, runlog, saver = parts.game, parts.resumed, parts.log, parts.saver
    if resumed is not None:
        log.info("resuming at step %d", resumed["runner"]["step"])
    pre_summary: dict | None = None if resumed is None else resumed.get("pretrain")
    start, state, resume_main, pre = 0, None, None, None
    pretrain = parts.pretrain
    if pretrain is not None and (resumed is None or resumed["phase"] == "pretrain"):
        # phase 1 (e.g. Gao et al. 2022's GDA-2 pretraining), logged into the same metrics.jsonl
        runlog.fields = {"phase": "pretrain"}
        save = _saving(saver, runlog, "pretrain", pre_summary)
        pre = Runner(game, pretrain.algo, pretrain.loop.replace(checkpoint=save)).run(
            resume=None if resumed is None else resumed["runner"])
        log.info("pretraining (%s): %s after %d steps (%.2fs)", pretrain.algo.name, pre.status, pre.step,
                 pre.wall_time_s)
        pre_summary = pretrain_summary(pre, pretrain.algo, pretrain.steps)
        if pre.status not in ("finished", "converged"):  # diverged or interrupted: no main phase
            return pre, pre_summary
        start, state = pre.step, (pre.state["x"], pre.state["y"])
    elif pre_summary is not None:
        start = int(pre_summary["step"])
    if resumed is not None and resumed["phase"] == "main":
        resume_main = resumed["runner"]
    if pretrain is not None:
        runlog.fields = {"phase": "main"}
    main = parts.main
    save = _saving(saver, runlog, "main", pre_summary)
    runner = Runner(game, main.algo, main.loop.replace(steps=start + main.steps, checkpoint=save))
    # after pretraining, the main algorithm starts from its (x, y) with a fresh algorithm state
    initial = None if state is None or resume_main is not None else runner.init_state(*state)
    return runner.run(initial_state=initial, start_step=start, resume=resume_main,
                      finished=pre if state is not None else None), pre_summary


def _saving(saver, runlog, phase: str, pre_summary: dict | None):
    """The loop's checkpoint writer of ``phase`` (None without one): after each checkpoint the rows
    logged so far are final (a resume keeps them), so the trackers get them then."""
    if saver is None:
        return None

    def save(payload: dict) -> None:
        saver.save(phase, pre_summary, payload)
        runlog.checkpointed()

    return save


def _job_label() -> str:
    """``#<job> `` before the progress lines of a sweep's job (parallel jobs' lines interleave)."""
    try:
        hc = HydraConfig.get()
    except ValueError:  # not under Hydra
        return ""
    return f"#{hc.job.num} " if hc.mode == RunMode.MULTIRUN else ""


def _last_logged(metrics_path: Path) -> dict:
    """The last whole row of metrics.jsonl ({} when nothing was logged)."""
    rows = read_rows(metrics_path)
    return dict(rows[-1]) if rows else {}


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
    launch.run_dirs.append(run_dir)
    lock = resume.run_lock(run_dir)   # one process per run directory (a resume of it is refused meanwhile)
    try:
        lock.__enter__()
    except RunDirError as exc:        # another process writes this directory: record nothing in it
        launch.code = 2
        launch.errors.append(str(exc))
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
            if multirun and os.getpid() == launch.pid:
                raise KeyboardInterrupt  # the sweep runs in this process: stop it too (a worker's job ends alone)
    except MinimaxError as exc:
        _record_failure(launch, run_dir, exc, started, multirun, user_error=getattr(exc, "user_error", True),
                        message=str(exc), resumed=_resumes(cfg))
    except KeyboardInterrupt as stop:   # stopped before the loop could record it (during setup): say so
        if distributed.is_main() and run_dir.is_dir() and not (run_dir / "summary.json").exists():
            summary = {"status": "interrupted", "step": int(_last_logged(run_dir / "metrics.jsonl").get("step", 0)),
                       "wall_time_s": round(time.perf_counter() - started, 6),
                       "error": f"stopped by {stop or 'SIGINT'} before the run could record it (while setting up)"}
            _best_effort(lambda: write_json_atomic(run_dir / "summary.json", summary))
        raise
    except Exception as exc:  # a bug: keep the traceback in the run's log, one line on the console
        disk = storage.failure(exc, run_dir)    # ... unless the disk failed (full, read-only): one line
        if disk is None and distributed.is_main():
            _best_effort(lambda: (run_dir / "error.txt").write_text(traceback.format_exc()))
        _record_failure(launch, run_dir, exc, started, multirun, user_error=False, message=disk,
                        resumed=_resumes(cfg))
    finally:
        lock.__exit__(None, None, None)
    objective = cfg.get("objective") or {}
    return objective_value(run_dir, str(objective.get("metric", "grad_norm/y")), str(objective.get("mode", "minimize")))


def _record_failure(launch: Launch, run_dir: Path, exc: Exception, started: float, multirun: bool,
                    user_error: bool, message: str | None = None, resumed: bool = False) -> None:
    if message is None:
        message = str(exc) if user_error else f"{type(exc).__name__}: {exc} (traceback in {run_dir / 'error.txt'})"
    launch.errors.append(message)
    if not multirun:  # a sweep's exit code does not depend on which launcher ran the failed job
        launch.code = 2 if user_error else 1
    if distributed.report_failure(exc, message, user_error):  # a rank other than 0: it writes nothing
        log.error("run failed: %s", message)
        return
    if user_error and not multirun and not distributed.active() and run_dir.exists() and _only_hydra_files(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: leave no empty run behind
        # the same one line as a refusal before Hydra (bad data found only while setting up, say)
        print(f"minimax: error: {message}", file=sys.stderr, flush=True)
        return
    if resumed and _summary_status(run_dir) is not None:  # a failed resume loses nothing
        log.error("run failed: %s (the run's summary.json from before this resume is kept)", message)
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


def _resumes(cfg: DictConfig) -> bool:
    return cfg.get("resume") not in (None, False, "false", "False")


def _summary_status(run_dir: Path) -> str | None:
    try:
        payload = json.loads(runfiles.read_text(run_dir / "summary.json"))
    except (DataError, ValueError):   # absent, not a plain file, not JSON
        return None
    return payload.get("status") if isinstance(payload, dict) and isinstance(payload.get("status"), str) else None


def _best_effort(write) -> str | None:
    """Run ``write``; on a failed write (a full disk) return why instead of raising."""
    try:
        write()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
