"""TrackerSettings of a composed config: which trackers, the params, names and tags (read once)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from minimax_cli.trackers.base import TrackerSettings

#: the loggers that are trackers of their own module (tensorboard is RunLog's own writer)
TRACKERS = ("mlflow", "wandb")


def flatten(tree, prefix: str = "") -> dict:
    """A nested config as dotted keys; lists stay whole values (``game.starts``: one param)."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: tree}


def loggers(cfg: DictConfig) -> list[str]:
    """The selected loggers (conf/logger/), in their order."""
    return [str(k) for k in (cfg.get("logger") or {})]


def settings_of(cfg: DictConfig) -> TrackerSettings:
    names = tuple(n for n in loggers(cfg) if n in TRACKERS)
    if not names:
        return TrackerSettings()
    # the run's own keys (a config composed before Hydra runs also holds Hydra's, unresolvable there)
    container = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    root = Path(str(OmegaConf.select(cfg, "runs_root") or "").strip() or "runs")
    experiment, run_name, group = "minimax", "", None
    tags = {"game": str(OmegaConf.select(cfg, "game.name", default="")),
            "algo": str(OmegaConf.select(cfg, "algo.name", default=""))}
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        out = Path(hc.runtime.output_dir)
        if hc.mode == RunMode.MULTIRUN:
            sweep = Path(hc.sweep.dir)
            experiment = group = _under(sweep, root)
            run_name = out.name
        else:
            run_name = _under(out, root)
        if hc.runtime.choices.get("experiment"):
            tags["experiment"] = str(hc.runtime.choices["experiment"])
    except (ValueError, ImportError):   # not under Hydra (a config composed elsewhere)
        pass
    return TrackerSettings(names=names, options={n: dict((container.get("logger") or {}).get(n) or {}) for n in names},
                           params=flatten(container), root=str(root), experiment=experiment,
                           run_name=run_name, group=group, tags=tags,
                           live=not int(cfg.get("checkpoint_every") or 0))


def _under(path: Path, root: Path) -> str:
    """``path`` relative to the runs root where it lies there, else its own name."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return path.name
