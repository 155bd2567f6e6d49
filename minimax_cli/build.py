"""Building an object from a config node (``_target_`` plus keyword arguments)."""

from __future__ import annotations

import importlib
import inspect

from omegaconf import DictConfig, OmegaConf

from minimax_cli.errors import ConfigError


def locate(path: str):
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
