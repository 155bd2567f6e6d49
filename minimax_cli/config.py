"""Configuration: where conf/ is, building objects from config nodes, and checking overrides
before Hydra starts (so bad input is one clear line and no run directory is created)."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from minimax_cli.errors import ConfigError

CONF_DIR = Path(os.environ.get("MINIMAX_CONF", Path(__file__).resolve().parent.parent / "conf"))
GROUPS = ("game", "algo", "hardware")
DTYPES = ("auto", "float32", "float64")
DEVICES = ("cpu", "cuda", "auto")


def _register_resolvers():
    if not OmegaConf.has_resolver("mul"):
        OmegaConf.register_new_resolver("mul", lambda *xs: _product(xs))
    if not OmegaConf.has_resolver("runs_dir"):
        # an empty runs_root (MINIMAX_RUNS= or runs_root=) means the default, never the filesystem root
        OmegaConf.register_new_resolver("runs_dir", lambda root=None: str(root).strip() if root is not None
                                        and str(root).strip() else "runs")


def _product(xs):
    out = 1.0
    for x in xs:
        out *= float(x)
    return out


_register_resolvers()


# -- what conf/ offers ------------------------------------------------------------------------------
def list_options(group: str) -> list[tuple[str, str]]:
    """(name, one-line description) for each option of a config group, from its first comment
    (Hydra header lines such as ``# @package _global_``, which must come first, are skipped)."""
    out = []
    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        first = ""
        for line in path.read_text().splitlines():
            if line.startswith("#") and not line.lstrip("# ").startswith("@"):  # skip "# @package ..."
                first = line.lstrip("# ").strip()
                break
        out.append((path.stem, first))
    return out


def option_names(group: str) -> list[str]:
    return [name for name, _ in list_options(group)]


# -- building objects ---------------------------------------------------------------------------------
def locate(path: str):
    import importlib

    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {path!r} named by _target_ ({exc})") from None


def build(node: DictConfig, group: str, **extra):
    """Instantiate ``node['_target_']`` with the node's other keys as keyword arguments.

    Like hydra.utils.instantiate, but a constructor's ConfigError reaches the user unwrapped, and
    an unknown key is reported by name together with the keys the class accepts.
    """
    import inspect

    spec = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    target = spec.pop("_target_", None)
    if target is None:
        raise ConfigError(f"the {group} config has no _target_ (the class to build)")
    cls = locate(target)
    params = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(spec) - set(params))
        if unknown:
            allowed = ", ".join(k for k in params if k not in ("self",))
            raise ConfigError(f"unknown key {group}.{unknown[0]} for {spec.get('name', target)} (allowed: {allowed})")
    return cls(**spec, **extra)


def resolve_hardware(hw: DictConfig, game) -> tuple["torch.device", "torch.dtype"]:  # noqa: F821
    import torch

    device, dtype = str(hw.get("device", "cpu")), str(hw.get("dtype", "auto"))
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(f"hardware.device must be one of {', '.join(DEVICES)} or cuda:N (got {device!r})")
    if dtype not in DTYPES:
        raise ConfigError(f"hardware.dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("hardware=cuda but no CUDA device is visible (torch.cuda.is_available() is False); "
                          "use hardware=cpu or hardware=auto")
    if dtype == "auto":
        dtype = "float64" if game.analytic else "float32"
    threads = hw.get("threads", None)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"hardware.threads must be null or an integer >= 1 (got {threads!r})")
    check_precision(hw, dtype)
    return torch.device(device), getattr(torch, dtype)


def check_precision(hw: DictConfig, dtype: str) -> None:
    """hardware.precision (oracle.py applies it) and hardware.compile (not available, see README)."""
    from minimax_cli.oracle import PRECISIONS

    precision = hw.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise ConfigError(f"hardware.precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    if precision != "fp32" and dtype != "float32":
        raise ConfigError(f"hardware.precision={precision} applies to float32 runs (neural games); this run is "
                          f"{dtype}: use hardware.precision=fp32 or hardware.dtype=float32")
    compiled = hw.get("compile", False)
    if not isinstance(compiled, bool):
        raise ConfigError(f"hardware.compile must be true or false (got {compiled!r})")
    if compiled:
        raise ConfigError("hardware.compile=true is not available: with this torch, torch.compile skips a network's "
                          "forward when it runs inside torch.func's grad/jvp/vjp (no graph is compiled), and every "
                          "derivative here is one; set hardware.compile=false (README: Image GANs, Hardware)")


def apply_threads(hw: DictConfig) -> None:
    """torch's intra-op thread count: hardware.threads, or (null) what the process may use
    (cpus.default_threads: affinity, cgroup quota, SLURM allocation, shared among a node's
    data-parallel processes). One inter-op thread: nothing here runs ops concurrently."""
    import torch

    from minimax_cli.cpus import default_threads

    threads = hw.get("threads", None)
    threads = default_threads() if threads is None else int(threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only possible before the pool starts (and once): then it is already set
        pass


# -- checking overrides before a run ---------------------------------------------------------------------
_COMBO_CAP = 512


def expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """The override lists of the jobs a basic-sweeper multirun would launch.

    Choice and range sweeps are expanded; an interval (optuna's ``interval(a, b)``, also inside
    ``tag(log, ...)``) stands for its two ends, so both are checked; other sweeper-only syntax is
    left to the sweeper and checked only through the rest of the overrides. Above _COMBO_CAP
    combinations each value is checked on its own against the first value of the others.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:  # noqa: BLE001  Hydra's parser errors: one line
        raise ConfigError(explain_hydra_error(exc, overrides)) from None
    choices = []
    for ov in parsed:
        key = ov.get_key_element()
        if ov.is_interval_sweep():
            interval = ov.value()
            choices.append([f"{key}={v}" for v in (interval.start, interval.end)])
        elif ov.is_sweep_override():
            try:
                values = list(ov.sweep_string_iterator())
            except Exception:  # interval(...) and other sweeper-only syntax
                continue
            choices.append([f"{key}={v}" for v in values])
        else:
            choices.append([ov.input_line])
    total = 1
    for c in choices:
        total *= len(c)
    if total <= _COMBO_CAP:
        return [list(combo) for combo in itertools.product(*choices)]
    firsts = [c[0] for c in choices]
    return [firsts[:i] + [v] + firsts[i + 1:] for i, c in enumerate(choices) for v in c]


def sweeper_params(cfg: DictConfig) -> list[str]:
    """``hydra.sweeper.params`` of a config composed with its hydra node, as overrides (a tuning
    preset's search space, e.g. ``algo.lr_x=tag(log, interval(0.001, 0.1))``)."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
    if not params:
        return []
    return [f"{key}={value}" for key, value in OmegaConf.to_container(params, resolve=True).items()]


def merge_overrides(base: list[str], overrides: list[str]) -> list[str]:
    """``base`` then ``overrides``, an override replacing a base entry of the same key."""
    def key(o: str) -> str:
        return o.split("=", 1)[0].lstrip("+~")

    given = {key(o) for o in overrides}
    return [o for o in base if key(o) not in given] + list(overrides)


def compose(overrides: list[str], hydra_config: bool = False, setups: bool = True) -> DictConfig:
    """Compose conf/ with overrides as Hydra would, raising ConfigError with one clear line.

    With ``setups`` (the default) the game's or experiment's setup table is applied as a run
    applies it (minimax_cli/setups.py): the config a run would use."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=list(overrides),
                                return_hydra_config=hydra_config or setups)
    except Exception as exc:  # Hydra/OmegaConf errors: rewrite as one line
        raise ConfigError(explain_hydra_error(exc, overrides)) from None
    finally:
        GlobalHydra.instance().clear()
    if setups:
        from minimax_cli.setups import apply

        cfg = apply(cfg, overrides)  # after composition, before validation (check_run)
        if not hydra_config:
            with open_dict(cfg):
                del cfg["hydra"]
    return cfg


#: configs the sweep plugins (pyproject's `sweep` extra) register
_PLUGIN_CONFIGS = ("joblib", "submitit_local", "submitit_slurm", "optuna")


def explain_hydra_error(exc: Exception, overrides: list[str]) -> str:
    text = " ".join(str(exc).split())
    cause = " ".join(str(exc.__cause__).split()) if exc.__cause__ else ""
    m = re.search(r"Could not find '([\w/]+)/([^']+)'", text)
    if m:
        group, value = m.group(1), m.group(2)
        options = option_names(group) if (CONF_DIR / group).is_dir() else []
        listed = f" (available: {', '.join(options)})" if options else ""
        if value in _PLUGIN_CONFIGS:
            listed += f"; {value} comes with a Hydra plugin: pip install -e '.[sweep]'"
        return f"unknown {group} {value!r}{listed}"
    m = re.search(r"Could not (?:override|append to|delete from) '([^']+)'", text)
    if m:
        key = m.group(1)
        return f"unknown config key {key!r}{_keys_hint(key, overrides)} (to add a new key use +{key}=...)"
    m = re.search(r"Key '([^']+)' is not in struct", text + " " + cause)
    if m:
        return f"unknown config key {m.group(1)!r}"
    if "Error parsing override" in text or "mismatched input" in text or "no viable alternative" in text:
        bad = re.search(r"override '([^']*)'", text)
        what = bad.group(1) if bad else " ".join(overrides)
        return f"cannot parse override {what!r}: write key=value, lists as [a,b], sweeps as a,b (with -m)"
    return text.split(" Set the environment variable HYDRA_FULL_ERROR")[0]


def _keys_hint(key: str, overrides: list[str]) -> str:
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    others = [o for o in overrides if not o.split("=", 1)[0].lstrip("+~") == key]
    try:
        cfg = compose(others)
    except ConfigError:
        return ""
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if isinstance(node, DictConfig):
        keys = [k for k in node.keys() if not str(k).startswith("_")]
        return f"; keys of {parent or 'the top level'}: {', '.join(map(str, keys))}"
    return ""


def pretrain_phase(cfg: DictConfig):
    """(algorithm, steps) of the optional pretraining phase, or None (``pretrain.steps`` = 0).

    Config: ``pretrain.steps`` and the algorithm node ``pretrain.algo``, added from conf/algo/
    with ``+algo@pretrain.algo=<name>`` (or an experiment's defaults ``- /algo@pretrain.algo: <name>``).
    """
    node = cfg.get("pretrain")
    if node is None:
        return None
    unknown = sorted(set(node.keys()) - {"steps", "algo"})
    if unknown:
        raise ConfigError(f"unknown key pretrain.{unknown[0]} (allowed: steps, algo)")
    steps = node.get("steps", 0)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"pretrain.steps must be an integer >= 0 (got {steps!r})")
    if steps == 0:
        return None
    if node.get("algo") is None:
        raise ConfigError("pretrain.steps > 0 needs the pretraining algorithm: add +algo@pretrain.algo=<name> "
                          f"(one of {', '.join(option_names('algo'))})")
    return build(node.algo, "pretrain.algo"), steps


def check_run(cfg: DictConfig) -> None:
    """Everything a run can be refused for, before its directory exists: the rule table of every
    key (schema.py), then the game and algorithm (cheap: constructors only validate), the
    algorithm's limits on the game's size, the hardware choice and the data-parallel split."""
    from minimax_cli.schema import validate

    for group in GROUPS:
        if group not in cfg:
            raise ConfigError(f"the config has no {group} (choose one of: {', '.join(option_names(group))})")
    validate(cfg)
    game = build(cfg.game, "game")
    algos = [build(cfg.algo, "algo")]
    pretrain = pretrain_phase(cfg)
    if pretrain is not None:
        algos.append(pretrain[0])
    dims = game.parameter_dims()
    if dims is not None:
        for algo in algos:
            algo.check_game(game, *dims)
    from minimax_cli.games.seeds import check_seeds

    check_seeds(cfg, game)
    resolve_hardware(cfg.hardware, game)
    from minimax_cli.distributed import check_config as check_distributed

    check_distributed(cfg, game)
    check = getattr(game, "check", None)
    if check is not None:
        check()
    for key in ("steps", "log_every"):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "steps" else 1):
            bound = ">= 0" if key == "steps" else ">= 1"
            raise ConfigError(f"{key} must be an integer {bound} (got {value!r})")
    metrics_every = cfg.get("metrics_every")
    if metrics_every is not None:
        if isinstance(metrics_every, bool) or not isinstance(metrics_every, int) or metrics_every < 1:
            raise ConfigError(f"metrics_every must be null or an integer >= 1 (got {metrics_every!r})")
        if metrics_every % cfg.log_every:
            raise ConfigError(f"metrics_every ({metrics_every}) must be a multiple of log_every ({cfg.log_every}): "
                              "evaluation metrics go into the rows written every log_every steps")
    tol = cfg.get("tol")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
        raise ConfigError(f"tol must be a number >= 0 (got {tol!r})")
    from minimax_cli.progress import interval_of

    interval_of(cfg.get("progress", True))
    objective = cfg.get("objective") or {}
    if objective.get("mode", "minimize") not in ("minimize", "maximize"):
        raise ConfigError(f"objective.mode must be minimize or maximize (got {objective.get('mode')!r})")
    if not isinstance(objective.get("metric", "grad_norm/y"), str):
        raise ConfigError(f"objective.metric must be a metric name, e.g. dist_to_eq (got {objective.get('metric')!r})")
