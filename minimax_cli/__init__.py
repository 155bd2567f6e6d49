"""minimax: an experiment runner for two-player sequential (min-max) game optimization."""

__version__ = "0.1.0"
