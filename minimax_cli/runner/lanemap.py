"""vmap over lanes with flat arguments: the algorithm's step mapped over starts or seeds."""

from __future__ import annotations

from torch.func import vmap


class LaneMap:
    """vmap(fn) over lanes, handed flat tuples of tensors: the argument and result trees (the
    algorithm's state, info: dicts, tuples, lists of tensors) are flattened here by ``_flatten``,
    for a fraction of what torch's general pytree handling inside vmap costs (in_dims broadcast
    over nested dicts: ~0.08 ms of a 1.3 ms GDA step on 10,000 g3 starts)."""

    def __init__(self, fn, chunk_size: int | None = None):
        self.fn = fn
        self._mapped = vmap(self._flat, chunk_size=chunk_size)
        self._in_spec = self._out_spec = None

    def __call__(self, *trees):
        leaves = []
        self._in_spec = _flatten(trees, leaves)
        out = self._mapped(*leaves)   # sets _out_spec
        return _unflatten(self._out_spec, iter(out))

    def _flat(self, *leaves):
        out = []
        self._out_spec = _flatten(self.fn(*_unflatten(self._in_spec, iter(leaves))), out)
        return tuple(out)


def _flatten(tree, leaves: list):
    """The structure of a tree of dicts, tuples and lists (None: an empty node), its tensors
    appended to ``leaves`` in order."""
    if isinstance(tree, dict):
        return dict, tuple(tree), tuple(_flatten(v, leaves) for v in tree.values())
    if isinstance(tree, (tuple, list)):
        return type(tree), None, tuple(_flatten(v, leaves) for v in tree)
    if tree is None:
        return None
    leaves.append(tree)
    return ()


def _unflatten(spec, leaves):
    if spec is None:
        return None
    if not spec:
        return next(leaves)
    kind, keys, children = spec
    if kind is dict:
        return {k: _unflatten(c, leaves) for k, c in zip(keys, children)}
    return kind(_unflatten(c, leaves) for c in children)
