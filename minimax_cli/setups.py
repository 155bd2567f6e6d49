"""Setups: the algorithm values a game or a paper setup brings, applied to a composed config.

Hydra composes conf/ (config.yaml, the game, the algorithm, an ``+experiment=``, the command line);
then ``apply`` fills in the values the game or the experiment plans for the chosen algorithm,
wherever the command line did not set them, and records where every algorithm value came from.
One table format serves both:

    setup:                                  # a game's own (conf/game/<g>.yaml: game.setup), or an
      name: fr_mog1d                        # experiment's (top level), which replaces the game's
      source: Wang et al. 2020, §6.2.1     # one line: where the values come from (docs/setups.md)
      strict: true                          # an algorithm not under `algos` is an error (false: `all` only)
      names: {gda: SGA}                     # optional: the paper's names of planned options (error lines)
      run: {steps: 2000, log_every: 100}    # keys outside algo the setup brings, by dot path (a game's yaml
                                            # cannot set them otherwise), e.g. hardware.threads
      all:                                  # every algorithm, where its config has the key
        lr_x: 2.0e-4
        lr_y: 2.0e-4
        precond: {kind: rmsprop, beta2: 0.999}
      algos:                                # per conf/algo option, on top of `all`; a key the
        gda: {order: alternating}           # algorithm does not have is an error
        fr: {solver: {kind: cg, iters: 5}}

Precedence, lowest first: conf/algo/<option>.yaml < setup.all < setup.algos.<option> < the command
line. A command-line key wins together with everything under it (``algo.solver.iters=1`` keeps
the setup's other solver fields; ``algo.precond=adam`` replaces the whole preconditioner).
Where an algorithm defines its follower rate by τ (``lr_y: ${mul:${.tau},${.lr_x}}``) and τ ≠ 1
(τ-GDA) or τ is set on the command line, ``all.lr_y`` does not apply: lr_y = τ·lr_x.

The algorithm is identified by its conf/algo option (Hydra's choice), so ``algo.name=<label>``
(the reproduction scripts' variant labels) does not change which entry applies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from minimax_cli.catalog import CONF_DIR
from minimax_cli.errors import ConfigError
from minimax_cli.schema import validate_typed

#: sources of a value, as printed by `minimax info` / `--cfg job`
ALGO_YAML, COMMAND_LINE, TAU = "algo yaml", "command line", "tau * lr_x"
#: config groups: an override ``algo=fr`` chooses an option, it does not set a value
_GROUP_KEYS = ("game", "algo", "hardware", "experiment", "hparams_search")


@dataclass
class Resolution:
    cfg: DictConfig
    option: str | None                                  # the conf/algo option
    origin: str | None                                  # "experiment fr_mog1d" / "game mog" / None
    sources: dict[str, str] = field(default_factory=dict)   # dot path -> where its value came from


def user_paths(overrides) -> set[str]:
    """The dot paths the command line sets (``algo.lr_x=1e-3`` -> algo.lr_x); group choices
    (``algo=fr``, ``+algo@pretrain.algo=gda``, ``hydra/launcher=...``) are not values."""
    out = set()
    for o in overrides or ():
        key = str(o).split("=", 1)[0].lstrip("+~")
        if "=" not in str(o) or "@" in key or "/" in key or key in _GROUP_KEYS or key.startswith("hydra."):
            continue
        out.add(key)
    return out


def _touched(path: str, user: set[str]) -> bool:
    """Whether the command line set ``path`` or a node above it."""
    parts = path.split(".")
    return any(".".join(parts[:i]) in user for i in range(1, len(parts) + 1))


def _below(path: str, user: set[str]) -> bool:
    return any(u.startswith(path + ".") for u in user)


def table_of(cfg: DictConfig) -> tuple[DictConfig | None, str | None]:
    """The setup table in force and its origin: the experiment's, else the game's, else none."""
    top = cfg.get("setup") if isinstance(cfg, DictConfig) else None
    if top is not None:
        return top, f"experiment {top.get('name', '?')}"
    game = cfg.get("game") if isinstance(cfg, DictConfig) else None
    if isinstance(game, DictConfig) and game.get("setup") is not None:
        return game.setup, f"game {game.get('name', '?')}"
    return None, None


def hydra_choices(cfg: DictConfig, choices=None):
    """Hydra's group choices of this composition: given, in the config's hydra node, or the running job's."""
    if choices is None and isinstance(cfg, DictConfig):
        choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    if choices is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            choices = HydraConfig.get().runtime.choices
        except ValueError:  # not inside a Hydra job
            choices = None
    return choices


def algo_option(cfg: DictConfig, choices=None, group: str = "algo", node: str = "algo") -> str | None:
    """The conf/algo option the config was composed with (Hydra's choice), else the node's name."""
    option = _choice(hydra_choices(cfg, choices), group)
    algo = OmegaConf.select(cfg, node, default=None)
    if option is None and isinstance(algo, DictConfig):
        option = algo.get("name")
    return None if option is None else str(option)


def planned(table: DictConfig) -> list[str]:
    """The conf/algo options a table plans for (an entry set to null is withdrawn, e.g. by a
    setup that extends another)."""
    algos = table.get("algos") or {}
    return [str(k) for k in algos.keys() if algos.get(k) is not None]


def resolve(cfg: DictConfig, overrides=(), choices=None) -> Resolution:
    """Apply the setup table in force to a copy of ``cfg`` (see the module docstring)."""
    cfg = copy.deepcopy(cfg)
    validate_typed(cfg)   # a value the table computes with (lr_x in lr_y = τ·lr_x) is a number first
    option = algo_option(cfg, choices)
    table, origin = table_of(cfg)
    from_experiment = cfg.get("setup") is not None
    with open_dict(cfg):
        cfg.pop("setup", None)
        if isinstance(cfg.get("game"), DictConfig):
            with open_dict(cfg.game):
                cfg.game.pop("setup", None)
    res = Resolution(cfg, option, origin)
    algo = cfg.get("algo")
    if not isinstance(algo, DictConfig):
        return res
    user = user_paths(overrides)
    if table is not None:
        _check_table(table, origin)
        names = planned(table)
        if option not in names and table.get("strict", False):
            raise ConfigError(_not_planned(table, origin, names, option))
        _apply_algo(cfg.algo, "algo", table, option, origin, user, res.sources)
        pre = OmegaConf.select(cfg, "pretrain.algo", default=None)
        if isinstance(pre, DictConfig) and not from_experiment:
            # a game's values reach a pretraining algorithm too (an experiment states its pretraining itself)
            pre_option = algo_option(cfg, choices, "algo@pretrain.algo", "pretrain.algo")
            _apply_algo(pre, "pretrain.algo", table, str(pre_option), origin, user, res.sources, strict=False)
        for key, value in (table.get("run") or {}).items():
            key = str(key)
            if _touched(key, user):
                continue
            OmegaConf.update(cfg, key, value, force_add=True)   # dotted keys too (hardware.threads)
            res.sources[key] = origin
    _fill_sources(algo, "algo", user, res.sources)
    pre = OmegaConf.select(cfg, "pretrain.algo", default=None)
    if isinstance(pre, DictConfig):
        _fill_sources(pre, "pretrain.algo", user, res.sources)
    for key in user:
        if key in cfg and not key.startswith("algo."):
            res.sources.setdefault(key, COMMAND_LINE)
    return res


def apply(cfg: DictConfig, overrides=(), choices=None) -> DictConfig:
    return resolve(cfg, overrides, choices).cfg


def _not_planned(table: DictConfig, origin: str, names: list[str], option: str) -> str:
    """The error line for an algorithm a strict table does not plan for. ``setup.names`` gives the
    paper's own names of the planned options, so a paper name that is another option here (seed
    004's "SGA", simultaneous gradient ascent, is algo=gda; algo=sga is symplectic gradient
    adjustment) is pointed out rather than left to look like a missing algorithm."""
    paper = {str(k): str(v) for k, v in (table.get("names") or {}).items()}
    listing = ", ".join(f"{n} ({paper[n]})" if n in paper else n for n in names)
    same = [n for n in names if paper.get(n, "").lower() == option.lower()]
    clash = (f" (the paper's {paper[same[0]]} is algo={same[0]} here; minimax's {option} is another method, "
             f"conf/algo/{option}.yaml)" if same else "")
    return (f"{origin} plans for algo={listing} ({table.get('source', 'docs/setups.md')}); "
            f"algo={option} is not one of them{clash}: choose one of those, or add setup.strict=false to run "
            f"{option} with the setup's common values (setup.all) and its own yaml for the rest")


def _check_table(table: DictConfig, origin: str) -> None:
    allowed = {"name", "source", "strict", "run", "all", "algos", "names"}
    unknown = sorted(set(map(str, table.keys())) - allowed)
    if unknown:
        raise ConfigError(f"{origin}: unknown setup key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    stray = sorted(set(map(str, (table.get("names") or {}).keys())) - set(planned(table)))
    if stray:
        raise ConfigError(f"{origin}: setup.names.{stray[0]} names an algorithm the setup does not plan for "
                          f"(planned: {', '.join(planned(table))})")


def _choice(choices, group: str):
    if choices is None:
        return None
    try:
        return choices.get(group)
    except Exception:  # noqa: BLE001  (Hydra's choices node)
        return None


def _apply_algo(algo, prefix, table, option, origin, user, sources, strict=True) -> None:
    """The table's `all` and its entry for ``option`` on the algorithm node at ``prefix``."""
    common = table.get("all") or {}
    own = (table.get("algos") or {}).get(option) or {}
    tau_defined = _tau_defined(algo, prefix, user)
    for key, value in common.items():
        key = str(key)
        if key not in algo or (key == "lr_y" and tau_defined):
            continue  # `all` applies where the algorithm has the key (IU has no preconditioner)
        _assign(algo, key, value, f"{prefix}.{key}", user, sources, origin)
    for key, value in own.items():
        key = str(key)
        if key not in algo:
            if not strict:
                continue
            keys = ", ".join(str(k) for k in algo.keys() if not str(k).startswith("_"))
            raise ConfigError(f"{origin}: setup.algos.{option}.{key} is not a key of algo={option} (its keys: {keys})")
        if key == "lr_y" and f"{prefix}.tau" in user:
            continue
        _assign(algo, key, value, f"{prefix}.{key}", user, sources, origin)


def _tau_defined(algo: DictConfig, prefix: str, user: set[str]) -> bool:
    """Whether the follower's rate is τ·lr_x by the algorithm's own τ ≠ 1 or a command-line τ."""
    if "tau" not in algo or "lr_y" not in algo or f"{prefix}.lr_y" in user:
        return False
    if f"{prefix}.tau" in user:
        return True
    return OmegaConf.is_interpolation(algo, "lr_y") and algo.get("tau") not in (None, 1, 1.0)


def _assign(node: DictConfig, key: str, value, path: str, user: set[str], sources: dict, origin: str) -> None:
    if _touched(path, user):
        return
    current = node.get(key)
    if isinstance(value, (dict, DictConfig)) and isinstance(current, DictConfig):
        for k, v in value.items():
            with open_dict(current):
                _assign(current, str(k), v, f"{path}.{k}", user, sources, origin)
        return
    if _below(path, user):
        return  # the command line set a field inside: it keeps the whole node
    with open_dict(node):
        node[key] = value
    _mark(node[key] if isinstance(node[key], DictConfig) else None, path, sources, origin)


def _mark(node, path, sources, origin) -> None:
    if node is None:
        sources[path] = origin
        return
    for k in node.keys():
        child = node.get(k)
        _mark(child if isinstance(child, DictConfig) else None, f"{path}.{k}", sources, origin)


def _fill_sources(node: DictConfig, path: str, user: set[str], sources: dict) -> None:
    for key in node.keys():
        sub = f"{path}.{key}"
        value = node._get_node(key)
        if isinstance(value, DictConfig) and not value._is_none():
            _fill_sources(value, sub, user, sources)
            continue
        if _touched(sub, user):
            sources[sub] = COMMAND_LINE
        elif sub not in sources:
            sources[sub] = TAU if (key == "lr_y" and OmegaConf.is_interpolation(node, key)) else ALGO_YAML


def planned_in_file(name: str, conf_dir=None) -> list[str]:
    """The algorithms conf/experiment/<name>.yaml plans for, read from the file and the experiments
    it extends (its defaults list), without composing (cheap enough for `minimax info`)."""
    import yaml

    path = (conf_dir or CONF_DIR) / "experiment" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    algos: dict = {}
    for entry in data.get("defaults") or []:
        if isinstance(entry, str) and entry != "_self_":
            algos.update({a: True for a in planned_in_file(entry, conf_dir)})
    for key, value in ((data.get("setup") or {}).get("algos") or {}).items():
        if value is None:
            algos.pop(key, None)
        else:
            algos[key] = True
    return list(algos)


# -- showing it -----------------------------------------------------------------------------------------
def describe(res: Resolution) -> str:
    """The effective algorithm values and where each came from, as YAML comment lines."""
    cfg = res.cfg
    lines = [f"# algo={res.option}: effective values and where each came from "
             f"(algo yaml = conf/algo/{res.option}.yaml{'; ' + res.origin if res.origin else ''})"]
    rows = []
    algo_first = sorted(res.sources, key=lambda p: (not p.startswith("algo."), _order(cfg, p)))
    for path in algo_first:
        source = res.sources[path]
        value = OmegaConf.select(cfg, path, default=None, throw_on_resolution_failure=False)
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        if path == "algo._target_" or (value is None and path.startswith(("algo.precond_x.", "algo.precond_y."))):
            continue  # a per-player field left null is the shared precond's
        rows.append((path, _fmt(value), source))
    width = max((len(p) + len(v) for p, v, _ in rows), default=0) + 3
    lines += [f"#   {p}: {v}{' ' * (width - len(p) - len(v))}{s}" for p, v, s in rows]
    return "\n".join(lines)


def _order(cfg: DictConfig, path: str) -> list[int]:
    """The position of a dot path in the config's own key order (for a readable listing)."""
    out, node = [], cfg
    for part in path.split("."):
        keys = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
        out.append(keys.index(part) if part in keys else len(keys))
        node = node._get_node(part) if isinstance(node, DictConfig) and part in keys else None
    return out


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "null" if value is None else str(value)


def summary_line(res: Resolution) -> str:
    """One log line: which values a setup or the command line brought."""
    by: dict[str, list[str]] = {}
    for path, source in res.sources.items():
        if source not in (ALGO_YAML, TAU):
            short = path.removeprefix("algo.")
            head = short.split(".")[0]
            siblings = [p for p, s in res.sources.items() if p.removeprefix("algo.").split(".")[0] == head and s == source]
            name = head if len(siblings) > 1 else short   # precond.kind, precond.beta1 ... -> precond
            if name not in by.get(source, []):
                by.setdefault(source, []).append(name)
    if not by:
        return f"algo={res.option}: every value from conf/algo/{res.option}.yaml"
    parts = [f"{source}: {', '.join(paths)}" for source, paths in by.items()]
    return f"algo={res.option} values from " + "; ".join(parts) + " (the rest: its yaml)"
