"""minimax: an experiment runner for two-player sequential (min-max) game optimization."""

from minimax_cli.cpus import set_wait_policy

# before torch loads its OpenMP runtime: idle threads sleep instead of spinning (minimax_cli/cpus.py)
set_wait_policy()

__version__ = "0.1.0"
