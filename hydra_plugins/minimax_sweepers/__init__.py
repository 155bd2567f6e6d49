"""minimax's Hydra sweepers (a Hydra plugin package: Hydra finds sweepers only under hydra_plugins)."""
