"""The researcher's own networks: any ``nn.Module`` named by ``_target_`` in the game config.

    game.generator._target_=my_nets.Gen  +game.generator.hidden=32     (game=mog and the image games)

The module is built with the node's other keys as keyword arguments, inside the run's seeded RNG
stream (so its own initialization is reproducible per seed), then evaluated like minimax's own nets
through ``FlatModule``: a pure function of one flat parameter vector, so every algorithm, every
Hessian-vector product, checkpoints and data-parallel runs work on it unchanged.

Keys: the game's own network keys (``game=mog``: latent, depth, width, activation, init; the image
games: latent_dim, width, …) are passed only when the constructor has a parameter of that name (the
MLP defaults of conf/game/mog.yaml do not reach a class that does not ask for them); every other key
is passed as given, and null values are dropped. ``fill`` names values minimax knows (the data
dimension, the latent size, the image shape) that are passed when the constructor asks for them
and the config does not set them.

What torch.func cannot evaluate as a pure function is refused with one line, before a run starts:
layers that update running statistics in place (BatchNorm/InstanceNorm with
``track_running_stats=True``), parametrizations and hook-based spectral norm (their state changes
inside the forward pass), dropout (a random forward), parameters that are not real floating point,
a module without trainable parameters, a forward that changes any buffer or differs between two
calls, an output of the wrong shape, and a forward whose Hessian-vector products torch.func cannot
take. Minimax's own layers (``nets/layers.py``: batch statistics only, spectral norm as buffers
advanced outside the differentiated function) satisfy all of these and may be reused.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Callable, Mapping

import torch
from torch import nn
from torch.func import grad

from minimax_cli.errors import ConfigError
from minimax_cli.oracle import jvp   # (torch.func.jvp without the FutureWarning torch gives about its own code)


def is_custom(spec) -> bool:
    """True when a network config node names its own class with ``_target_``."""
    return isinstance(spec, Mapping) and spec.get("_target_") not in (None, "")


def locate_class(target: str, key: str):
    module, _, attr = str(target).rpartition(".")
    if not module:
        raise ConfigError(f"{key}._target_ must be a dotted path module.Class (got {target!r})")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ConfigError(f"{key}._target_: cannot import {module!r} ({exc}); put its package on PYTHONPATH or run "
                          f"python -m minimax_cli from the directory that holds it") from None
    except AttributeError:
        raise ConfigError(f"{key}._target_: module {module!r} has no {attr!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)) and not callable(cls):
        raise ConfigError(f"{key}._target_: {target} is not a class")
    return cls


def constructor_kwargs(cls, spec: Mapping, key: str, own_keys=(), fill: Mapping | None = None) -> dict:
    """The keyword arguments for ``cls`` from the config node (see the module docstring)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {}
    for name, value in spec.items():
        if name == "_target_" or value is None:
            continue
        if name in own_keys and name not in params:
            continue
        if name not in params and not takes_any:
            allowed = ", ".join(n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            raise ConfigError(f"unknown key {key}.{name} for {spec['_target_']} (its arguments: {allowed or 'none'})")
        kwargs[name] = value
    for name, value in (fill or {}).items():
        if name in params and name not in kwargs:
            kwargs[name] = value
    return kwargs


def build_custom(spec: Mapping, key: str, seed: int, own_keys=(), fill: Mapping | None = None,
                 dtype: torch.dtype = torch.float32) -> nn.Module:
    """Construct the module named by ``spec['_target_']`` from the RNG stream ``seed`` (its own
    initialization, drawn with ``dtype`` as the default dtype) and refuse what torch.func cannot
    evaluate (``check_static``)."""
    target = spec["_target_"]
    cls = locate_class(target, key)
    kwargs = constructor_kwargs(cls, spec, key, own_keys, fill)
    saved = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_default_dtype(dtype)
        try:
            module = cls(**kwargs)
        except Exception as exc:  # noqa: BLE001  the user's constructor: its error as one line
            shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            raise ConfigError(f"{key}: {target}({shown}) failed: {type(exc).__name__}: {_one_line(exc)}") from None
        finally:
            torch.set_default_dtype(saved)
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{key}: {target}(...) returned a {type(module).__name__}, not a torch.nn.Module")
    check_static(module, key, target)
    return module


def check_static(module: nn.Module, key: str, target: str) -> None:
    """What the module's structure alone shows torch.func cannot evaluate as a pure function."""
    from torch.nn.modules.batchnorm import _NormBase
    from torch.nn.modules.dropout import _DropoutNd
    from torch.nn.utils import parametrize

    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"{key}: {target} has no trainable parameters (nothing for the player to move)")
    for name, p in params:
        if not p.is_floating_point():
            raise ConfigError(f"{key}: {target} parameter {name!r} is {p.dtype}; a player's parameters are one real "
                              f"floating-point vector")
    for name, m in module.named_modules():
        where = f"{target} layer {name!r} ({type(m).__name__})" if name else f"{target} ({type(m).__name__})"
        if isinstance(m, _NormBase) and m.track_running_stats:
            raise ConfigError(f"{key}: {where} updates running statistics in place (track_running_stats=True), which "
                              f"torch.func cannot do inside a pure function of the parameters; build it with "
                              f"track_running_stats=False (batch statistics, as minimax's own nets)")
        if isinstance(m, _DropoutNd) and m.p > 0:
            raise ConfigError(f"{key}: {where} makes the forward pass random; the game's losses must be deterministic "
                              f"functions of (x, y, batch) for HVPs and exact resume: remove it or set p=0")
        if parametrize.is_parametrized(m):
            raise ConfigError(f"{key}: {where} uses torch.nn.utils.parametrize (e.g. parametrizations.spectral_norm), "
                              f"whose state changes inside the forward pass; use minimax's spectral norm "
                              f"(minimax_cli/games/nets/layers.py) or none")
        if any(type(h).__name__ == "SpectralNorm" for h in m._forward_pre_hooks.values()):
            raise ConfigError(f"{key}: {where} uses torch.nn.utils.spectral_norm, whose power iteration updates its "
                              f"vectors inside the forward pass; use minimax's spectral norm "
                              f"(minimax_cli/games/nets/layers.py) or none")


def check_forward(net, flat: torch.Tensor, inputs: torch.Tensor, key: str, target: str,
                  output_ok: Callable[[tuple], bool], expected: str) -> None:
    """Evaluate the FlatModule ``net`` on ``inputs``: its output shape, that the forward pass changes no
    buffer and is deterministic, and that torch.func can take a Hessian-vector product through it."""
    before = {k: v.clone() for k, v in net.buffers().items()}
    try:
        with torch.no_grad():
            out = net(flat, inputs)
            again = net(flat, inputs)
    except Exception as exc:  # noqa: BLE001  the user's forward
        raise ConfigError(f"{key}: {target}'s forward pass failed on input of shape {tuple(inputs.shape)}: "
                          f"{type(exc).__name__}: {_one_line(exc)}") from None
    if not isinstance(out, torch.Tensor) or not output_ok(tuple(out.shape)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"{key}: {target} maps input {tuple(inputs.shape)} to {shape}; expected {expected}")
    changed = sorted(k for k, v in net.buffers().items() if not torch.equal(v, before[k]))
    if changed:
        raise ConfigError(f"{key}: {target}'s forward pass changes its buffer(s) {', '.join(changed)} in place; "
                          f"torch.func evaluates the network as a pure function of its parameters, so the forward "
                          f"must leave buffers alone")
    if not torch.equal(out, again):
        raise ConfigError(f"{key}: {target}'s forward pass gives different outputs for the same input (random?); "
                          f"the game's losses must be deterministic functions of (x, y, batch)")
    try:
        tangent = torch.ones_like(flat)
        product = jvp(grad(lambda p: net(p, inputs).square().mean()), (flat,), (tangent,))[1]
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{key}: torch.func cannot take a Hessian-vector product through {target} "
                          f"({type(exc).__name__}: {_one_line(exc)}); second-order algorithms need one (in-place "
                          f"updates of tensors, .item() or .numpy() inside forward are the usual causes)") from None
    if product.shape != flat.shape:
        raise ConfigError(f"{key}: {target}: unexpected Hessian-vector product shape {tuple(product.shape)}")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
