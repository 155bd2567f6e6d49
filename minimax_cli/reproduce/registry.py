"""Every reproduction by its name (`minimax reproduce NAME`, `--list`); each lives in its own module."""

from __future__ import annotations

import importlib

from minimax_cli.reproduce.engine import Reproduction, ReproduceError

MODULES = {   # name: module of minimax_cli.reproduce
    "toy": "toy",
    "dirac": "dirac",
    "bilinear": "bilinear",
    "covariance": "covariance",
    "lead-quadratic": "lead_quadratic",
    "lead-games": "lead_games",
    "fr-mog": "fr_mog",
    "fr-mnist": "fr_mnist",
    "fr-precond": "fr_precond",
    "hessianfr-mog": "hessianfr_mog",
    "lead-8g": "lead_8g",
    "lead-cost": "lead_cost",
    "ls-mog": "ls_mog",
    "hessianfr-table1": "images",
    "lead-cifar": "images",
    "tau-images": "images",
    "tau-poly": "tau_poly",
    "tau-covariance": "tau_covariance",
    "tau-torus": "tau_torus",
    "tau-mog": "tau_mog",
}


def get(name: str) -> Reproduction:
    if name not in MODULES:
        raise ReproduceError(f"unknown reproduction {name!r}; `minimax reproduce --list` names them: "
                             f"{', '.join(MODULES)}")
    module = importlib.import_module(f"minimax_cli.reproduce.{MODULES[name]}")
    found = getattr(module, "REPRODUCTIONS", {}).get(name) or module.REPRODUCTION
    return found


def every() -> list[Reproduction]:
    return [get(name) for name in MODULES]
