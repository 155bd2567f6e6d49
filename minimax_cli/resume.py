"""``minimax train resume=<run dir>``: what a run directory may and may not cause.

A run directory is data: people copy, share and download them. Resuming one reads three files
from it and nothing else: ``.hydra/overrides.yaml`` and ``.hydra/hydra.yaml`` (yaml.safe_load)
and ``checkpoints/last.pt`` (torch.load with weights_only=True: tensors, numbers, strings). The rule:

* configs come only from the installed project's conf/ and the search paths given on the resume's
  own command line; a search path saved in the run directory is never re-applied (a run that was
  started with one is refused until the same ``hydra.searchpath=...`` is given again);
* of the saved overrides only config values and config groups' options by name are re-applied;
  ``hydra...`` overrides never are, and an override that names a path for a group option
  (``game=../../x``), places a config into Hydra's node (``+game@hydra.callbacks.x=...``) or
  interpolates from outside the config (``${oc.env:...}``) refuses the resume unless the command
  line repeats it (``check_saved``);
* a symbolic link anywhere in the run directory refuses the resume (``refuse_links``): its writes
  would land outside the run;
* every ``_target_`` (the class a config node builds) of the composed config, and every class or
  factory of Hydra's own nodes (callbacks, launcher, sweeper, the logging config's ``class`` and
  ``()``) that is not Hydra's, a Hydra plugin's or the logging module's, must appear in a yaml
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

from minimax_cli import checkpoint, runfiles
from minimax_cli.catalog import CONF_DIR, outside_resolvers
from minimax_cli.config import merge_overrides
from minimax_cli.errors import ConfigError, DataError, MinimaxError, RunDirError


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
    if not saved_file.exists():
        raise MinimaxError(f"{run_dir} is not a run directory (no .hydra/overrides.yaml); resume=<run dir> "
                           "takes a directory written by minimax train")
    try:
        saved = runfiles.load_yaml(saved_file) or []
    except DataError as exc:
        raise RunDirError(str(exc)) from None
    if not isinstance(saved, list) or not all(isinstance(o, str) for o in saved):
        raise RunDirError(f"{saved_file} is not a list of overrides")
    _refuse_saved_searchpath(run_dir, given)
    refuse_links(run_dir)
    saved = [o for o in saved if not _key(o).startswith(("resume", "hydra"))]
    check_saved(saved, overrides, saved_file)
    mine = [o for o in overrides if _key(o) not in ("resume", "hydra.run.dir")]
    return merge_overrides(saved, mine) + [f"resume={ckpt}", f"hydra.run.dir={run_dir}"]


_OPTION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def check_saved(saved: list[str], typed: list[str], where: Path) -> None:
    """A saved override is re-applied only if it is a plain config value or a config group's option
    by name: never a path to a yaml (``game=../../x``: a file outside conf/), never a config placed
    into Hydra's node (``+game@hydra.callbacks.x=...``: what Hydra instantiates), never an
    interpolation that reads outside the config (``${oc.env:...}``). Such an override is re-applied
    only when this command line repeats it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    repeated = set(typed)
    parser = OverridesParser.create()
    for line in saved:
        if line in repeated:
            continue
        try:
            (override,) = parser.parse_overrides([line])
        except HydraException:
            raise RunDirError(f"{where} holds {line!r}, which is not an override; the run directory was edited") from None
        why = _untrusted(override)
        if why:
            raise RunDirError(f"{where} holds {line!r}: {why}; a run directory cannot choose what minimax reads or "
                              f"builds (if you trust it, add {line!r} to the command)")


def _untrusted(override) -> str | None:
    package = (override.package or "").removeprefix("_global_").lstrip(".")
    if package.split(".")[0] == "hydra":
        return "it places a config into hydra's own (what Hydra instantiates)"
    value = override.value()
    texts = [str(v) for v in _leaves(value)]
    if any(outside_resolvers(text) for text in texts):
        return "its value reads outside the config (" + ", ".join(sorted({n for t in texts for n in outside_resolvers(t)})) + ")"
    if _is_group(override.key_or_group) and not override.is_delete():
        bad = [t for t in texts if not _OPTION.match(t) or ".." in t.split("/")]
        if bad:
            return f"{bad[0]!r} is not an option of conf/{override.key_or_group}/ (a path, not a name)"
    return None


def _leaves(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif value is not None:
        yield value


def _is_group(key: str) -> bool:
    return "/" in key or (CONF_DIR / key).is_dir()


def refuse_links(run_dir: Path) -> None:
    """A run writes into its directory (and a resume rewrites its log and config): a symbolic link in
    it would carry those writes to a file outside the run. Refuse the whole directory."""
    for root, dirs, files in os.walk(run_dir, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                raise RunDirError(f"{path} is a symbolic link: minimax never writes through a link into a run "
                                  f"directory (the write would land outside the run); replace the link by the file "
                                  f"it points to, or use another directory")


def _refuse_saved_searchpath(run_dir: Path, given: dict) -> None:
    hydra_file = run_dir / ".hydra" / "hydra.yaml"
    if "hydra.searchpath" in given or not hydra_file.is_file():
        return
    try:
        saved = ((runfiles.load_yaml(hydra_file) or {}).get("hydra") or {}).get("overrides") or {}
    except (DataError, AttributeError):
        return
    paths = [o for o in saved.get("hydra") or [] if isinstance(o, str) and _key(o) == "hydra.searchpath"]
    if paths:
        raise ConfigError(f"{run_dir} was started with {paths[-1]}: a resume reads configs only from conf/ and "
                          f"the search paths on its own command line; add {paths[-1]!r} to the command if you "
                          "trust that folder")


# -- _target_: only what the project or the user names --------------------------------------------
_TARGET = re.compile(r"^\s*(?:_target_|class|\(\))\s*:\s*['\"]?([\w.]+)", re.MULTILINE)


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
    found.update(o.split("=", 1)[1].strip("'\"") for o in overrides
                 if _key(o).endswith(("_target_", ".class", ".()")) and "=" in o)
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
    found = list(_targets(OmegaConf.to_container(job, resolve=True), ""))
    if "hydra" in cfg:  # callbacks, launcher, sweeper, and the logging config's handler classes and factories
        hydra_node = OmegaConf.to_container(cfg.hydra, resolve=False)
        found += [(key, target) for key, target in _targets(hydra_node, "hydra.", keys=_BUILDS + _LOGGING_BUILDS)
                  if not target.startswith(_HYDRA_OWN)]
    for key, target in found:
        if target not in trusted:
            raise ConfigError(f"the run to resume builds {key}={target}, which neither conf/ nor this command line "
                              f"names: a run directory cannot make minimax import code; if you trust it, add "
                              f"{key}={target} to the command")


_BUILDS = ("_target_",)
#: what Python's logging.config.dictConfig imports and calls (Hydra configures logging with it)
_LOGGING_BUILDS = ("class", "()")
#: Hydra's own plugins and the standard library's logging handlers: code installed with Hydra or Python
_HYDRA_OWN = ("hydra.", "hydra_plugins.", "logging.")


def _targets(node, prefix: str, keys: tuple = _BUILDS):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys:
                if v is not None:   # null: the built-in network (game.generator._target_: null)
                    yield f"{prefix}{k}", str(v)
            else:
                yield from _targets(v, f"{prefix}{k}.", keys)
    elif isinstance(node, (list, tuple, ListConfig)):
        for i, v in enumerate(node):
            yield from _targets(v, f"{prefix}{i}.", keys)


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
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:   # a directory or a link where the lock file belongs
            raise RunDirError(f"{path} is not a lock file ({exc.strerror}); remove it, it holds nothing of the run's")
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
