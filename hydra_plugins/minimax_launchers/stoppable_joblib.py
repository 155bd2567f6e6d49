"""The joblib launcher (``hydra/launcher=parallel``) that a stop signal ends the way it ends one run.

Hydra's joblib launcher runs the jobs in loky worker processes, which a signal to the sweep's own
process never reaches: on SIGTERM joblib aborts and SIGKILLs the workers, so the runs they were
making are left without summary.json; Ctrl-C (SIGINT to the whole process group) kills an idle
worker, and joblib then kills the others. Here the sweep's process passes a stop signal on to its
workers (minimax_cli.signals.passed_on), whose runs stop at the next step boundary and write their
checkpoint and an ``interrupted`` summary like a single run's; a worker waiting for a job records
the signal instead of dying; jobs not started by then are never started. The sweep then ends with
one line saying what was stopped and what was not started, and exit code 128 + the signal's number.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals

from hydra_plugins.minimax_launchers.stopping import stopped_line, worst_objective
from minimax_cli import signals

log = logging.getLogger(__name__)

try:  # the `sweep` extra (hydra-joblib-launcher) may be absent: then there is nothing to offer
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
except ImportError:  # pragma: no cover
    JoblibLauncher = None
# (joblib itself is imported only by a launch, as Hydra's plugin does: Hydra imports every plugin
# module at start, and joblib's import makes a semaphore, a warning where nothing can be written)


def _job(idx, overrides, hydra_context, config, task_function, singleton_state, stop_file: str,
         sweep_pid: int) -> JobReturn | None:
    """One job in a worker process; None when the sweep was stopped before it could start."""
    from hydra_plugins.hydra_joblib_launcher._core import execute_job

    if os.getpid() == sweep_pid:   # joblib runs the jobs in the sweep's process (n_jobs=1): a stop ends
        if Path(stop_file).exists():   # the sweep there, as under the basic launcher
            return None
        return execute_job(idx, overrides, hydra_context, config, task_function, singleton_state)
    with signals.pending():  # a signal from here on stops the run as soon as it can record it
        if Path(stop_file).exists():
            return None
        try:
            return execute_job(idx, overrides, hydra_context, config, task_function, singleton_state)
        except KeyboardInterrupt:   # stopped while setting up: the run recorded it (train.run_job)
            return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED,
                             _return_value=worst_objective(config))


if JoblibLauncher is not None:
    class StoppableJoblibLauncher(JoblibLauncher):
        """hydra-joblib-launcher whose workers a stop signal to the sweep reaches (module docstring)."""

        def launch(self, job_overrides, initial_job_idx):
            # hydra_joblib_launcher._core.launch, with the workers' signals and the stop added
            from joblib import Parallel, delayed
            from joblib._parallel_backends import LokyBackend

            from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg

            setup_globals()
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            joblib_cfg = self.joblib
            joblib_cfg["backend"] = "loky"   # (Hydra's plugin: the threading backend cannot run Hydra jobs)
            process_joblib_cfg(joblib_cfg)
            log.info("Joblib.Parallel(%s) is launching %d jobs",
                     ",".join(f"{k}={v}" for k, v in joblib_cfg.items()), len(job_overrides))
            log.info("Launching jobs, sweep output dir : %s", sweep_dir)
            for idx, overrides in enumerate(job_overrides):
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            backend = LokyBackend(initializer=signals.record_while_idle)
            state = Singleton.get_state()
            flag_dir = tempfile.mkdtemp(prefix="minimax-sweep-")
            stop_file = os.path.join(flag_dir, "stop")

            def stop(signum: int) -> None:   # (a signal handler) the flag first, so no job starts after
                Path(stop_file).touch()
                for pid in list(getattr(getattr(backend, "_workers", None), "_processes", None) or ()):
                    try:
                        os.kill(pid, signum)
                    except OSError:   # a worker that has just exited
                        pass

            def jobs():
                for idx, overrides in enumerate(job_overrides):
                    if os.path.exists(stop_file):   # never handed to a worker
                        return
                    yield delayed(_job)(initial_job_idx + idx, overrides, self.hydra_context, self.config,
                                        self.task_function, state, stop_file, os.getpid())

            try:
                with signals.passed_on(stop) as received:
                    runs = Parallel(**{**joblib_cfg, "backend": backend})(jobs())
            finally:
                shutil.rmtree(flag_dir, ignore_errors=True)
            if received:
                started = sum(run is not None for run in runs)
                raise signals.Stop(received[0], stopped_line(received[0], started, len(job_overrides), sweep_dir))
            return runs

