"""vmap over lanes with flat arguments: the algorithm's step mapped over starts or seeds."""

from __future__ import annotations

import torch
from torch.func import vmap

try:   # the pieces torch.func.vmap is made of (see LaneMap._direct)
    from torch._C._functorch import _add_batch_dim, _remove_batch_dim
    from torch._functorch.vmap import lazy_load_decompositions, vmap_increment_nesting
except ImportError:   # another torch: the public vmap alone
    _add_batch_dim = None


class LaneMap:
    """vmap(fn) over lanes, handed flat tuples of tensors: the argument and result trees (the
    algorithm's state, info: dicts, tuples, lists of tensors) are flattened here by ``flatten_tree``,
    for a fraction of what torch's general pytree handling inside vmap costs (in_dims broadcast
    over nested dicts: ~0.08 ms of a 1.3 ms GDA step on 10,000 g3 starts).

    Without chunks, flat leaves that all carry the lanes first go through vmap's own pieces (one
    nesting level, a batch dimension added to each input and removed from each output, as
    ``torch.func.vmap`` does), without its argument checks and pytree passes: 0.02 instead of
    0.08 ms a call, which is a tenth of a GDA step on 10,000 g3 starts. Anything else (chunks,
    another torch) takes ``torch.func.vmap``."""

    def __init__(self, fn, chunk_size: int | None = None):
        self.fn = fn
        self._mapped = vmap(self._flat, chunk_size=chunk_size)
        self._in_spec = self._out_spec = None
        self._direct = chunk_size is None and _add_batch_dim is not None
        if self._direct:
            lazy_load_decompositions()   # what vmap loads on its first call

    def __call__(self, *trees):
        leaves = []
        self._in_spec = flatten_tree(trees, leaves)
        out = self._direct_map(leaves) if self._direct and _lanes_first(leaves) else self._mapped(*leaves)
        return unflatten_tree(self._out_spec, iter(out))   # _flat set _out_spec

    def _direct_map(self, leaves):
        n = leaves[0].shape[0]
        with vmap_increment_nesting(n, "error") as level:
            out = self._flat(*[_add_batch_dim(a, 0, level) for a in leaves])
            for o in out:
                if not isinstance(o, torch.Tensor):
                    raise ValueError(f"vmap: the mapped step must only return tensors, got {type(o).__name__}")
            return tuple(_remove_batch_dim(o, level, n, 0) for o in out)

    def _flat(self, *leaves):
        out = []
        self._out_spec = flatten_tree(self.fn(*unflatten_tree(self._in_spec, iter(leaves))), out)
        return tuple(out)


def _lanes_first(leaves) -> bool:
    """Whether every leaf is a tensor with the same (lane) size along its first dimension."""
    if not leaves:
        return False
    first = leaves[0]
    if not isinstance(first, torch.Tensor) or first.dim() == 0:
        return False
    n = first.shape[0]
    return all(isinstance(a, torch.Tensor) and a.dim() > 0 and a.shape[0] == n for a in leaves)


def flatten_tree(tree, leaves: list):
    """The structure of a tree of dicts, tuples and lists (None: an empty node), its tensors
    appended to ``leaves`` in order."""
    if isinstance(tree, dict):
        return dict, tuple(tree), tuple(flatten_tree(v, leaves) for v in tree.values())
    if isinstance(tree, (tuple, list)):
        return type(tree), None, tuple(flatten_tree(v, leaves) for v in tree)
    if tree is None:
        return None
    leaves.append(tree)
    return ()


def leaves_as(spec, tree, leaves: list) -> None:
    """The tensors of ``tree`` appended to ``leaves`` in the order of ``spec``, the structure of a
    tree like it whose dicts may list their keys in another order (a step's output and its input)."""
    if spec is None:
        return
    if not spec:
        leaves.append(tree)
        return
    kind, keys, children = spec
    for child, sub in zip(children, (tree[k] for k in keys) if kind is dict else tree):
        leaves_as(child, sub, leaves)


def unflatten_tree(spec, leaves):
    if spec is None:
        return None
    if not spec:
        return next(leaves)
    kind, keys, children = spec
    if kind is dict:
        return {k: unflatten_tree(c, leaves) for k, c in zip(keys, children)}
    return kind(unflatten_tree(c, leaves) for c in children)
