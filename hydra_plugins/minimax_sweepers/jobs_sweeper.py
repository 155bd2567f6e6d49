"""A sweeper that launches an explicit list of jobs (``hydra/sweeper=jobs hydra.sweeper.jobs=FILE``).

Hydra's basic sweeper only makes cartesian products of comma-separated values; a reproduction's
variants differ in whole override lists (another experiment, a pretraining phase, a seed range).
FILE is a yaml list of jobs, each a list of overrides; the command line's own overrides are added to
every job (a job's value wins for a key both set). All jobs go to the configured launcher in one
batch, so ``hydra/launcher=joblib`` or ``submitit_slurm`` spreads them over cores or a cluster.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, List, Optional

import yaml
from hydra.core.utils import JobReturn
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def read_jobs(path: str | Path) -> list[list[str]]:
    """The jobs of FILE: a list of lists of override strings."""
    jobs = yaml.safe_load(Path(path).read_text())
    if not isinstance(jobs, list) or not all(isinstance(j, list) and all(isinstance(o, str) for o in j) for j in jobs):
        raise HydraException(f"{path}: expected a list of jobs, each a list of override strings")
    return jobs


class JobsSweeper(Sweeper):
    def __init__(self, jobs: Optional[str] = None, max_batch_size: Optional[int] = None) -> None:
        super().__init__()
        self.jobs_file = jobs
        self.max_batch_size = max_batch_size
        self.config = self.launcher = self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        if not self.jobs_file:
            raise HydraException("hydra/sweeper=jobs needs hydra.sweeper.jobs=<yaml file of jobs>")
        jobs = []
        for job in read_jobs(self.jobs_file):
            own = {_key(o) for o in job}
            jobs.append([a for a in arguments if _key(a) not in own] + list(job))
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        size = self.max_batch_size or len(jobs) or 1
        returns: List[List[JobReturn]] = []
        for start in range(0, len(jobs), size):
            results = self.launcher.launch(jobs[start:start + size], initial_job_idx=start)
            returns.append(list(results))
        return returns
