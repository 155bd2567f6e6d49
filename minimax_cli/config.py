"""The one pass from a command line to a run's settings.

    overrides --Hydra--> composed config --setups table--> config as run --checks--> RunSettings

``resolved`` composes conf/ with the overrides and applies the game's or experiment's setup table
(setups.py); ``prepare`` also checks the result (checks.py) and returns the frozen settings a run
trusts (run_settings.py). ``settle`` is the same pass for a config Hydra has already composed (the
train entry's job). Errors are one clear line (ConfigError), raised before any run directory
exists. Also here: expanding a sweep into its jobs' overrides, for checking each job first.
"""

from __future__ import annotations

import copy
import itertools
import re

from omegaconf import DictConfig, OmegaConf, open_dict

from minimax_cli import setups
from minimax_cli.catalog import CONF_DIR, option_names
from minimax_cli.checks import check_run
from minimax_cli.errors import ConfigError
from minimax_cli.run_settings import RunSettings, settings_of


# -- the pass ---------------------------------------------------------------------------------------------
def resolved(overrides: list[str], hydra_config: bool = False) -> setups.Resolution:
    """Hydra's composition of conf/ with ``overrides``, then the setup table applied: the config a
    run would use, and where each algorithm value came from. ``hydra_config`` keeps the hydra node
    (run and sweep directories, launcher, sweeper parameters)."""
    res = setups.resolve(_hydra_compose(overrides), overrides)
    if not hydra_config:
        with open_dict(res.cfg):
            del res.cfg["hydra"]
    return res


def prepare(overrides: list[str], hydra_config: bool = False) -> RunSettings:
    """The checked settings of one job's overrides: ``resolved``, then ``checked``."""
    return checked(resolved(overrides, hydra_config))


def settle(cfg: DictConfig, overrides=(), choices=None, check: bool = True) -> RunSettings:
    """The same pass for a config Hydra composed (a job of ``minimax train``): the setup table
    applied, then checked unless ``check`` is false (the job was checked before Hydra started)."""
    res = setups.resolve(cfg, overrides, choices)
    sources, note = setups.describe(res), setups.summary_line(res)
    if check:
        check_run(res.cfg)
    return settings_of(res.cfg, sources, note)


def checked(composed: setups.Resolution | DictConfig) -> RunSettings:
    """Check a composition (checks.check_run) and return the settings the run trusts. A config
    composed elsewhere (``compose``: setups applied) is copied first: the settings own theirs."""
    if isinstance(composed, setups.Resolution):
        check_run(composed.cfg)
        return settings_of(composed.cfg, setups.describe(composed), setups.summary_line(composed))
    cfg = copy.deepcopy(composed)
    check_run(cfg)
    return settings_of(cfg)


def compose(overrides: list[str], hydra_config: bool = False, setups: bool = True) -> DictConfig:
    """Compose conf/ with overrides as Hydra would, raising ConfigError with one clear line.

    With ``setups`` (the default) the game's or experiment's setup table is applied as a run
    applies it (``resolved``): the config a run would use, not yet checked."""
    if setups:
        return resolved(overrides, hydra_config).cfg
    return _hydra_compose(overrides, hydra_config)


def _hydra_compose(overrides: list[str], hydra_config: bool = True) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra_config)
    except Exception as exc:  # Hydra/OmegaConf errors: rewrite as one line
        raise ConfigError(explain_hydra_error(exc, overrides)) from None
    finally:
        GlobalHydra.instance().clear()


# -- sweeps: the jobs' overrides, checked before Hydra launches them --------------------------------------
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


def job_id(overrides) -> tuple[str, ...]:
    """A job's overrides as a sweeper hands them to the job (``progress=false`` becomes
    ``progress=False``), in key order: how the train entry recognizes a job checked before Hydra
    started (one it does not recognize is checked there)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    except Exception:  # noqa: BLE001  (cannot be parsed: never taken for a checked job)
        return ("<unparsed>", *map(str, overrides))
    out = []
    for ov in parsed:
        try:
            value = "" if ov.value() is None else ov.get_value_element_as_str()
        except Exception:  # noqa: BLE001  a sweep or a deletion without value: as written
            out.append((ov.get_key_element(), ov.input_line))
            continue
        out.append((ov.get_key_element(), f"{ov.get_key_element()}={value}"))
    return tuple(text for _, text in sorted(out, key=lambda pair: pair[0]))


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


#: configs the sweep plugins (pyproject's `sweep` extra) register
_PLUGIN_CONFIGS = ("joblib", "submitit_local", "submitit_slurm", "optuna")


def explain_hydra_error(exc: Exception, overrides: list[str]) -> str:
    text = " ".join(str(exc).split())
    cause = " ".join(str(exc.__cause__).split()) if exc.__cause__ else ""
    # (Could not load: an option of a list-valued group, e.g. logger=[mlflow,foo])
    m = re.search(r"Could not (?:find|load) '([\w/]+)/([^']+)'", text)
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


