"""RunSettings: what a run reads from its config once the config has been checked (checks.py).

Built in one place, ``settings_of``, from the composed config with the setups applied; nothing
here validates: the run trusts it. The values the run reads are plain fields; the config itself
travels along (read-only) only for what is built from it (assemble.py: the game, the algorithms,
the data-parallel group) and for what is written beside the results (resolved.yaml, the
checkpoint's fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from minimax_cli import trackers
from minimax_cli.trackers import TrackerSettings


def device_of(device: str) -> str:
    """``hardware.device`` with ``auto`` resolved: CUDA when torch sees a GPU, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def dtype_of(dtype: str, game) -> str:
    """``hardware.dtype`` with ``auto`` resolved: float64 for analytic games, float32 for networks."""
    if dtype != "auto":
        return dtype
    return "float64" if game.analytic else "float32"


@dataclass(frozen=True)
class RunSettings:
    cfg: DictConfig                 # the job config as checked (setups applied)
    seed: int
    seeds: tuple[int, ...]          # the seeds run in one process: seed, seed + 1, ...
    steps: int
    pretrain_steps: int             # 0: no pretraining phase
    device: str                     # "cpu", "cuda" or "cuda:N"
    dtype: str                      # "auto", "float32" or "float64" (see dtype_of)
    precision: str                  # hardware.precision
    checkpoint_every: int           # 0: no checkpoints
    resume: str | None              # None, "true" (the run's own last checkpoint) or a checkpoint path
    # the loop's cadences and stopping rules (runner/settings.py: LoopSettings)
    log_every: int
    metrics_every: int | None
    check_every: int | None
    tol: float
    converge_on: str
    diverge_norm: float
    plot_starts: int
    ema: float | None               # the leader's moving average (None: none)
    seed_chunk: int | None          # seeds per vmapped call (None: all at once)
    # what the run writes beside its rows
    progress: object                # progress lines: true, false or seconds between lines (progress.py)
    tensorboard: bool               # tensorboard=true and the logger group selects it (or has no say)
    plot: bool                      # end-of-run figures
    seed_figures: str = "combined"  # a multi-seed run's figures: combined | per_seed | both
    sources: str = ""               # setups.describe: where each algorithm value came from
    note: str = ""                  # setups.summary_line: one log line of the same
    trackers: TrackerSettings = TrackerSettings()  # logger=mlflow / wandb: the run's other trackers

    @property
    def resuming(self) -> bool:
        return self.resume is not None


def settings_of(cfg: DictConfig, sources: str = "", note: str = "") -> RunSettings:
    """The settings of a checked config (``cfg`` is made read-only: the run only reads it)."""
    OmegaConf.set_readonly(cfg, True)
    hw = cfg.hardware
    seed = int(cfg.seed)
    resume = cfg.get("resume", False)
    pretrain = cfg.get("pretrain")
    return RunSettings(
        cfg=cfg, seed=seed, seeds=tuple(range(seed, seed + int(cfg.get("seeds", 1)))), steps=int(cfg.steps),
        pretrain_steps=int(pretrain.get("steps", 0)) if pretrain is not None else 0,
        device=device_of(str(hw.get("device", "cpu"))), dtype=str(hw.get("dtype", "auto")),
        precision=str(hw.get("precision", "fp32")), checkpoint_every=int(cfg.get("checkpoint_every") or 0),
        resume=None if resume in (False, None, "false") else "true" if resume in (True, "true") else str(resume),
        log_every=int(cfg.log_every), metrics_every=cfg.get("metrics_every"), check_every=cfg.get("check_every"),
        tol=float(cfg.tol), converge_on=str(cfg.converge_on), diverge_norm=float(cfg.diverge_norm),
        plot_starts=int(cfg.plot_starts), ema=cfg.get("ema"), seed_chunk=hw.get("seed_chunk", None),
        progress=cfg.get("progress", True), plot=bool(cfg.plot),
        seed_figures=str(cfg.get("seed_figures", "combined")), sources=sources, note=note,
        tensorboard=bool(cfg.tensorboard) and ("logger" not in cfg or "tensorboard" in trackers.loggers(cfg)),
        trackers=trackers.settings_of(cfg))
