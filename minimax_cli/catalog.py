"""What conf/ offers: where it is, its option groups and their one-line descriptions, and the
resolvers its yaml files use (``${mul:...}``, ``${runs_dir:...}``).

The lowest layer of configuration: setups.py, resume.py and config.py read it; it reads nothing
of minimax's own."""

from __future__ import annotations

import os
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
