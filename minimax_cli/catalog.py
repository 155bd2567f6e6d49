"""What conf/ offers: where it is, its option groups and their one-line descriptions, and the
resolvers its yaml files use (``${mul:...}``, ``${runs_dir:...}``).

The lowest layer of configuration: setups.py, resume.py and config.py read it; it reads nothing
of minimax's own."""

from __future__ import annotations

import os
import re
from pathlib import Path

from omegaconf import OmegaConf

CONF_DIR = Path(os.environ.get("MINIMAX_CONF", Path(__file__).resolve().parent.parent / "conf"))
#: the groups every run chooses one option of
GROUPS = ("game", "algo", "hardware")


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

#: the resolvers above: they compute from the config itself. Any other (``oc.env``, ``oc.decode``,
#: Hydra's ``now``) reads outside it, so a config read from a run directory never resolves one
_CONTAINED = frozenset({"mul", "runs_dir"})
_RESOLVER = re.compile(r"\$\{\s*([^\s:}]+)\s*:")


def outside_resolvers(text: str) -> list[str]:
    """The resolvers of ``text``'s interpolations that read outside the config (``oc.env``, ...)."""
    return [name for name in _RESOLVER.findall(text) if name not in _CONTAINED]


def contained(node):
    """A config read as plain data (a dict from ``OmegaConf.to_container(resolve=False)``) with every
    string that interpolates from outside the config escaped, so resolving it yields that text."""
    if isinstance(node, dict):
        return {k: contained(v) for k, v in node.items()}
    if isinstance(node, list):
        return [contained(v) for v in node]
    if isinstance(node, str) and outside_resolvers(node):
        return node.replace("${", "\\${")
    return node


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
