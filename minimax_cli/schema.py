"""The rule table of the composed config, checked in one place before a run directory exists.

``validate(cfg)`` runs in three passes, each stopping at the first problem with one line that names
the key the user typed and what is allowed:

1. every key with a rule whose value was typed (not an interpolation) is checked as typed, so
   ``algo.lr_x=abc`` is reported as algo.lr_x, not as the ``${mul:...}`` of algo.lr_y it feeds;
2. the whole job config is resolved; an interpolation that cannot be computed is reported with
   its expression and the values it reads;
3. keys whose value came from an interpolation are checked as resolved (``algo.lr_y`` = τ·lr_x).

A key without a rule is accepted: Hydra's struct mode has already refused keys that are not in
conf/, and a constructor refuses keys it does not take (build.build), so a new key needs a rule
only to get its message early. Adding one is one line in RULES (``"algo.new_key": number(0)``);
keys under ``algo.`` are also checked under ``pretrain.algo.`` (PLAYER_GROUPS). Cross-key and
game-dependent checks (a dense solve on a large network, batches split by hardware.nproc) are in
checks.check_run, which calls validate first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from omegaconf import DictConfig, ListConfig, OmegaConf

from minimax_cli.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """What a key may hold. ``kind``: the type in words ("an integer"); ``bounds``: the range in
    words (">= 0"); ``is_kind`` / ``in_bounds``: the tests; ``null``: None is allowed."""

    kind: str
    is_kind: Callable[[Any], bool]
    bounds: str = ""
    in_bounds: Callable[[Any], bool] = lambda v: True
    null: bool = False
    #: the whole description instead of "[null or ]<kind> <bounds>" (e.g. what null means)
    words: str = ""
    #: a value of the right kind out of bounds is told only the bounds ("must be >= 0", the
    #: wording of the algorithms' own check_rate)
    short: bool = False

    def problem(self, value) -> str | None:
        if value is None and self.null:
            return None
        whole = self.words or f"{'null or ' if self.null else ''}{self.kind}{' ' + self.bounds if self.bounds else ''}"
        if not self.is_kind(value):
            return whole
        if not self.in_bounds(value):
            return self.bounds if self.short else whole
        return None

    def saying(self, words: str) -> "Rule":
        return replace(self, words=words)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def integer(low: int | None = None, null: bool = False) -> Rule:
    return Rule("an integer", _is_int, f">= {low}" if low is not None else "",
                (lambda v: v >= low) if low is not None else (lambda v: True), null)


def number(low: float | None = None, high: float | None = None, strict_low: bool = False,
           strict_high: bool = False, finite: bool = True, null: bool = False) -> Rule:
    """A real number (int or float); ``finite=False`` also allows ±inf (never NaN)."""
    if low is not None and high is not None:
        bounds = f"in {'(' if strict_low else '['}{low:g}, {high:g}{')' if strict_high else ']'}"
    elif low is not None:
        bounds = f"{'>' if strict_low else '>='} {low:g}"
    else:
        bounds = ""
    if not finite:
        bounds = f"{bounds} or inf" if bounds else "finite or ±inf"

    def in_bounds(v) -> bool:
        if low is not None and (v < low or (strict_low and v == low)):
            return False
        return high is None or not (v > high or (strict_high and v == high))

    def is_kind(v) -> bool:
        return _is_number(v) and not math.isnan(v) and (not finite or math.isfinite(v))

    return Rule("a number", is_kind, bounds, in_bounds, null)


def rate(strict: bool = False, null: bool = False) -> Rule:
    """A learning-rate-like number >= 0 (> 0), worded as algos/base.check_rate words it."""
    return replace(number(0, strict_low=strict, null=null), short=not null)


def boolean(null: bool = False) -> Rule:
    return Rule("true or false", lambda v: isinstance(v, bool), null=null)


def one_of(*choices: str, null: bool = False) -> Rule:
    return Rule(f"one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices, null=null)


def text(null: bool = False) -> Rule:
    return Rule("a text", lambda v: isinstance(v, str), null=null)


def matches(pattern: str, words: str) -> Rule:
    return Rule(words, lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None)


# -- the table -------------------------------------------------------------------------------------------
#: keys checked under ``algo.`` and under each prefix of PLAYER_GROUPS
ALGO_RULES = {
    "lr_x": rate(), "lr_y": rate(null=True), "lr_y2": rate(), "tau": rate(strict=True, null=True),
    "momentum": number(), "follower_steps": integer(1),
    "solver.kind": one_of("auto", "exact", "cg", "diag"), "solver.iters": integer(1), "solver.tol": rate(),
    "solver.damping": rate(), "solver.adaptive": boolean(), "solver.damping_min": rate(),
    "solver.damping_max": rate(null=True), "solver.diag_default": rate(),
    "solver.diag_max": rate(null=True), "solver.diag_reuse": boolean(),
    "inner_steps": integer(1), "inner_tol": rate(), "fd_alpha": rate(strict=True),
}
PLAYER_GROUPS = ("algo", "pretrain.algo")

RULES: dict[str, Rule] = {
    "seed": integer(),
    "steps": integer(0),
    "log_every": integer(1),
    "tol": number(0),
    "converge_on": one_of("grad_norm", "dist_to_eq"),
    "diverge_norm": replace(number(0, strict_low=True, finite=False), short=True),
    "check_every": integer(1, null=True),
    "progress": Rule("true, false or a number of seconds > 0",
                     lambda v: isinstance(v, bool) or (_is_number(v) and math.isfinite(v) and v > 0)),
    "plot": boolean(),
    "plot_starts": integer(0),
    "seed_figures": one_of("combined", "per_seed", "both"),
    "tensorboard": boolean(),
    "checkpoint_every": integer(0),
    "ema": number(0, 1, strict_high=True, null=True),
    "runs_root": text(null=True),
    "logger.mlflow.tracking_uri": text(null=True),
    "logger.mlflow.experiment": text(null=True),
    "logger.wandb.mode": one_of("online", "offline", "disabled", null=True),
    "logger.wandb.project": text(),
    "logger.wandb.entity": text(null=True),
    "logger.wandb.dir": text(null=True),
    "objective.metric": text(),
    "objective.mode": one_of("minimize", "maximize").saying("minimize or maximize"),
    "pretrain.steps": integer(0),
    "hardware.device": matches(r"cpu|cuda|auto|cuda:\d+", "one of cpu, cuda, auto or cuda:N"),
    "hardware.dtype": one_of("auto", "float32", "float64"),
    "hardware.threads": integer(1, null=True),
    "hardware.precision": one_of("fp32", "tf32", "bf16"),
    "hardware.compile": boolean(),
    "hardware.ddp": boolean(),
    "hardware.nproc": integer(1, null=True).saying("null (one per visible GPU) or an integer >= 1"),
    "hardware.backend": one_of("auto", "gloo", "nccl"),
    "hardware.timeout_s": number(0, strict_low=True).saying("a number of seconds > 0"),
    "game.init_radius": number(0),
    "analyze.output": one_of("text", "json"),
    "analyze.newton_tol": number(0, strict_low=True),
    "analyze.newton_steps": integer(1),
    "analyze.tau_max_dim": integer(1),
    "analyze.max_dim": integer(1),
    "analyze.eps": number(0, strict_low=True),
    "analyze.r": number(0, strict_low=True, null=True),
    "analyze.gamma": number(0, strict_low=True),
}
for _group in PLAYER_GROUPS:
    RULES.update({f"{_group}.{key}": rule for key, rule in ALGO_RULES.items()})
del _group


# -- checking ---------------------------------------------------------------------------------------------
def validate(cfg: DictConfig, rules: dict[str, Rule] | None = None) -> None:
    """Check the job config (``hydra`` node excluded) against ``rules`` (default RULES)."""
    rules = RULES if rules is None else rules
    present, computed = validate_typed(cfg, rules)   # 1. as typed
    _resolve_all(cfg)                             # 2. every interpolation
    for key in computed:                          # 3. computed values
        raw = present[key]._value()
        _check(key, rules[key], OmegaConf.select(cfg, key), f"; computed from {raw}")


def validate_typed(cfg: DictConfig, rules: dict[str, Rule] | None = None) -> tuple[dict, list[str]]:
    """Check the values written as such (not computed by an interpolation): before anything computes
    with them (``lr_y = ${mul:${.tau},${.lr_x}}`` with lr_x=abc). Returns (the nodes present, the
    keys that are computed)."""
    rules = RULES if rules is None else rules
    present = {key: _node(cfg, key) for key in rules}
    present = {key: node for key, node in present.items() if node is not None}
    computed = []
    for key, node in present.items():
        if node._is_interpolation():
            computed.append(key)
            continue
        _check(key, rules[key], node._value())
    return present, computed


def _node(cfg: DictConfig, key: str):
    """The config node at ``key`` (no resolution), or None when absent."""
    node = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return None
        node = node._get_node(part)
    if isinstance(node, (DictConfig, ListConfig)):
        return None                                # a group where a value was expected: the constructor says so
    return node


def _check(key: str, rule: Rule, value, origin: str = "") -> None:
    problem = rule.problem(value)
    if problem is not None:
        raise ConfigError(f"{key} must be {problem} (got {value!r}{origin})")


def _resolve_all(cfg: DictConfig) -> None:
    job = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"]) if "hydra" in cfg else cfg
    try:
        OmegaConf.to_container(job, resolve=True)
    except Exception as exc:  # noqa: BLE001  OmegaConf's resolution errors (and a resolver's own)
        key = str(getattr(exc, "full_key", "") or "")
        raise ConfigError(_explain_resolution(cfg, key, exc)) from None


def _explain_resolution(cfg: DictConfig, key: str, exc: Exception) -> str:
    """``algo.lr_y = ${mul:${.tau},${.lr_x}} cannot be computed from algo.tau=4.0, algo.lr_x='abc' (...)``."""
    cause = exc.__cause__ or exc
    reason = " ".join(str(cause).split("\n")[0].split())
    node = _node(cfg, key) if key else None
    if node is None or not node._is_interpolation():
        return f"{key or 'the config'} cannot be computed ({reason})"
    raw = str(node._value())
    parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
    inputs = []
    for ref in re.findall(r"\$\{(\.?[\w.]+)\}", raw):
        full = parent + ref.lstrip(".") if ref.startswith(".") else ref
        leaf = _node(cfg, full)
        if leaf is not None and not leaf._is_interpolation():
            inputs.append(f"{full}={leaf._value()!r}")
    source = f" from {', '.join(inputs)}" if inputs else ""
    return f"{key} = {raw} cannot be computed{source} ({reason})"
