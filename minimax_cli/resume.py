"""``minimax train resume=<run dir>``: what a run directory may and may not cause.

A run directory is data: people copy, share and download them. Resuming one reads three files
from it and nothing else: ``.hydra/overrides.yaml`` and ``.hydra/hydra.yaml`` (yaml.safe_load)
and ``checkpoints/last.pt`` (torch.load with weights_only=True: tensors, numbers, strings). The rule:

* configs come only from the installed project's conf/ and the search paths given on the resume's
  own command line; a search path saved in the run directory is never re-applied (a run that was
  started with one is refused until the same ``hydra.searchpath=...`` is given again);
* of the saved overrides only config values are re-applied; ``hydra...`` overrides never are;
* every ``_target_`` (the class a config node builds) of the composed config must appear in a yaml
  of conf/ (or of a search path given on the command line) or be given on the command line; a
  ``_target_`` only the run directory names (``game._target_=os.system`` written into its
  overrides.yaml, say, or a user's ``game.generator._target_=my_pkg.nets.Gen``) refuses the resume
  in one line naming it, before anything is imported: pass the same override again to resume such
  a run;
* the checkpoint must match the composed config (checkpoint.check_config) and ``steps`` must not be
  below its step.

A run holds ``.hydra/run.lock`` (flock) while it runs and while it is resumed, so a second resume
of the same directory (or a resume of a run that is still going) is one line and changes nothing.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from minimax_cli import checkpoint
from minimax_cli.catalog import CONF_DIR
from minimax_cli.config import merge_overrides
from minimax_cli.errors import ConfigError, MinimaxError, RunDirError


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def value(overrides: list[str]) -> str | None:
    """The value of ``resume=`` among the overrides (None: not given)."""
    values = [o.split("=", 1)[1] for o in overrides if _key(o) == "resume"]
    return values[-1] if values else None


def overrides_for(overrides: list[str]) -> list[str]:
    """The overrides that re-create a run to continue: its own saved overrides (so a job of a sweep
    resumes with its own game, algorithm …; values only, never hydra's), the new ones on top, in
    its own directory."""
    import yaml

    given = {_key(o): o.split("=", 1)[1] for o in overrides if "=" in o}
    target = value(overrides)
    if target in ("true", "True"):
        if "hydra.run.dir" not in given:
            raise MinimaxError("resume=true needs the run's directory: add hydra.run.dir=<run dir> "
                               "(or write resume=<run dir>)")
        run_dir, ckpt = Path(given["hydra.run.dir"]), None
    else:
        path = Path(target)
        if path.is_file():
            ckpt = path
            run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        else:
            run_dir, ckpt = path, None
    run_dir = run_dir.resolve()
    ckpt = (ckpt or checkpoint.path_in(run_dir)).resolve()
    saved_file = run_dir / ".hydra" / "overrides.yaml"
    if not saved_file.is_file():
        raise MinimaxError(f"{run_dir} is not a run directory (no .hydra/overrides.yaml); resume=<run dir> "
                           "takes a directory written by minimax train")
    try:
        saved = yaml.safe_load(saved_file.read_text()) or []
    except yaml.YAMLError as exc:
        raise RunDirError(f"{saved_file} is not readable yaml ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise RunDirError(f"{saved_file} is not a list of overrides")
    _refuse_saved_searchpath(run_dir, given)
    saved = [o for o in saved if not _key(o).startswith(("resume", "hydra"))]
    mine = [o for o in overrides if _key(o) not in ("resume", "hydra.run.dir")]
    return merge_overrides(saved, mine) + [f"resume={ckpt}", f"hydra.run.dir={run_dir}"]


def _refuse_saved_searchpath(run_dir: Path, given: dict) -> None:
    import yaml

    hydra_file = run_dir / ".hydra" / "hydra.yaml"
    if "hydra.searchpath" in given or not hydra_file.is_file():
        return
    try:
        saved = ((yaml.safe_load(hydra_file.read_text()) or {}).get("hydra") or {}).get("overrides") or {}
    except (yaml.YAMLError, AttributeError):
        return
    paths = [o for o in saved.get("hydra") or [] if isinstance(o, str) and _key(o) == "hydra.searchpath"]
    if paths:
        raise ConfigError(f"{run_dir} was started with {paths[-1]}: a resume reads configs only from conf/ and "
                          f"the search paths on its own command line; add {paths[-1]!r} to the command if you "
                          "trust that folder")


# -- _target_: only what the project or the user names --------------------------------------------
_TARGET = re.compile(r"^\s*_target_\s*:\s*['\"]?([\w.]+)", re.MULTILINE)


def trusted_targets(overrides: list[str]) -> set[str]:
    """Every ``_target_`` written in a yaml of conf/ or of a search path on the command line, and
    every ``..._target_=...`` override on the command line."""
    folders = [CONF_DIR]
    for o in overrides:
        if _key(o) == "hydra.searchpath":
            folders += _searchpath_folders(o.split("=", 1)[1])
    found = set()
    for folder in folders:
        for yml in Path(folder).rglob("*.yaml"):
            try:
                found.update(_TARGET.findall(yml.read_text(errors="replace")))
            except OSError:
                continue
    found.update(o.split("=", 1)[1].strip("'\"") for o in overrides if _key(o).endswith("_target_") and "=" in o)
    return found


def _searchpath_folders(text: str) -> list[Path]:
    out = []
    for entry in re.findall(r"(file|pkg)://([^,\]\s'\"]+)", text):
        scheme, where = entry
        if scheme == "file":
            out.append(Path(where))
        else:
            spec = importlib.util.find_spec(where.split("/")[0])
            if spec is not None and spec.submodule_search_locations:
                out.append(Path(list(spec.submodule_search_locations)[0]).joinpath(*where.split("/")[1:]))
    return out


def check_targets(cfg: DictConfig, trusted: set[str]) -> None:
    """Refuse a ``_target_`` that neither the project's configs nor the command line name."""
    job = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"]) if "hydra" in cfg else cfg
    for key, target in _targets(OmegaConf.to_container(job, resolve=True), ""):
        if target not in trusted:
            raise ConfigError(f"the run to resume builds {key}={target}, which neither conf/ nor this command line "
                              f"names: a run directory cannot make minimax import code; if you trust it, add "
                              f"{key}={target} to the command")


def _targets(node, prefix: str):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "_target_":
                if v is not None:   # null: the built-in network (game.generator._target_: null)
                    yield f"{prefix}{k}", str(v)
            else:
                yield from _targets(v, f"{prefix}{k}.")
    elif isinstance(node, (list, tuple, ListConfig)):
        for i, v in enumerate(node):
            yield from _targets(v, f"{prefix}{i}.")


# -- the checkpoint ----------------------------------------------------------------------------------------
def check_checkpoint(cfg: DictConfig) -> None:
    """Before Hydra touches the run directory: the checkpoint loads, matches the config, and
    ``steps`` reaches at least its step."""
    path = Path(str(cfg.resume))
    payload = checkpoint.load(path)
    checkpoint.check_config(payload, cfg, path)
    pretrain = payload.get("pretrain") or {}
    offset = int(pretrain.get("step", 0)) if payload.get("phase") == "main" else 0
    limit = offset + int(cfg.steps) if payload.get("phase") == "main" else int(OmegaConf.select(cfg, "pretrain.steps", default=0))
    step = int(payload["runner"]["step"])
    if step > limit:
        raise ConfigError(f"the checkpoint {path} is at step {step}, beyond steps={cfg.steps}"
                          f"{f' (+ {offset} pretraining steps)' if offset else ''}: to continue it give steps >= "
                          f"{step - offset}; nothing was changed")


# -- one process per run directory ----------------------------------------------------------------------------
_HELD: dict[str, list] = {}


@contextmanager
def run_lock(run_dir: Path):
    """Hold ``<run dir>/.hydra/run.lock`` (flock, released by the kernel even on kill -9) while
    inside; re-entrant in one process. Ranks of a data-parallel run leave it to the process that
    launched them (or to rank 0 under a user's torchrun)."""
    if os.environ.get("RANK", "0") != "0" or os.environ.get("MINIMAX_DDP_ERRORS"):
        yield
        return
    path = (Path(run_dir) / ".hydra" / "run.lock").absolute()
    held = _HELD.get(str(path))
    if held is not None:
        held[1] += 1
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunDirError(f"{run_dir} is in use by another minimax process (running or being resumed: "
                              f"{path} is locked); wait for it to end or stop it, then resume") from None
        held = _HELD[str(path)] = [fd, 1]
    try:
        yield
    finally:
        held[1] -= 1
        if held[1] == 0:
            del _HELD[str(path)]
            os.close(held[0])
