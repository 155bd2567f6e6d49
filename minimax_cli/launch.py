"""Starting `minimax train` jobs: every job of a command line checked (compose, setups tables,
checks), then Hydra runs them. The CLI's `train` and a reproduction's launch both come here, so a
run is started one way only."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

from minimax_cli.errors import MinimaxError

PROG = "minimax"


def train(overrides: list[str], multirun: bool, hydra_flags: list[str]) -> int:
    """`minimax train`: ``start`` the jobs, then print the run directory (one run) and return the
    exit code."""
    launch = start(overrides, multirun, hydra_flags)
    if not multirun and not hydra_flags and launch.run_dirs and launch.run_dirs[-1].is_dir():
        print(launch.run_dirs[-1], flush=True)   # last, on stdout: `run=$(minimax train ...)` captures it
    return launch.code


def start(overrides: list[str], multirun: bool, hydra_flags: list[str]):
    """Check every job of the command line (config.prepare: compose, setups, checks), then let
    Hydra run them (train.hydra_task); returns the launch object (train.Launch: the exit code, the
    run directory of each job this process ran)."""
    from omegaconf import OmegaConf

    from minimax_cli import distributed, resume, storage
    from minimax_cli import train as train_mod
    from minimax_cli.config import checked, expand_sweeps, job_id, merge_overrides, prepare, resolved, sweeper_params

    check_overrides(overrides)
    typed = list(overrides)
    resuming = resume.value(overrides) not in (None, "false", "False")
    if resuming:
        if multirun:
            raise MinimaxError("resume=... continues one run; resume each run of a sweep on its own (without -m)")
        overrides = resume.overrides_for(overrides)
    jobs = expand_sweeps(overrides) if multirun else [overrides]
    if not multirun and len(expand_sweeps(overrides)) > 1:
        raise MinimaxError("comma-separated values make a sweep: add -m (minimax train -m ...)")
    # a search space in the config (hydra.sweeper.params, e.g. from hparams_search=...) is checked too
    head = resolved(jobs[0], hydra_config=True)
    added = distributed.prepare(head.cfg, overrides, multirun)  # hardware=ddp: hardware.nproc, torchrun's shared run dir
    if added:
        overrides, jobs = overrides + added, [job + added for job in jobs]
        head = resolved(jobs[0], hydra_config=True)
    if not multirun and _job_config_flags(hydra_flags):
        return train_mod.Launch(code=print_job_config(jobs[0], resolve="--resolve" in hydra_flags))
    params = sweeper_params(head.cfg)
    if params and not multirun and not hydra_flags:  # (--cfg job only prints the config)
        raise MinimaxError(f"this config sweeps {', '.join(p.split('=', 1)[0] for p in params)} "
                           f"(hydra.sweeper.params): add -m (minimax train -m ...)")
    if params:
        jobs = expand_sweeps(merge_overrides(params, overrides))
    if resuming:  # before anything is built (imported): only targets the project or the user names
        resume.check_targets(head.cfg, resume.trusted_targets(typed))
    for i, job in enumerate(jobs):
        cfg = (checked(head) if i == 0 and not params else prepare(job, hydra_config=i == 0)).cfg
        if i == 0 and resuming:
            resume.check_checkpoint(cfg)
        elif i == 0:
            _guard_run_dir(cfg, multirun)
        if i == 0 and not hydra_flags:
            storage.check_writable(Path(str(cfg.hydra["sweep" if multirun else "run"].dir)))
    if "optuna" in str(OmegaConf.select(head.cfg, "hydra.sweeper._target_", default="")):
        from hydra_plugins.minimax_sweepers.optuna_log import colours_only_on_a_terminal

        colours_only_on_a_terminal()
    launch = train_mod.Launch(checked=frozenset(job_id(job) for job in jobs))
    sys.argv = [PROG] + (["--multirun"] if multirun else []) + hydra_flags + overrides
    # one run into a directory named on the command line (a default one is new to the microsecond): it
    # is locked before Hydra writes its .hydra/*.yaml there, so a second command into the same
    # directory changes nothing of the first run's (whose resume needs those files)
    single = not multirun and not hydra_flags and any(o.split("=", 1)[0] == "hydra.run.dir" for o in overrides)
    with resume.run_lock(Path(str(head.cfg.hydra.run.dir))) if single else nullcontext():
        if single and not resuming:
            _guard_run_dir(head.cfg, multirun)  # again, now that no other process can write there
        train_mod.hydra_task(launch)()
    return launch


def check_overrides(overrides: list[str]) -> None:
    bad = [o for o in overrides if "=" not in o and not o.startswith("~")]
    if bad:
        raise MinimaxError(f"cannot parse override {bad[0]!r}: write key=value (e.g. game=g3, algo.lr_x=0.01)")


def _guard_run_dir(cfg, multirun: bool) -> None:
    """Refuse to reuse a directory that already holds results (Hydra would overwrite them)."""
    key = "sweep" if multirun else "run"
    target = Path(str(cfg.hydra[key].dir))
    if not target.exists():
        return
    if not multirun:
        from minimax_cli.resume import refuse_links

        refuse_links(target)
    marks = ("summary.json", "metrics.jsonl")
    found = [p for m in marks for p in (target.rglob(m) if multirun else [target / m]) if p.exists()]
    if found:
        raise MinimaxError(f"{target} already holds a run ({found[0].name}); choose another "
                           f"hydra.{key}.dir (or leave it at its default timestamped directory)")


def _job_config_flags(flags: list[str]) -> bool:
    """``--cfg job`` (optionally with ``--resolve``): printed here, with where each value came from."""
    rest = [f for f in flags if f != "--resolve"]
    return rest in (["--cfg", "job"], ["-c", "job"], ["--cfg=job"])


def print_job_config(overrides: list[str], resolve: bool = False) -> int:
    """The job's config as a run would use it (the setup table applied), then where every algorithm
    value came from: the algorithm's yaml, the game's or experiment's setup, or the command line."""
    from omegaconf import OmegaConf

    from minimax_cli import setups
    from minimax_cli.config import resolved

    res = resolved(overrides, hydra_config=True)
    cfg = res.cfg
    job = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    print(OmegaConf.to_yaml(job, resolve=resolve) + setups.describe(res))
    return 0
