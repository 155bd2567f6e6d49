"""minimax: an experiment runner for two-player sequential (min-max) game optimization."""

from minimax_cli.cpus import set_wait_policy, tune_allocator

# before torch loads its OpenMP runtime: idle threads sleep instead of spinning; freed tensor
# memory is kept for the next step's tensors (minimax_cli/cpus.py)
set_wait_policy()
tune_allocator()

__version__ = "0.1.0"
