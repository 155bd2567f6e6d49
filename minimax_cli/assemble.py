"""Everything one run needs, built from its settings in one place (train.execute calls it).

    RunSettings --assemble--> RunParts: the game (set up on the run's device, one copy per seed),
    the algorithm of each phase with the loop's settings for it, the hardware, the checkpoint the
    run resumes from, the run directory's log and the checkpoint writer

After this the run reads plain values only: the config stays behind (docs/config-flow.md).
The order below is the run's order: the generators are seeded before anything draws from them,
the data-parallel ranks join once the game is built, before rank 0 writes the run directory,
and a resumed run's generators are restored once every game is set up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from minimax_cli import checkpoint, distributed, progress
from minimax_cli.build import build
from minimax_cli.checks import check_converge_on
from minimax_cli.cpus import apply_threads
from minimax_cli.games.seeds import SeedStack
from minimax_cli.oracle import apply_precision, effective_precision
from minimax_cli.run_settings import RunSettings, dtype_of
from minimax_cli.runlog import RunLog
from minimax_cli.runner import LoopSettings
from minimax_cli.trajectory import path_in as trajectory_path_in


@dataclass(frozen=True)
class RunPhase:
    """One phase of the run: its algorithm, its own steps and the loop's settings for it."""

    algo: object
    steps: int
    loop: LoopSettings


@dataclass(frozen=True)
class RunParts:
    game: object                    # set up; a SeedStack when the run has several seeds
    main: RunPhase                  # the main phase (its loop counts steps from where it starts)
    pretrain: RunPhase | None       # the optional pretraining phase (e.g. Gao et al. 2022's GDA-2 phase)
    device: torch.device
    dtype: torch.dtype
    log: object                     # RunLog on rank 0, distributed.NullLog on the other ranks
    resumed: dict | None            # the checkpoint the run continues from
    saver: checkpoint.Saver | None  # rank 0's checkpoint writer (None on the other ranks)


def assemble(run: RunSettings, run_dir: Path, label: str = "") -> RunParts:
    """The parts of the run ``run`` into ``run_dir`` (``label``: before progress lines)."""
    cfg = run.cfg
    checkpoint.seed_everything(run.seed)
    game = build(cfg.game, "game")
    algo = build(cfg.algo, "algo")
    pre_algo = build(cfg.pretrain.algo, "pretrain.algo") if run.pretrain_steps else None
    # seed k of a multi-seed run is a separate run's seed + k: one copy of the game per seed (games/seeds.py)
    games = [game] + [build(cfg.game, "game") for _ in run.seeds[1:]]
    device = distributed.join(cfg, game, torch.device(run.device))  # hardware=ddp: join the ranks
    is_main = distributed.is_main()
    resumed = checkpoint.resume_payload(run.resume, cfg, run_dir, device)
    progress.configure(run.progress if is_main else False, label)
    apply_precision(run.precision)
    dtype = getattr(torch, dtype_of(run.dtype, game))
    apply_threads(cfg.hardware)
    for one, seed in zip(games, run.seeds):
        one.setup(device, dtype, seed)
    if len(games) > 1:
        game = SeedStack(games, list(run.seeds))
    check_converge_on(run.converge_on, game)
    if resumed is not None:
        game.load_state_dict(resumed["game"])
    if is_main:  # .hydra/resolved.yaml: the config as run, then where each algorithm value came from
        (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        (run_dir / ".hydra" / "resolved.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True)
                                                          + (run.sources + "\n" if run.sources else ""))
    log = distributed.NullLog() if not is_main else RunLog(
        run_dir, tensorboard=run.tensorboard, resume_step=None if resumed is None else int(resumed["runner"]["step"]),
        trackers=run.trackers)
    loop = LoopSettings(steps=run.steps, log_every=run.log_every, metrics_every=run.metrics_every, tol=run.tol,
                        converge_on=run.converge_on, diverge_norm=run.diverge_norm, check_every=run.check_every,
                        progress=progress.enabled() and is_main, log=log, plot_starts=run.plot_starts,
                        checkpoint_every=run.checkpoint_every, oracle=distributed.oracle_class(),
                        seed_chunk=run.seed_chunk)
    if resumed is not None:
        checkpoint.restore_rng(resumed["rng"])
    pretrain = None if pre_algo is None else RunPhase(pre_algo, run.pretrain_steps, loop.replace(
        steps=run.pretrain_steps, precision=effective_precision(pre_algo, run.precision),
        title=f"pretraining {game.name}/{pre_algo.name}",
        trajectory_file=trajectory_path_in(run_dir, "pretrain") if is_main else None))
    main = RunPhase(algo, run.steps, loop.replace(
        ema_beta=run.ema, precision=effective_precision(algo, run.precision),
        trajectory_file=trajectory_path_in(run_dir, "main") if is_main else None))
    saver = checkpoint.Saver(run_dir, game, checkpoint.fingerprint(cfg)) if is_main else None
    return RunParts(game=game, main=main, pretrain=pretrain, device=device, dtype=dtype, log=log, resumed=resumed,
                    saver=saver)
