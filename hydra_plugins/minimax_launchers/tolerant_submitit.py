"""submitit launchers (local, SLURM) whose sweep survives a job killed from outside.

hydra-submitit-launcher collects the jobs' results in order and raises at the first job that left
none: a job SIGKILLed by the out-of-memory killer, by SLURM (time limit, node failure, scancel) or
by a user. ``minimax train -m`` then ends with a traceback and exit code 1, possibly before the
later jobs (which keep running) have finished. These subclasses wait for every job instead; a job
that left no result is logged in one line with its run directory and returned as completed with the
worst objective (+inf when minimizing, -inf when maximizing), so the basic and optuna sweepers go
on. The killed job's directory keeps what it wrote (metrics.jsonl, checkpoints; no summary.json, so
``minimax report`` lists it as running/killed) and ``minimax train resume=<its dir>`` continues it.

The joblib launcher (``hydra/launcher=parallel``) cannot be made tolerant this way: loky aborts the
whole ``Parallel`` call when one worker process dies (TerminatedWorkerError), so the jobs not yet
started never run.

A stop signal to the sweep's own process under submitit_local (``hydra/launcher=local``) is passed
on as SIGTERM to every job (submitit's controller process passes SIGTERM, and only it, on to its
task), whose run stops at a step boundary with its summary; the sweep waits for them and ends with
one line. (Ctrl-C in a terminal also reaches the controllers, which give their task a second before
SIGKILL; a run that needs longer to write its checkpoint is better stopped with ``kill -TERM``.)
A SLURM sweep's jobs run on the cluster and are not the local process's to stop.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from unittest import mock

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf, open_dict

from hydra_plugins.minimax_launchers.stopping import stopped_line, worst_objective
from minimax_cli import signals

log = logging.getLogger("minimax")

try:  # the `sweep` extra (hydra-submitit-launcher) may be absent: then there is nothing to offer
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
except ImportError:  # pragma: no cover
    LocalLauncher = SlurmLauncher = None


class _Tolerant:
    """Mixin for BaseSubmititLauncher: a job without a result does not end the sweep."""

    def launch(self, job_overrides, initial_job_idx):
        from submitit.core import core
        from submitit.core.utils import UncompletedJobError

        collect = core.Job.results
        launcher = self

        def results(job):
            try:
                return collect(job)
            except UncompletedJobError:
                return [launcher._lost(job)]

        with mock.patch.object(core.Job, "results", results):
            return super().launch(job_overrides, initial_job_idx)

    def _lost(self, job) -> JobReturn:
        overrides, dir_key, num = job.submission().args[:3]
        run_dir = "?"
        try:  # the job's directory, as Hydra's run_job names it
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg.hydra.job):
                cfg.hydra.job.num = num
            run_dir = str(Path(str(OmegaConf.select(cfg, dir_key))) / str(cfg.hydra.sweep.subdir))
        except Exception:  # noqa: BLE001  the message still names the job by its overrides
            pass
        # a resume takes configs outside conf/ only from its own command line (minimax_cli/resume.py)
        searchpath = [f"'{o}'" for o in OmegaConf.select(self.config, "hydra.overrides.hydra", default=[]) or []
                      if str(o).startswith("hydra.searchpath=")]
        log.error("job #%d (%s) left no result: its process was killed (out of memory, time limit, a signal?); "
                  "what it wrote is in %s; continue it with: minimax train resume=%s%s",
                  num, " ".join(overrides), run_dir, run_dir, "".join(" " + s for s in searchpath))
        return JobReturn(overrides=list(overrides), working_dir=run_dir, task_name=job.job_id,
                         status=JobStatus.COMPLETED, _return_value=worst_objective(self.config))


if LocalLauncher is not None:
    class TolerantLocalLauncher(_Tolerant, LocalLauncher):
        """submitit_local (one process per job on this machine) that survives a killed job and
        passes a stop signal on to its jobs."""

        def launch(self, job_overrides, initial_job_idx):
            from submitit.local.local import LocalExecutor

            submit, started, stopping, ended = LocalExecutor._submit_command, [], [], threading.Event()

            def submitted(executor, command):
                job = submit(executor, command)
                started.append(job)
                return job

            def keep_stopping() -> None:
                # a job still setting up ignores SIGTERM (submitit's handler, until the run's own is in
                # place; a run that is stopping only records it): say it each second until all have ended
                while True:
                    for job in list(started):
                        if job._process is not None and job._process.poll() is None:
                            job._process.send_signal(signal.SIGTERM)
                    if ended.wait(1.0):
                        return

            def stop(signum: int) -> None:
                if not stopping:
                    threading.Thread(target=keep_stopping, daemon=True).start()
                stopping.append(signum)

            try:
                with mock.patch.object(LocalExecutor, "_submit_command", submitted), \
                        signals.passed_on(stop) as received:
                    runs = super().launch(job_overrides, initial_job_idx)
            finally:
                ended.set()
            if received:
                raise signals.Stop(received[0], stopped_line(received[0], len(started), len(job_overrides),
                                                             Path(str(self.config.hydra.sweep.dir))))
            return runs

    class TolerantSlurmLauncher(_Tolerant, SlurmLauncher):
        """submitit_slurm (one SLURM job per run) that survives a killed job."""
